//! StepSecurityGroup: with no security group configured, a temporary one that lets the
//! communicator's port in from `temporary_security_group_source_cidrs`; deleted at cleanup
//! once the instance is gone.

use async_trait::async_trait;
use forge_core::journal::Resource;
use forge_core::plugin::BuildCtx;
use forge_core::runner::{Outcome, Step};
use forge_core::{Error, Result};

use super::State;
use crate::journal;

pub(super) struct StepSecurityGroup {
    pub record: Option<Resource>,
}

/// The port the communicator connects to on the instance (22 without one).
fn comm_port(st: &State) -> u16 {
    st.config.comm.port().unwrap_or(22)
}

/// One GET with the system's trust roots: the status (any) and the body as text, or the
/// transport failure in Go's form (`Get "URL": ...`). A loopback URL never goes through a
/// proxy.
fn http_get(url: &str) -> std::result::Result<(u16, String), String> {
    use std::time::Duration;
    let fail = |e: ureq::Error| format!("Get {url:?}: {e}");
    let loopback = url
        .parse::<ureq::http::Uri>()
        .ok()
        .and_then(|u| u.host().map(|h| h.trim_matches(['[', ']']).to_string()))
        .is_some_and(|h| {
            h.eq_ignore_ascii_case("localhost")
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(Duration::from_secs(60)))
        .user_agent(concat!("forge/", env!("CARGO_PKG_VERSION")));
    if loopback {
        cfg = cfg.proxy(None);
    }
    let agent: ureq::Agent = cfg.build().into();
    let mut resp = agent.get(url).call().map_err(fail)?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_vec()
        .map_err(fail)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// This host's public address as a /32, from `https://checkip.amazonaws.com` (as Packer asks;
/// `FORGE_CHECKIP_URL` points elsewhere).
async fn public_ip_cidr() -> Result<String> {
    let url = std::env::var("FORGE_CHECKIP_URL")
        .unwrap_or_else(|_| "https://checkip.amazonaws.com".into());
    let u = url.clone();
    let r = tokio::task::spawn_blocking(move || http_get(&u))
        .await
        .map_err(|e| Error::msg(e.to_string()))?;
    let ip = match r {
        Ok((200, body)) => body.trim().to_string(),
        Ok((status, _)) => {
            return Err(Error::msg(format!(
                "Error finding this host's public IP at {url}: status {status}"
            )))
        }
        Err(e) => {
            return Err(Error::msg(format!(
                "Error finding this host's public IP at {url}: {e}"
            )))
        }
    };
    ip.parse::<std::net::Ipv4Addr>().map_err(|_| {
        Error::msg(format!(
            "Error finding this host's public IP: {url} answered {ip:?}"
        ))
    })?;
    Ok(format!("{ip}/32"))
}

#[async_trait]
impl Step<State> for StepSecurityGroup {
    fn name(&self) -> &'static str {
        "StepSecurityGroup"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        if !c.security_group_ids.is_empty() {
            ctx.ui.message(&format!(
                "Using specified security groups: {}",
                c.security_group_ids.join(", ")
            ));
            st.security_groups = c.security_group_ids.clone();
            return Ok(());
        }
        let port = comm_port(st);
        let cidrs = if c.temp_sg_public_ip {
            vec![public_ip_cidr().await?]
        } else {
            c.temp_sg_cidrs.clone()
        };
        let name = format!("packer_{}", uuid::Uuid::new_v4());
        let vpc = match (c.vpc_id.as_str(), c.subnets.first()) {
            ("", Some(subnet)) => st.ec2.subnet_vpc(subnet).await?,
            (v, _) => v.to_string(),
        };
        ctx.ui.say(&format!(
            "Creating temporary security group for this instance: {name}"
        ));
        let mut rec = journal::intend(
            ctx,
            &c.access,
            journal::SECURITY_GROUP,
            &c.access.region,
            &name,
        )?;
        let id = match st
            .ec2
            .create_security_group(
                &name,
                "Temporary group for Packer",
                &vpc,
                &State::tagged(ctx, &Default::default()),
            )
            .await
        {
            Ok(id) => id,
            Err(e) => {
                journal::gone(ctx, &rec);
                return Err(Error::msg(format!(
                    "Error creating temporary security group: {e}"
                )));
            }
        };
        journal::created(ctx, &mut rec, &id);
        self.record = Some(rec);
        ctx.ui.say(&format!(
            "Authorizing access to port {port} from [{}] in the temporary security groups...",
            cidrs.join(" ")
        ));
        st.ec2
            .authorize_ingress(&id, port, &cidrs)
            .await
            .map_err(|e| Error::msg(format!("Error authorizing temporary security group: {e}")))?;
        st.security_groups = vec![id];
        Ok(())
    }

    async fn cleanup(&mut self, ctx: &BuildCtx, st: &mut State, _o: Outcome) -> Result<()> {
        let Some(rec) = journal::to_clean_up(ctx, &mut self.record) else {
            return Ok(());
        };
        ctx.ui.say("Deleting temporary security group...");
        match journal::delete_security_group(st.ec2.as_ref(), &rec.id).await {
            Ok(()) => journal::gone(ctx, &rec),
            Err(e) => ctx.ui.error(&format!(
                "Error cleaning up security group. Please delete the group manually: err: {e}; security group ID: {}",
                rec.id
            )),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{ops_only, run_tag, Fail, Fx};
    use serde_json::json;

    fn step() -> Box<dyn Step<State>> {
        Box::new(StepSecurityGroup { record: None })
    }

    #[tokio::test]
    async fn a_temporary_group_lets_the_communicator_port_in_and_goes_at_cleanup() {
        let fx = Fx::new();
        let extra = json!({"communicator": "ssh", "ssh_username": "u", "ssh_port": 2222,
            "temporary_security_group_source_cidrs": ["198.51.100.0/24"]});
        let mut st = fx.state(fx.config(extra).await).await;
        let mut s = StepSecurityGroup { record: None };
        s.run(&fx.ctx, &mut st).await.unwrap();
        let [id] = st.security_groups.clone().try_into().unwrap();
        assert_eq!(
            fx.cloud.ingress_of(&id),
            [(2222, vec!["198.51.100.0/24".to_string()])]
        );
        let (k, v) = run_tag();
        assert_eq!(fx.cloud.tags_of(&id).unwrap().get(&k), Some(&v));
        assert_eq!(
            ops_only(&fx.cloud),
            ["CreateSecurityGroup", "AuthorizeSecurityGroupIngress"]
        );
        s.cleanup(&fx.ctx, &mut st, Default::default())
            .await
            .unwrap();
        assert_eq!(
            fx.cloud.ops().last().unwrap(),
            &format!("DeleteSecurityGroup {id}")
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn the_subnets_vpc_holds_the_group() {
        let fx = Fx::new();
        fx.cloud.add_subnet("subnet-a", "vpc-a");
        let mut st = fx
            .state(fx.config(json!({"subnet_id": "subnet-a"})).await)
            .await;
        step().run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(
            ops_only(&fx.cloud),
            [
                "DescribeSubnets",
                "CreateSecurityGroup",
                "AuthorizeSecurityGroupIngress"
            ]
        );
        // communicator "none" still opens port 22, as Packer does.
        assert_eq!(
            fx.cloud.ingress_of(&st.security_groups[0]),
            [(22, vec!["0.0.0.0/0".to_string()])]
        );
    }

    #[tokio::test]
    async fn configured_groups_are_used_and_never_deleted() {
        let fx = Fx::new();
        let extra = json!({"security_group_ids": ["sg-mine", "sg-other"]});
        let mut st = fx.state(fx.config(extra).await).await;
        let r = fx.run(&mut st, vec![step(), Box::new(Fail)]).await;
        assert!(r.is_err());
        assert_eq!(st.security_groups, ["sg-mine", "sg-other"]);
        assert_eq!(ops_only(&fx.cloud), Vec::<&str>::new());
    }

    #[tokio::test]
    async fn a_refused_group_fails_the_step_and_deletes_nothing() {
        let fx = Fx::new();
        fx.cloud
            .fail("CreateSecurityGroup", "VPCIdNotSpecified", None);
        let mut st = fx.state(fx.config(json!({})).await).await;
        let r = fx.run(&mut st, vec![step()]).await;
        assert_eq!(
            r.unwrap_err().to_string(),
            "Error creating temporary security group: EC2 CreateSecurityGroup: VPCIdNotSpecified: injected by the test"
        );
        assert_eq!(ops_only(&fx.cloud), ["CreateSecurityGroup"]);
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_group_made_before_a_failed_authorization_is_deleted() {
        let fx = Fx::new();
        fx.cloud.fail(
            "AuthorizeSecurityGroupIngress",
            "InvalidPermission.Malformed",
            None,
        );
        let mut st = fx.state(fx.config(json!({})).await).await;
        let r = fx.run(&mut st, vec![step()]).await;
        assert_eq!(
            r.unwrap_err().to_string(),
            "Error authorizing temporary security group: EC2 AuthorizeSecurityGroupIngress: InvalidPermission.Malformed: injected by the test"
        );
        assert_eq!(
            ops_only(&fx.cloud),
            [
                "CreateSecurityGroup",
                "AuthorizeSecurityGroupIngress",
                "DeleteSecurityGroup"
            ]
        );
        assert_eq!(fx.cloud.leftovers(), Vec::<String>::new());
        assert_eq!(fx.journaled(), Vec::<String>::new());
    }
}
