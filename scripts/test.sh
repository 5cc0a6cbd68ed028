#!/usr/bin/env bash
# The one test command: installs what the tests need on a fresh machine, then runs every test.
#
# Needs: a Rust toolchain (cargo), and root or sudo for Debian packages. Installs, when missing:
#   - packer (Debian's 1.6.6): the side-by-side oracle for fmt, console and validate conformance.
#   - moto[server] (PyPI, for python3): the AWS Secrets Manager and EC2 emulator the secrets and
#     amazon-ebs tests run against; curl (the EC2 tests' checks and the test instance's
#     AuthorizedKeysCommand).
#   - the SSH test bed (tests/support/sshd.rs, proxy.rs; tests that use it need root):
#     openssh-server and openssh-client (sshd per test, ssh/scp/sftp clients), sudo (the test
#     user's passwordless sudo), tinyproxy (HTTP CONNECT proxy), dante-server (SOCKS5 proxy with
#     username/password), netcat-openbsd and ncat (ProxyCommands through them), sshpass
#     (password logins by the OpenSSH client), iproute2 (bench/ssh-transfer.sh --netem), procps
#     (ps, used by the reboot tests on the "machine").
#   - the Docker test bed (tests/support/docker.rs, registry.rs; needs a running Docker engine
#     and root): debootstrap (builds the forge-test/debian:bookworm base image once per
#     machine, as nothing can be pulled), docker-registry (a private registry per test on
#     loopback) and apache2-utils (htpasswd for its basic auth); docker.io only when no docker
#     CLI is installed.
#     Their system services are not started (policy-rc.d); the tests run their own.
#   - the QEMU test bed: qemu-system-x86 and qemu-utils; busybox-static and a Debian kernel
#     fetched once with `apt-get download` into /var/tmp/forge-test-kernel (the boot command
#     test's guest); debootstrap and e2fsprogs build the test guest disk once into
#     /var/tmp/forge-test-guest (tests/support/qemu-guest.sh); xorriso reads back the ISO
#     images forge makes for cd_files, as an independent check.
#   - groff-base: tests/docs.rs checks that groff reads forge's manual pages without a warning.
# tests/examples.rs builds the examples/ templates on these same beds (Docker, QEMU).
# The template corpus is read in place from ../shared/corpus (override with FORGE_CORPUS).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v packer >/dev/null 2>&1 || missing+=(packer)
# file that must exist -> Debian package providing it
for need in /usr/sbin/sshd:openssh-server /usr/bin/ssh:openssh-client /usr/bin/sudo:sudo \
  /usr/bin/tinyproxy:tinyproxy /usr/sbin/danted:dante-server /usr/bin/nc.openbsd:netcat-openbsd \
  /usr/bin/ncat:ncat /usr/bin/sshpass:sshpass /usr/sbin/ip:iproute2 /usr/bin/ps:procps \
  /usr/sbin/debootstrap:debootstrap /usr/bin/docker-registry:docker-registry \
  /usr/bin/htpasswd:apache2-utils /usr/bin/curl:curl /usr/bin/xorriso:xorriso \
  /usr/bin/qemu-system-x86_64:qemu-system-x86 /usr/bin/qemu-img:qemu-utils \
  /bin/busybox:busybox-static /sbin/mkfs.ext4:e2fsprogs /usr/share/OVMF/OVMF_CODE.fd:ovmf \
  /usr/bin/groff:groff-base; do
  [ -e "${need%%:*}" ] || missing+=("${need#*:}")
done
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
# The boot command test fetches a Debian kernel with `apt-get download`: it needs package lists.
ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || need_update=1
if [ ${#missing[@]} -gt 0 ] || [ -n "${need_update:-}" ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # Keep the packages' own services (sshd on 22, tinyproxy, danted, docker-registry on 5000)
  # from starting.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  [ -z "$policy" ] || { $sudo rm -f "$policy"; trap - EXIT; }
fi

# moto's server (pinned: the EC2 tests rely on its behaviour), for the AWS Secrets Manager
# tests (crates/forge-template/tests/secrets_aws.rs) and the EC2 tests (tests/amazon_build.rs).
MOTO_VERSION=5.2.1
if ! python3 -c "import moto.server, boto3, flask_cors, moto; assert moto.__version__ == '$MOTO_VERSION'" >/dev/null 2>&1; then
  echo "installing: moto[server]==$MOTO_VERSION (pip)"
  python3 -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >/dev/null 2>&1 \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages "moto[server]==$MOTO_VERSION" >/dev/null
fi

# Packer must not phone home during conformance runs.
export CHECKPOINT_DISABLE=1

cargo test --workspace --locked
