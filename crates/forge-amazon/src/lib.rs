//! Amazon EC2: the `amazon-ebs` builder, the `amazon-ami` data source and the
//! `amazon-ami-management` post-processor, on aws-sdk-ec2, with one rate limiter per account
//! and region and every resource tagged with the run's id for `forge cleanup`.

pub mod access;
pub mod ami_management;
pub mod datasource;
pub mod ebs;
pub mod ec2;
pub mod journal;
pub mod limiter;
pub mod wait;

use std::sync::Arc;

/// Registers the builder, the post-processor and the reclaimer.
pub fn register(r: &mut forge_core::Registry) {
    r.builders.insert("amazon-ebs", ebs::factory);
    r.post_processors
        .insert("amazon-ami-management", ami_management::factory);
    r.reclaimers.push(Arc::new(journal::AwsReclaimer));
}

/// Registers the `amazon-ami` data source with the template loader.
pub fn register_datasources() {
    forge_template::datasource::register_executor("amazon-ami", datasource::execute);
}
