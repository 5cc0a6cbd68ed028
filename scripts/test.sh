#!/usr/bin/env bash
# The one test command: installs what the tests need on a fresh machine, then runs every test.
#
# Needs: a Rust toolchain (cargo), and root or sudo for Debian packages. Installs, when missing:
#   - packer (Debian's 1.6.6): the side-by-side oracle for fmt, console and validate conformance.
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

# Packer must not phone home during conformance runs.
export CHECKPOINT_DISABLE=1

cargo test --workspace --locked
