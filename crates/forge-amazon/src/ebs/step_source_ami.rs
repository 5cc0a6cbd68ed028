//! StepSourceAMIInfo: resolves `source_ami` or `source_ami_filter` to one image.

use async_trait::async_trait;
use forge_core::plugin::BuildCtx;
use forge_core::runner::Step;
use forge_core::{Error, Result};

use super::State;
use crate::ec2::{Ec2, Image};

/// The image `source_ami` or the filter names (Packer's rules: owners required, several
/// matches need most_recent, which picks the newest creation date).
pub async fn find_image(
    ec2: &dyn Ec2,
    id: &str,
    filter: Option<&super::AmiFilter>,
) -> Result<Image> {
    let ids: Vec<String> = (!id.is_empty())
        .then(|| id.to_string())
        .into_iter()
        .collect();
    let (owners, filters, most_recent) = match filter {
        Some(f) => (
            f.owners.clone(),
            f.filters
                .iter()
                .map(|(k, v)| (k.clone(), vec![v.clone()]))
                .collect::<Vec<_>>(),
            f.most_recent,
        ),
        None => (Vec::new(), Vec::new(), false),
    };
    let mut images = ec2
        .describe_images(&ids, &owners, &filters)
        .await
        .map_err(|e| Error::msg(format!("Error querying AMI: {e}")))?;
    if images.is_empty() {
        let what = if ids.is_empty() {
            format!(
                "filters {} and owners {:?}",
                filters
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.join(",")))
                    .collect::<Vec<_>>()
                    .join(" "),
                owners
            )
        } else {
            format!("id {id}")
        };
        return Err(Error::msg(format!(
            "No AMI was found matching {what}: check the filter values, the owners, and the region ({})",
            ec2.region()
        )));
    }
    if images.len() > 1 && !most_recent {
        return Err(Error::msg(
            "Your query returned more than one result. Please try a more specific search, or set most_recent to true.",
        ));
    }
    images.sort_by(|a, b| b.creation_date.cmp(&a.creation_date));
    Ok(images.swap_remove(0))
}

pub(super) struct StepSourceAmiInfo;

#[async_trait]
impl Step<State> for StepSourceAmiInfo {
    fn name(&self) -> &'static str {
        "StepSourceAMIInfo"
    }
    async fn run(&mut self, ctx: &BuildCtx, st: &mut State) -> Result<()> {
        let c = st.config.clone();
        let image =
            find_image(st.ec2.as_ref(), &c.source_ami, c.source_ami_filter.as_ref()).await?;
        ctx.ui.message(&format!("Found Image ID: {}", image.id));
        let g = &mut st.generated;
        g.insert("SourceAMI".into(), image.id.clone());
        g.insert("SourceAMIName".into(), image.name.clone());
        g.insert("SourceAMICreationDate".into(), image.creation_date.clone());
        g.insert("SourceAMIOwner".into(), image.owner_id.clone());
        g.insert("SourceAMIOwnerName".into(), image.owner_alias.clone());
        g.insert("BuildRegion".into(), c.access.region.clone());
        st.source = Some(image);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::fixture::{Fx, REGION};
    use serde_json::json;

    fn filter(most_recent: bool) -> serde_json::Value {
        json!({"source_ami": "", "source_ami_filter": {
            "filters": {"name": "ubuntu-*"}, "owners": ["amazon"], "most_recent": most_recent}})
    }

    #[tokio::test]
    async fn the_image_and_its_facts_are_found() {
        let fx = Fx::new();
        let mut st = fx.state(fx.config(json!({})).await).await;
        StepSourceAmiInfo.run(&fx.ctx, &mut st).await.unwrap();
        assert_eq!(st.source.as_ref().unwrap().id, fx.source);
        assert_eq!(st.generated["SourceAMIName"], "ubuntu-jammy");
        assert_eq!(st.generated["SourceAMIOwnerName"], "amazon");
        assert_eq!(st.generated["BuildRegion"], REGION);
    }

    #[tokio::test]
    async fn a_filter_matching_several_needs_most_recent() {
        let fx = Fx::new();
        fx.cloud.add_image(REGION, "ubuntu-noble", "amazon");
        let mut st = fx.state(fx.config(filter(false)).await).await;
        let e = StepSourceAmiInfo.run(&fx.ctx, &mut st).await.unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Your query returned more than one result"));
        let mut st = fx.state(fx.config(filter(true)).await).await;
        StepSourceAmiInfo.run(&fx.ctx, &mut st).await.unwrap();
    }

    #[tokio::test]
    async fn nothing_found_says_what_was_looked_for() {
        let fx = Fx::new();
        let mut st = fx
            .state(fx.config(json!({"source_ami": "ami-missing"})).await)
            .await;
        let e = StepSourceAmiInfo.run(&fx.ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error querying AMI: EC2 DescribeImages: InvalidAMIID.NotFound: The image id '[ami-missing]' does not exist"
        );
        let extra = json!({"source_ami": "", "source_ami_filter": {
            "filters": {"name": "debian-*"}, "owners": ["amazon"]}});
        let mut st = fx.state(fx.config(extra).await).await;
        let e = StepSourceAmiInfo.run(&fx.ctx, &mut st).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "No AMI was found matching filters name=debian-* and owners [\"amazon\"]: check the filter values, the owners, and the region (us-east-1)"
        );
    }
}
