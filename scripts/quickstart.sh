#!/usr/bin/env bash
# forge's first five minutes: build forge, get a Debian base image into Docker, build the Docker
# example (examples/docker) with forge, and run the image it made. No cloud account needed.
#
# Needs: Debian (or Ubuntu) as root or with sudo, a running Docker engine with its docker CLI,
# a Rust toolchain (cargo; rust-version in Cargo.toml), and Debian's package mirror. When
# `docker pull debian:bookworm` cannot work (no registry access), the base image is made locally
# instead (scripts/docker-base-image.sh: debootstrap + docker import, 86 s measured; installs
# debootstrap when missing).
#
# Environment:
#   FORGE_BIN       use this forge binary instead of building one (`cargo build --release`,
#                   the longest step: the README gives measured times)
#   EXAMPLE_IMAGE   the base image to build on (skips the pull and the local base)
#   EXAMPLE_REPO    where the result is tagged (default forge-example/hello)
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL_BASE="forge-test/debian:bookworm"   # the tag the Docker tests use too: made once per machine
REPO=${EXAMPLE_REPO:-forge-example/hello}
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
timings=()
phase_start=0
# phase LABEL DESCRIPTION: starts a timed phase; phase_end records how long it took.
phase() { echo; echo "=== $2"; phase_name=$1; phase_start=$SECONDS; }
phase_end() { timings+=("$(printf '  %-14s %4d s' "$phase_name" $((SECONDS - phase_start)))"); }
die() { echo "quickstart: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "no docker CLI: install Docker (apt-get install --no-install-recommends docker.io) and start it"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || die "the Docker engine does not answer: start it (systemctl start docker) and run this again"

# 1. forge itself.
if [ -n "${FORGE_BIN:-}" ]; then
  forge=$FORGE_BIN
  [ -x "$forge" ] || die "FORGE_BIN=$forge is not an executable"
else
  command -v cargo >/dev/null 2>&1 \
    || die "no cargo: install Rust (https://rustup.rs: curl https://sh.rustup.rs -sSf | sh), then run this again"
  phase "build forge" "building forge (cargo build --release; the longest step, see the README for measured times)"
  cargo build --release --locked
  forge=target/release/forge
  phase_end
  echo "forge is $forge ($(du -h "$forge" | cut -f1))"
fi

# 2. A base image: pulled when the registry can be reached, else made from Debian's packages.
phase "base image" "getting a Debian base image"
if [ -n "${EXAMPLE_IMAGE:-}" ]; then
  image=$EXAMPLE_IMAGE
elif docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
  image=$LOCAL_BASE
  echo "using $image (made earlier on this machine)"
elif timeout 120 docker pull debian:bookworm >/dev/null 2>&1; then
  image=debian:bookworm
  echo "pulled $image"
else
  echo "docker pull cannot work here: making $LOCAL_BASE with debootstrap (86 s measured)"
  if ! command -v debootstrap >/dev/null 2>&1; then
    # Only debootstrap, never a removal (--no-remove); apt's output in a log named on failure.
    apt_log=$(mktemp "${TMPDIR:-/tmp}/forge-quickstart-apt.XXXXXX")
    { $sudo apt-get -o DPkg::Lock::Timeout=300 update \
      && DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y \
        --no-install-recommends --no-remove debootstrap; } </dev/null >"$apt_log" 2>&1 \
      || die "installing debootstrap failed: apt's output is in $apt_log"
    rm -f "$apt_log"
  fi
  $sudo flock /tmp/.forge-debian-base.lock sh scripts/docker-base-image.sh "$LOCAL_BASE"
  image=$LOCAL_BASE
fi
phase_end

# 3. The build: the same command a user types, with the base as a variable.
phase "forge build" "forge build examples/docker"
"$forge" build -var "image=$image" -var pull=false -var "repository=$REPO" examples/docker
phase_end

# 4. The result.
phase "run the image" "the image forge made: docker run --rm $REPO:latest"
docker run --rm "$REPO:latest"
docker image ls "$REPO"
phase_end

echo
echo "=== time taken"
printf '%s\n' "${timings[@]}"
echo "  total          $(printf '%4d' "$SECONDS") s"
echo
echo "Next: ./scripts/test.sh runs every test. Remove the example image with: docker rmi $REPO:latest"
