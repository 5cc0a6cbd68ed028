//! The docker post-processors, on the Engine API: `docker-import` (a builder's export tar or an
//! artifice file into an image), `docker-tag`, `docker-push` and `docker-save`.

pub mod artifact;
pub mod config;
pub mod import;
pub mod push;
pub mod save;
pub mod tag;

use std::future::Future;

use bollard::Docker;
use forge_core::plugin::BuildCtx;
use forge_core::{Error, Result};

/// Builder id of the docker builder (its export artifact).
pub const DOCKER_BUILDER_ID: &str = "packer.docker";
/// Builder id of the artifice post-processor.
pub const ARTIFICE_ID: &str = "packer.post-processor.artifice";
/// Builder id of docker-import's artifact (also the docker builder's commit artifact and
/// docker-push's).
pub const IMPORT_ID: &str = "packer.post-processor.docker-import";
/// Builder id of docker-tag's artifact.
pub const TAG_ID: &str = "packer.post-processor.docker-tag";

/// Connects to the engine (`DOCKER_HOST`, else the local socket).
pub(crate) fn connect() -> Result<Docker> {
    Docker::connect_with_defaults()
        .map_err(|e| Error::msg(format!("Error connecting to the Docker engine: {e}")))
}

/// Runs `fut` unless the run is cancelled first.
pub(crate) async fn cancellable<T>(
    ctx: &BuildCtx,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = fut => r,
        _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
    }
}

/// The engine's message without bollard's wrapping.
pub(crate) fn engine_error(e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError { message, .. } => message.clone(),
        E::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// Splits `name[:tag]` into the repository and the tag (a `:` before the last `/` is a
/// registry port); a digest reference stays whole.
pub(crate) fn split_reference(r: &str) -> (&str, Option<&str>) {
    if r.contains('@') {
        return (r, None);
    }
    let slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[slash..].rfind(':') {
        Some(i) => (&r[..slash + i], Some(&r[slash + i + 1..])),
        None => (r, None),
    }
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_at_the_tag_colon_only() {
        assert_eq!(split_reference("a/b:1"), ("a/b", Some("1")));
        assert_eq!(
            split_reference("127.0.0.1:5000/b"),
            ("127.0.0.1:5000/b", None)
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/b:x"),
            ("127.0.0.1:5000/b", Some("x"))
        );
        assert_eq!(split_reference("sha256:abc"), ("sha256", Some("abc")));
        assert_eq!(split_reference("b@sha256:abc"), ("b@sha256:abc", None));
    }
}
