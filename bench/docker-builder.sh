#!/usr/bin/env bash
# The docker builder's overhead: one template with the docker builder (image
# forge-test/debian:bookworm, pull false, commit true) and 10 trivial shell provisioners
# (`echo N`), timed against the same work done with raw docker commands and with Packer 1.6.6.
#
# Prints the median wall time of RUNS runs for (a) raw commands: `docker run -d`, 10x
# `docker exec ... sh -c 'echo N'`, `docker commit`, `docker rm -f`; (b) `packer build`;
# (c) `forge build`; then the ratios forge/raw and forge/packer. Committed images are removed
# after each run. A tool that fails is reported (with its output) and left out of the ratios.
#
# Usage: bench/docker-builder.sh             (builds target/release/forge first)
#        FORGE=path/to/forge bench/docker-builder.sh
# Environment: RUNS (default 3), PACKER (default /usr/bin/packer; skipped when missing),
# IMAGE (default forge-test/debian:bookworm: the Docker test bed's base image, built by the
# tests, see crates/forge-testkit/src/docker.rs).
# Needs: a running Docker engine and the docker CLI (Packer 1.6.6 drives it).
# Figures depend on the machine and on its load: run it on the project's 2-core machine kind.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
PACKER=${PACKER:-/usr/bin/packer}
IMAGE=${IMAGE:-forge-test/debian:bookworm}
N=10
if [ -z "${FORGE:-}" ]; then
  cargo build --release --bin forge -q
  FORGE=${CARGO_TARGET_DIR:-target}/release/forge
fi
FORGE=$(realpath "$FORGE")

command -v docker >/dev/null || { echo "the docker CLI is missing (apt-get install --no-install-recommends docker.io)" >&2; exit 1; }
docker image inspect "$IMAGE" >/dev/null 2>&1 || {
  echo "$IMAGE is missing: run the docker tests once (they build it), or see crates/forge-testkit/src/docker.rs" >&2
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CHECKPOINT_DISABLE=1
unset PACKER_NO_COLOR PACKER_LOG
export TMPDIR="$work/tmp" FORGE_STATE_DIR="$work/state"
mkdir -p "$TMPDIR" "$FORGE_STATE_DIR"

{
  printf 'source "docker" "bench" {\n  image  = "%s"\n  pull   = false\n  commit = true\n}\n\n' "$IMAGE"
  printf 'build {\n  sources = ["source.docker.bench"]\n'
  for i in $(seq 1 "$N"); do
    printf '\n  provisioner "shell" {\n    inline = ["echo %d"]\n  }\n' "$i"
  done
  printf '}\n'
} >"$work/t.pkr.hcl"

now() { date +%s.%N; }

# Removes the images a run committed (ids found in its output).
reap() { grep -oE 'sha256:[0-9a-f]{64}' "$1" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true; }

# One raw run: prints the wall time.
raw_once() {
  local t0 id img i
  t0=$(now)
  id=$(docker run -d "$IMAGE" sleep infinity)
  for i in $(seq 1 "$N"); do docker exec "$id" /bin/sh -c "echo $i" >/dev/null; done
  img=$(docker commit "$id")
  docker rm -f "$id" >/dev/null
  awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }'
  docker rmi -f "$img" >/dev/null
}

# One build by tool $1: prints the wall time, or fails with the build's output in $work/out.
build_once() {
  local tool=$1 t0 rc=0
  t0=$(now)
  (cd "$work" && "$tool" build -color=false t.pkr.hcl >"$work/out" 2>&1) || rc=$?
  local t1
  t1=$(now)
  reap "$work/out"
  [ "$rc" = 0 ] || return 1
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Median of RUNS runs of "$@"; prints nothing when a run fails.
measure() {
  local r t ts=()
  for r in $(seq 1 "$RUNS"); do
    t=$("$@") || return 1
    ts+=("$t")
  done
  printf '%s\n' "${ts[@]}" | median
}

echo "docker builder, $N shell provisioners (echo N), image $IMAGE, median of $RUNS runs:"
raw=$(measure raw_once)
printf '  raw docker commands:  %7.2f s\n' "$raw"

packer=""
if [ -x "$PACKER" ]; then
  if packer=$(measure build_once "$PACKER"); then
    printf '  %-20s  %7.2f s\n' "$("$PACKER" version | head -1):" "$packer"
  else
    packer=""
    echo "  packer: build failed:"; sed 's/^/    /' "$work/out" | tail -20
  fi
else
  echo "  packer: $PACKER missing, no comparison (Debian: apt-get install packer)"
fi

forge=""
if forge=$(measure build_once "$FORGE"); then
  printf '  forge:                %7.2f s\n' "$forge"
else
  forge=""
  echo "  forge: build failed:"; sed 's/^/    /' "$work/out" | tail -20
fi

if [ -n "$forge" ]; then
  awk -v f="$forge" -v r="$raw" 'BEGIN { printf "  forge/raw:    %.2f\n", f / r }'
  [ -z "$packer" ] || awk -v f="$forge" -v p="$packer" 'BEGIN { printf "  forge/packer: %.2f\n", f / p }'
else
  echo "  forge/raw, forge/packer: n/a (forge failed)"
fi
[ -z "$packer" ] || awk -v p="$packer" -v r="$raw" 'BEGIN { printf "  packer/raw:   %.2f\n", p / r }'
