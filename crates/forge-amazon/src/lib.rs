//! Amazon EC2: the `amazon-ebs` builder, the `amazon-ami` data source and the
//! `amazon-ami-management` post-processor, on aws-sdk-ec2, with one rate limiter per account
//! and region and every resource tagged with the run's id for `forge cleanup`; and the AWS
//! Secrets Manager client of the `aws_secretsmanager*` template functions, on
//! aws-sdk-secretsmanager.

pub mod access;
pub mod ami_management;
mod blocking;
pub mod datasource;
pub mod ebs;
pub mod ec2;
#[cfg(test)]
pub(crate) mod fake;
pub mod journal;
pub mod limiter;
pub mod secretsmanager;
pub mod wait;

use std::sync::Arc;

/// The `amazon-ebs` builder (packer-plugin-amazon), the `amazon-ami` data source and the
/// `amazon-ami-management` post-processor, with the EC2 reclaimer and the AWS Secrets Manager
/// client of the `aws_secretsmanager*` template functions.
pub fn plugins() -> forge_core::plugin::PluginSet {
    use forge_core::plugin::{PluginDecl, PluginSet};
    use forge_template::schema::{forge, plugins};
    PluginSet::of([
        PluginDecl::builder::<plugins::AmazonEbsBuilder>("amazon-ebs", ebs::factory)
            .from_plugin("github.com/hashicorp/amazon"),
        PluginDecl::post_processor::<forge::AmazonAmiManagementPostProcessor>(
            "amazon-ami-management",
            ami_management::factory,
        ),
        PluginDecl::data_source::<forge::AmazonAmiDataSource>("amazon-ami", datasource::execute),
    ])
    .reclaimer(Arc::new(journal::AwsReclaimer))
    .secrets_manager(Arc::new(secretsmanager::SdkSecretsManager))
}
