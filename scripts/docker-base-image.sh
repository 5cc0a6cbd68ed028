#!/bin/sh
# Makes a Debian base image in the local Docker engine without pulling anything: debootstrap a
# minimal bookworm root filesystem from Debian's package mirror, then `docker import` it.
# Used by the Docker tests (crates/forge-testkit/src/docker.rs) and by scripts/quickstart.sh.
#
# Usage: docker-base-image.sh [TAG]   (default forge-test/debian:bookworm)
#   INCLUDE=pkg,pkg adds packages to the minimal system (the Ansible tests' image has python3).
# Does nothing when the engine already has TAG. Took 86 s, measured (see README). Needs root, debootstrap,
# a docker CLI talking to a running engine, and http://deb.debian.org (or MIRROR).
# Run it under `flock` when several processes may call it at once (the tests do).
set -eu
TAG=${1:-forge-test/debian:bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
docker image inspect "$TAG" >/dev/null 2>&1 && exit 0
d=$(mktemp -d "${TMPDIR:-/tmp}/forge-debian-base.XXXXXX")
trap 'rm -rf "$d" "$d.log"' EXIT
debootstrap --variant=minbase ${INCLUDE:+--include="$INCLUDE"} bookworm "$d" "$MIRROR" >"$d.log" 2>&1 || { tail -30 "$d.log" >&2; exit 1; }
tar -C "$d" -c . | docker import - "$TAG" >/dev/null
