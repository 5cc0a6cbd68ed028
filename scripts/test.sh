#!/usr/bin/env bash
# The one test command: installs what the tests need on a fresh machine, then runs every test.
#
# Needs: a Rust toolchain (cargo), and root or sudo for Debian packages. Installs, when missing:
#   - packer (Debian's 1.6.6): the side-by-side oracle for fmt, console and validate conformance.
#   - moto[server] (PyPI, for python3): the AWS Secrets Manager server the secrets tests run against.
# The template corpus is read in place from ../shared/corpus (override with FORGE_CORPUS).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v packer >/dev/null 2>&1 || missing+=(packer)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# moto's server, for the AWS Secrets Manager tests (crates/forge-template/tests/secrets_aws.rs).
if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c 'import moto.server, boto3' >/dev/null 2>&1; then
  echo "installing: moto[server] (pip)"
  python3 -m pip install -q --disable-pip-version-check 'moto[server]' >/dev/null 2>&1 \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages 'moto[server]' >/dev/null
fi

# Packer must not phone home during conformance runs.
export CHECKPOINT_DISABLE=1

cargo test --workspace --locked
