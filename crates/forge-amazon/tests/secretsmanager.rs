//! The client of the `aws_secretsmanager*` template functions (aws-sdk-secretsmanager) against
//! a real server: moto in server mode (forge-testkit's), started on a free loopback port and
//! stopped afterwards. moto runs with IAM authentication on after the setup calls, so it checks
//! the SDK's signatures and rejects unknown keys. The client reads its settings from the process
//! environment, as the SDK does: this is the only test in this binary, so setting it is safe.
//!
//! Needs `python3` with moto: `pip install 'moto[server]'` (scripts/test.sh installs it). Without
//! it this test fails; it never skips.
#![allow(clippy::unwrap_used)] // a test may unwrap; its helpers too

use std::path::PathBuf;
use std::process::Command;

use std::sync::Arc;

use indexmap::IndexMap;

use forge_amazon::secretsmanager::SdkSecretsManager;
use forge_template::legacy::{render, InterpContext, SecretSource};
use forge_template::secrets::Secrets;
use forge_template::value::Value;
use forge_testkit::moto::{self, Moto};

/// The setup calls moto lets through unauthenticated; every later call is checked.
const SETUP_CALLS: usize = 8;

/// Creates an IAM user with an access key and the test secrets, with boto3 (a dependency of
/// moto), and prints the key as `id secret`.
const SETUP: &str = r#"
import json, sys, boto3
ep = "http://127.0.0.1:" + sys.argv[1]
kw = dict(endpoint_url=ep, region_name="us-east-1",
          aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)
sm = boto3.client("secretsmanager", **kw)
iam.create_user(UserName="forge")
iam.put_user_policy(UserName="forge", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17",
     "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="forge")["AccessKey"]
sm.create_secret(Name="forge/db", SecretString=json.dumps({"user": "admin", "password": "hunter2"}))
sm.create_secret(Name="forge/token", SecretString=json.dumps({"token": "t0k3n"}))
sm.create_secret(Name="forge/plain", SecretString="just text")
sm.create_secret(Name="forge/port", SecretString='{"port": 5432}')
sm.create_secret(Name="forge/binary", SecretBinary=b"\x00\x01")
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;

fn setup(port: u16) -> (String, String) {
    let out = Command::new(moto::python())
        .args(["-c", SETUP, &port.to_string()])
        .output()
        .expect("running the boto3 setup");
    assert!(
        out.status.success(),
        "boto3 setup against moto failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (id, secret) = text.split_once(' ').expect("setup prints `id secret`");
    (id.to_string(), secret.to_string())
}

fn temp_home(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("forge-aws-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".aws")).expect("temp home");
    dir
}

/// Every AWS variable the SDK or forge reads, cleared before each setting.
const AWS_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_CA_BUNDLE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

/// Makes `vars` the whole AWS environment (and `HOME`); instance metadata stays off, as no
/// EC2 instance is around to answer.
fn set_env(vars: &[(&str, &str)]) {
    for k in AWS_VARS {
        std::env::remove_var(k);
    }
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
}

#[test]
fn secrets_manager_against_moto() {
    let server = Moto::start(Some(SETUP_CALLS));
    let port = server.port();
    let (key_id, key_secret) = setup(port);
    let endpoint = format!("http://127.0.0.1:{port}");
    let empty_home = temp_home("empty");
    let home = empty_home.to_str().unwrap().to_string();
    let client = Arc::new(SdkSecretsManager);
    let sm = Secrets::default().with_secrets_manager(Some(client.clone()));

    let keys = [
        ("HOME", home.as_str()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", key_secret.as_str()),
    ];
    set_env(&keys);

    // Values, with Packer's key semantics.
    assert_eq!(
        sm.aws_secretsmanager("forge/db", Some("password")).unwrap(),
        "hunter2"
    );
    assert_eq!(
        sm.aws_secretsmanager("forge/db", Some("user")).unwrap(),
        "admin"
    );
    assert_eq!(sm.aws_secretsmanager("forge/token", None).unwrap(), "t0k3n");
    assert_eq!(
        sm.aws_secretsmanager("forge/token", Some("")).unwrap(),
        "t0k3n"
    );
    assert_eq!(
        sm.aws_secretsmanager("forge/plain", None).unwrap(),
        "just text"
    );
    assert_eq!(sm.aws_secretsmanager("forge/port", None).unwrap(), "5432");
    assert_eq!(
        sm.aws_secretsmanager("forge/db", None).unwrap_err(),
        "Secret has multiple values and no key was set"
    );
    assert_eq!(
        sm.aws_secretsmanager("forge/db", Some("nope")).unwrap_err(),
        "No secret found for key \"nope\""
    );
    let raw = sm.aws_secretsmanager_raw("forge/db").unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&raw).unwrap(),
        serde_json::json!({"user": "admin", "password": "hunter2"})
    );
    let e = sm.aws_secretsmanager("forge/binary", None).unwrap_err();
    assert!(e.starts_with("Secret is not string"), "{e}");

    // A missing secret: the service's error, naming the secret and the endpoint.
    let e = sm.aws_secretsmanager("forge/missing", None).unwrap_err();
    eprintln!("missing secret: {e}");
    assert!(e.starts_with("ResourceNotFoundException: "), "{e}");
    assert!(e.contains("\"forge/missing\""), "{e}");
    assert!(e.contains(&format!("POST {endpoint}")), "{e}");
    // The status is the server's (AWS answers 400, moto 404).
    assert!(e.contains("status code: 4"), "{e}");

    // The legacy JSON engine, in a variable default.
    let vars = IndexMap::new();
    let mut ctx = InterpContext::new(&vars);
    ctx.env_allowed = true;
    ctx.secrets = Some(&sm);
    assert_eq!(
        render(
            "{{ aws_secretsmanager `forge/db` `password` }}/{{ aws_secretsmanager `forge/token` }}",
            &ctx
        )
        .unwrap(),
        "hunter2/t0k3n"
    );

    // The Go SDK's older key names.
    set_env(&[
        ("HOME", home.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY", key_id.as_str()),
        ("AWS_SECRET_KEY", key_secret.as_str()),
    ]);
    assert_eq!(sm.aws_secretsmanager("forge/token", None).unwrap(), "t0k3n");

    // Keys from the shared credentials file of a profile, region from its config file.
    let profile_home = temp_home("profile");
    std::fs::write(
        profile_home.join(".aws/credentials"),
        format!("[ci]\naws_access_key_id = {key_id}\naws_secret_access_key = {key_secret}\n"),
    )
    .unwrap();
    std::fs::write(
        profile_home.join(".aws/config"),
        "[profile ci]\nregion = us-east-1\n",
    )
    .unwrap();
    for profile_var in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"] {
        set_env(&[
            ("HOME", profile_home.to_str().unwrap()),
            (profile_var, "ci"),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ]);
        assert_eq!(
            sm.aws_secretsmanager("forge/db", Some("password")).unwrap(),
            "hunter2",
            "{profile_var}"
        );
    }

    // Wrong secret key: moto checks the signature and says no.
    set_env(&[
        ("HOME", home.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
    ]);
    let e = sm
        .aws_secretsmanager("forge/db", Some("password"))
        .unwrap_err();
    eprintln!("wrong secret key: {e}");
    assert!(e.starts_with("SignatureDoesNotMatch: "), "{e}");
    assert!(e.contains("status code: 403"), "{e}");
    // An access key moto never issued.
    set_env(&[
        ("HOME", home.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIANOTAREALKEY00000"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
    ]);
    let e = sm.aws_secretsmanager("forge/db", None).unwrap_err();
    assert!(e.starts_with("InvalidClientTokenId: "), "{e}");

    // No credentials at all: nothing is sent, and the error says what was looked at.
    set_env(&[
        ("HOME", home.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
    ]);
    let e = sm.aws_secretsmanager("forge/db", None).unwrap_err();
    eprintln!("no credentials: {e}");
    assert!(e.starts_with("NoCredentialProviders: "), "{e}");
    assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
    assert!(e.contains(&format!("{home}/.aws/credentials")), "{e}");
    // No region: nothing is sent either.
    set_env(&[
        ("HOME", home.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", key_secret.as_str()),
    ]);
    let e = sm.aws_secretsmanager("forge/db", None).unwrap_err();
    assert!(e.starts_with("MissingRegion: "), "{e}");
    assert!(e.contains(&format!("{home}/.aws/config")), "{e}");

    // The HCL2 functions, evaluated as `packer console` does, from inside a runtime (as a
    // template loads in `forge build`): the client runs on a runtime of its own.
    set_env(&keys);
    let eval = |line: &str| {
        forge_template::console::eval_line_with(
            line,
            &[],
            std::env::temp_dir(),
            Some(client.as_ref()),
        )
        .map_err(|(d, files)| d.render(&files))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let v = rt.block_on(async { eval(r#"aws_secretsmanager("forge/db", "password")"#) });
    assert_eq!(v.unwrap(), Value::string("hunter2"));
    assert_eq!(
        eval(r#"aws_secretsmanager("forge/token", null)"#).unwrap(),
        Value::string("t0k3n")
    );
    assert_eq!(
        eval(r#"aws_secretsmanager_raw("forge/plain")"#).unwrap(),
        Value::string("just text")
    );
    let e = eval(r#"aws_secretsmanager("forge/missing", "k")"#).unwrap_err();
    eprintln!("HCL2 missing secret:\n{e}");
    assert!(
        e.contains("Call to function \"aws_secretsmanager\" failed"),
        "{e}"
    );
    assert!(e.contains("ResourceNotFoundException"), "{e}");
    assert!(e.contains("forge/missing"), "{e}");

    // Unreachable: the server is gone; the error names the URL and the address.
    drop(server);
    let e = sm
        .aws_secretsmanager("forge/db", Some("password"))
        .unwrap_err();
    eprintln!("unreachable: {e}");
    assert!(e.starts_with("RequestError: send request failed"), "{e}");
    assert!(e.contains(&format!("Post \"{endpoint}\"")), "{e}");
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(e.contains("\"forge/db\""), "{e}");
    let e = eval(r#"aws_secretsmanager("forge/db", "password")"#).unwrap_err();
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");

    let _ = std::fs::remove_dir_all(&empty_home);
    let _ = std::fs::remove_dir_all(&profile_home);
}
