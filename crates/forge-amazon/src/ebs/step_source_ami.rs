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
