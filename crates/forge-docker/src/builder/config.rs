//! The docker builder's configuration, with Packer's defaults and checks (builder/docker/config.go).

use std::collections::BTreeMap;

use forge_core::comm::{CommConfig, CommType};
use forge_core::plugin::PrepareInfo;
use forge_core::registry::{decode, PrepareErrors};
use forge_template::value::Value;

use crate::driver::RunSpec;

/// Packer's default `run_command`.
pub const DEFAULT_RUN_COMMAND: [&str; 6] =
    ["-d", "-i", "-t", "--entrypoint=/bin/sh", "--", "{{.Image}}"];

/// The Dockerfile instructions `changes` may hold (what `docker commit --change` accepts).
pub const CHANGE_INSTRUCTIONS: [&str; 9] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// What becomes of the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `commit = true`: an image.
    Commit,
    /// `export_path`: a tar of the filesystem.
    Export(String),
    /// `discard = true`: nothing.
    Discard,
}

/// The `build {}` block: the source image comes from a Dockerfile.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildConfig {
    /// The Dockerfile, absolute.
    pub dockerfile: std::path::PathBuf,
    /// The build context directory (`build_dir`, default the working directory).
    pub dir: std::path::PathBuf,
    /// `arguments`: build args.
    pub args: BTreeMap<String, String>,
    /// `pull`: pull newer base images first (default true).
    pub pull: bool,
}

impl BuildConfig {
    /// Packer's checks of the block (dockerfile_config.go); `None` when the block is empty.
    fn prepare(
        b: &forge_template::schema::plugins::DockerfileBootstrapConfig,
        errs: &mut Vec<String>,
    ) -> Option<BuildConfig> {
        let path = b.path.clone().unwrap_or_default();
        let dir = b.build_dir.clone().unwrap_or_default();
        if path.is_empty() && dir.is_empty() && !b.compress.unwrap_or(false) {
            return None;
        }
        let dir = if dir.is_empty() { ".".to_string() } else { dir };
        let abs = |p: &str| std::path::absolute(p).unwrap_or_else(|_| p.into());
        match std::fs::metadata(&path) {
            Err(e) => errs.push(format!("failed to stat file {path:?}: {e}")),
            Ok(m) if !m.is_file() => {
                errs.push(format!("dockerfile {path:?} is not a regular file"))
            }
            Ok(_) => {}
        }
        match std::fs::metadata(&dir) {
            Err(e) => errs.push(format!("failed to stat build directory {dir:?}: {e}")),
            Ok(m) if !m.is_dir() => {
                errs.push(format!("specified build_dir {dir:?} is not a directory"))
            }
            Ok(_) => {}
        }
        Some(BuildConfig {
            dockerfile: abs(&path),
            dir: abs(&dir),
            args: b.arguments.clone().unwrap_or_default(),
            pull: b.pull.unwrap_or(true),
        })
    }
}

/// The typed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The decoded arguments.
    pub args: forge_template::schema::plugins::DockerBuilder,
    /// What to do with the container.
    pub output: Output,
    /// `pull`: true unless the key is given.
    pub pull: bool,
    /// `run_command` with Packer's default.
    pub run_command: Vec<String>,
    /// `container_dir`, default `/packer-files`.
    pub container_dir: String,
    /// `communicator`, default `docker` (`dockerWindowsContainer` with `windows_container`).
    pub comm: CommConfig,
    /// `fix_upload_owner`, default true.
    pub fix_upload_owner: bool,
    /// The `build {}` block, when the source image is built from a Dockerfile.
    pub build: Option<BuildConfig>,
}

impl Config {
    /// Decodes and checks, returning every problem at once.
    pub fn prepare(v: &Value, info: &PrepareInfo) -> Result<Config, PrepareErrors> {
        let args: forge_template::schema::plugins::DockerBuilder = decode(v)?;
        let mut errs = Vec::new();
        let windows = args.windows_container.unwrap_or(false);
        let default = if windows {
            CommType::DockerWindows
        } else {
            CommType::Docker
        };
        let comm = CommConfig::prepare_into(&args.communicator, default, info, &mut errs);
        if windows {
            errs.push(
                "windows_container: forge's docker builder runs Linux containers only".into(),
            );
        }
        let build = args
            .build
            .as_ref()
            .and_then(|b| BuildConfig::prepare(b, &mut errs));
        let image = args.image.clone().unwrap_or_default();
        let mut pull = args.pull.unwrap_or(true);
        if build.is_some() {
            if !image.is_empty() {
                errs.push("`image` cannot be specified with a build config".into());
            }
            if args.pull == Some(true) {
                info.warn(
                    "when running a bootstrap build, the `pull` option is ignored and is replaced by `build.pull` (true by default)",
                );
            }
            pull = false;
        } else if image.is_empty() {
            errs.push("Image must be specified".into());
        }
        let commit = args.commit.unwrap_or(false);
        let discard = args.discard.unwrap_or(false);
        let export = args.export_path.clone().unwrap_or_default();
        if (!export.is_empty() && commit) || (!export.is_empty() && discard) || (commit && discard)
        {
            errs.push("Cannot specify more than one of commit, discard, and export_path".into());
        }
        if export.is_empty() && !commit && !discard {
            errs.push(
                "No instructions given for handling the artifact; expected commit, discard, or export_path"
                    .into(),
            );
        }
        if !export.is_empty() && std::path::Path::new(&export).is_dir() {
            errs.push("export_path must be a file, not a directory".into());
        }
        if args.ecr_login.unwrap_or(false) {
            if args.login_server.as_deref().unwrap_or("").is_empty() {
                errs.push("ECR login requires login server to be provided.".into());
            }
            errs.push("ecr_login: not supported yet; use login with an ECR token".into());
        }
        for c in args.changes.iter().flatten() {
            let word = c.split_whitespace().next().unwrap_or("").to_uppercase();
            if !CHANGE_INSTRUCTIONS.contains(&word.as_str()) {
                errs.push(format!(
                    "changes: {c:?}: {word} is not a valid change command (allowed: {})",
                    CHANGE_INSTRUCTIONS.join(", ")
                ));
            }
        }
        let run_command: Vec<String> = match &args.run_command {
            Some(r) if !r.is_empty() => r.clone(),
            _ => DEFAULT_RUN_COMMAND.iter().map(|s| s.to_string()).collect(),
        };
        if let Err(e) = parse_run_command(&run_command, "image") {
            errs.push(e);
        }
        let output = if commit {
            Output::Commit
        } else if discard {
            Output::Discard
        } else {
            Output::Export(export)
        };
        let container_dir = args
            .container_dir
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/packer-files".into());
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Config {
            pull,
            build,
            fix_upload_owner: args.fix_upload_owner.unwrap_or(true),
            output,
            run_command,
            container_dir,
            comm,
            args,
        })
    }

    /// `image`.
    pub fn image(&self) -> &str {
        self.args.image.as_deref().unwrap_or("")
    }

    /// `volumes` with `~/` expanded.
    pub fn volumes(&self) -> BTreeMap<String, String> {
        let home = std::env::var("HOME").unwrap_or_default();
        self.args
            .volumes
            .iter()
            .flatten()
            .map(|(h, c)| match h.strip_prefix("~/") {
                Some(rest) => (format!("{home}/{rest}"), c.clone()),
                None => (h.clone(), c.clone()),
            })
            .collect()
    }
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|s| !s.is_empty())
}

/// The `docker run` flags of `run_command` as a [`RunSpec`] (`{{.Image}}` replaced by `image`).
/// forge talks to the Engine API, so it understands the flags a build needs, and says which it
/// does not.
pub fn parse_run_command(argv: &[String], image: &str) -> Result<RunSpec, String> {
    let mut spec = RunSpec::default();
    let args: Vec<String> = argv
        .iter()
        .map(|a| {
            a.replace("{{.Image}}", image)
                .replace("{{ .Image }}", image)
        })
        .collect();
    let mut i = 0;
    let mut rest: Vec<String> = Vec::new();
    let unsupported = |f: &str| {
        format!(
            "run_command: forge starts containers through the Docker Engine API and does not understand the docker run flag {f:?}; supported: -d, -i, -t, --rm, --entrypoint, -u/--user, -e/--env, -v/--volume, --name, --privileged, --cap-add, --cap-drop, --device, --tmpfs, --runtime, --platform"
        )
    };
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            rest = args[i + 1..].to_vec();
            break;
        }
        if !a.starts_with('-') || a == "-" {
            rest = args[i..].to_vec();
            break;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let takes_value = [
            "--entrypoint",
            "-u",
            "--user",
            "-e",
            "--env",
            "-v",
            "--volume",
            "--name",
            "--cap-add",
            "--cap-drop",
            "--device",
            "--tmpfs",
            "--runtime",
            "--platform",
        ]
        .contains(&flag.as_str());
        let value = if takes_value {
            match inline {
                Some(v) => Some(v),
                None => {
                    i += 1;
                    Some(
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| format!("run_command: {flag} needs a value"))?,
                    )
                }
            }
        } else {
            None
        };
        let v = value.unwrap_or_default();
        match flag.as_str() {
            "--entrypoint" => spec.entrypoint = vec![v],
            "-u" | "--user" => spec.user = Some(v),
            "-e" | "--env" => spec.env.push(v),
            "-v" | "--volume" => spec.binds.push(v),
            "--name" => spec.name = v,
            "--cap-add" => spec.cap_add.push(v),
            "--cap-drop" => spec.cap_drop.push(v),
            "--device" => spec.devices.push(v),
            "--tmpfs" => spec.tmpfs.push(v),
            "--runtime" => spec.runtime = Some(v),
            "--platform" => spec.platform = Some(v),
            "--privileged" => spec.privileged = true,
            "--detach" | "--rm" => {}
            "--interactive" => spec.open_stdin = true,
            "--tty" => spec.tty = true,
            f if !f.starts_with("--") => {
                // Short flags, possibly bundled (`-dit`).
                for ch in f[1..].chars() {
                    match ch {
                        'd' => {}
                        'i' => spec.open_stdin = true,
                        't' => spec.tty = true,
                        _ => return Err(unsupported(&format!("-{ch}"))),
                    }
                }
            }
            f => return Err(unsupported(f)),
        }
        i += 1;
    }
    let Some((img, cmd)) = rest.split_first() else {
        return Err("run_command: no image given (end it with \"{{.Image}}\")".into());
    };
    spec.image = img.clone();
    spec.cmd = cmd.to_vec();
    Ok(spec)
}

/// The container to start: `run_command` plus the builder's own flags.
pub fn run_spec(c: &Config, name: &str, tmpdir: &str, run_id: &str) -> Result<RunSpec, String> {
    let mut s = parse_run_command(&c.run_command, c.image())?;
    if s.name.is_empty() {
        s.name = name.to_string();
    }
    let mut binds: Vec<String> = c
        .volumes()
        .into_iter()
        .map(|(h, ct)| format!("{h}:{ct}"))
        .collect();
    binds.push(format!("{tmpdir}:{}", c.container_dir));
    binds.append(&mut s.binds);
    s.binds = binds;
    let a = &c.args;
    s.privileged |= a.privileged.unwrap_or(false);
    s.cap_add.extend(a.cap_add.iter().flatten().cloned());
    s.cap_drop.extend(a.cap_drop.iter().flatten().cloned());
    s.devices.extend(a.device.iter().flatten().cloned());
    s.tmpfs.extend(a.tmpfs.iter().flatten().cloned());
    if let Some(r) = nonempty(&a.runtime) {
        s.runtime = Some(r);
    }
    if let Some(p) = nonempty(&a.platform) {
        s.platform = Some(p);
    }
    s.labels
        .push((crate::driver::RUN_LABEL.into(), run_id.to_string()));
    Ok(s)
}

/// `docker run` as Packer prints it (`Run command: docker run -v ... -- image`).
pub fn run_command_line(c: &Config, tmpdir: &str) -> String {
    let mut parts = vec!["docker".to_string(), "run".to_string()];
    let a = &c.args;
    for d in a.device.iter().flatten() {
        parts.push(format!("--device={d}"));
    }
    for x in a.cap_add.iter().flatten() {
        parts.push(format!("--cap-add={x}"));
    }
    for x in a.cap_drop.iter().flatten() {
        parts.push(format!("--cap-drop={x}"));
    }
    if a.privileged.unwrap_or(false) {
        parts.push("--privileged".into());
    }
    if let Some(r) = nonempty(&a.runtime) {
        parts.push(format!("--runtime={r}"));
    }
    if let Some(p) = nonempty(&a.platform) {
        parts.push(format!("--platform={p}"));
    }
    for t in a.tmpfs.iter().flatten() {
        parts.push("--tmpfs".into());
        parts.push(t.clone());
    }
    for (h, ct) in c.volumes() {
        parts.push("-v".into());
        parts.push(format!("{h}:{ct}"));
    }
    parts.push("-v".into());
    parts.push(format!("{tmpdir}:{}", c.container_dir));
    parts.extend(
        c.run_command
            .iter()
            .map(|s| s.replace("{{.Image}}", c.image())),
    );
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_run_command() {
        let s = parse_run_command(&v(&DEFAULT_RUN_COMMAND), "img").unwrap();
        assert_eq!(s.image, "img");
        assert_eq!(s.entrypoint, ["/bin/sh"]);
        assert!(s.tty && s.open_stdin);
        assert!(s.cmd.is_empty());
    }

    #[test]
    fn custom_run_command() {
        let s = parse_run_command(
            &v(&[
                "-dit",
                "--user",
                "nobody",
                "-e=A=1",
                "{{.Image}}",
                "sleep",
                "9",
            ]),
            "img",
        );
        // `-e=A=1` is not how docker spells a short flag's value.
        assert!(s.is_err());
        let s = parse_run_command(
            &v(&[
                "-dit",
                "--user",
                "nobody",
                "--env=A=1",
                "{{.Image}}",
                "sleep",
                "9",
            ]),
            "img",
        )
        .unwrap();
        assert_eq!(s.user.as_deref(), Some("nobody"));
        assert_eq!(s.env, ["A=1"]);
        assert_eq!(s.cmd, ["sleep", "9"]);
        assert!(parse_run_command(&v(&["--network", "host", "x"]), "i")
            .unwrap_err()
            .contains("--network"));
    }
}
