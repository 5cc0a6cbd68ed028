//! The contextual functions that read secrets from external services: `vault`, `consul_key`,
//! `aws_secretsmanager` and `aws_secretsmanager_raw` (packer-core.md §4). They reach the
//! services for real: Vault and Consul configured from the environment the evaluation sees, AWS
//! Secrets Manager through the client the evaluation was given ([`FuncCtx::secrets_manager`]).

use super::{FuncCtx, FuncError, FuncResult, Function, Param};
use crate::legacy::interp::SecretSource;
use crate::secrets::{get_secret, Secrets};
use crate::value::{Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    v.push(Function::new(
        "vault",
        vec![
            Param::new("path", Type::String),
            Param::new("key", Type::String),
        ],
        Type::String,
        vault,
    ));
    v.push(Function::new(
        "consul_key",
        vec![Param::new("key", Type::String)],
        Type::String,
        consul_key,
    ));
    v.push(Function::new(
        "aws_secretsmanager",
        vec![
            Param::new("name", Type::String),
            Param::new("key", Type::String).nullable(),
        ],
        Type::String,
        aws_secretsmanager,
    ));
    v.push(Function::new(
        "aws_secretsmanager_raw",
        vec![Param::new("name", Type::String)],
        Type::String,
        aws_secretsmanager_raw,
    ));
}

fn backend(ctx: &FuncCtx) -> Secrets {
    Secrets::from_lookup(ctx.env)
}

fn arg(a: &[Value], i: usize) -> &str {
    a.get(i).and_then(Value::as_str).unwrap_or_default()
}

fn done(r: Result<String, String>) -> FuncResult {
    r.map(Value::string).map_err(FuncError::Call)
}

fn vault(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    done(backend(ctx).vault(arg(a, 0), arg(a, 1)))
}

fn consul_key(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    done(backend(ctx).consul_key(arg(a, 0)))
}

fn aws_secretsmanager(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    // A null key is the same as "": the secret's only value.
    done(get_secret(ctx.secrets_manager, arg(a, 0), arg(a, 1), false))
}

fn aws_secretsmanager_raw(ctx: &FuncCtx, a: &[Value]) -> FuncResult {
    done(get_secret(ctx.secrets_manager, arg(a, 0), "", true))
}

#[cfg(test)]
mod tests {
    use super::super::{call, exists, FuncCtx};
    use crate::secrets::{SecretsManager, NO_CLIENT};
    use crate::value::{Type, Value};

    fn ctx<'a>(env: &'a dyn Fn(&str) -> Option<String>) -> FuncCtx<'a> {
        FuncCtx {
            base_dir: std::env::temp_dir(),
            start_time: std::time::SystemTime::now(),
            allow_env: false,
            render_template: None,
            env,
            secrets_manager: None,
        }
    }

    /// One secret, `s`, a JSON object of two keys; any other name is not found.
    #[derive(Debug)]
    struct OneSecret;

    impl SecretsManager for OneSecret {
        fn get_secret_string(&self, name: &str, stage: &str) -> Result<Option<String>, String> {
            match (name, stage) {
                ("s", "AWSCURRENT") => Ok(Some(r#"{"a": "1", "b": "2"}"#.to_string())),
                _ => Err(format!("ResourceNotFoundException: {name:?} at {stage}")),
            }
        }
    }

    #[test]
    fn registered() {
        for f in [
            "vault",
            "consul_key",
            "aws_secretsmanager",
            "aws_secretsmanager_raw",
        ] {
            assert!(exists(f), "{f}");
        }
    }

    #[test]
    fn errors_come_from_the_backend_and_the_environment_given() {
        // AWS settings in the environment do not matter: without a client, a clear error.
        let env = |k: &str| (k == "AWS_REGION").then(|| "us-east-1".to_string());
        let c = ctx(&env);
        let e = call(
            &c,
            "aws_secretsmanager",
            vec![Value::string("n"), Value::null(Type::String)],
        )
        .unwrap_err();
        assert_eq!(e.summary, "Error in function call");
        assert_eq!(
            e.detail,
            format!("Call to function \"aws_secretsmanager\" failed: {NO_CLIENT}.")
        );
        let e = call(&c, "vault", vec![Value::string("p"), Value::string("k")]).unwrap_err();
        assert!(
            e.detail.contains("Must set VAULT_TOKEN env var"),
            "{}",
            e.detail
        );
        let e = call(
            &c,
            "aws_secretsmanager_raw",
            vec![Value::null(Type::String)],
        )
        .unwrap_err();
        assert_eq!(e.summary, "Invalid function argument");
        // Unknown arguments give an unknown string without calling out.
        let v = call(&c, "consul_key", vec![Value::unknown(Type::String)]).unwrap();
        assert!(v.is_unknown_deep());
    }

    #[test]
    fn aws_calls_go_through_the_given_client() {
        let env = |_: &str| None;
        let mut c = ctx(&env);
        c.secrets_manager = Some(&OneSecret);
        let s = |x: &str| Value::string(x);
        assert_eq!(
            call(&c, "aws_secretsmanager", vec![s("s"), s("b")]).unwrap(),
            s("2")
        );
        assert_eq!(
            call(&c, "aws_secretsmanager_raw", vec![s("s")]).unwrap(),
            s(r#"{"a": "1", "b": "2"}"#)
        );
        let e = call(
            &c,
            "aws_secretsmanager",
            vec![s("s"), Value::null(Type::String)],
        )
        .unwrap_err();
        assert!(
            e.detail
                .ends_with("failed: Secret has multiple values and no key was set."),
            "{}",
            e.detail
        );
        let e = call(&c, "aws_secretsmanager", vec![s("gone"), s("k")]).unwrap_err();
        assert!(
            e.detail
                .contains("ResourceNotFoundException: \"gone\" at AWSCURRENT"),
            "{}",
            e.detail
        );
    }
}
