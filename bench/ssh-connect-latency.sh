#!/usr/bin/env bash
# How soon forge's first remote command runs after sshd comes up. forge starts a build (null
# builder, key auth, one shell provisioner that records the remote clock) while nothing listens
# on the port; a private sshd (Debian's /usr/sbin/sshd, own config and keys, user forgetest) is
# started 2 s later. The figure is the time from the port accepting connections to the command
# running, over RUNS runs (default 5). The target is at most 0.5 s.
#
# Usage: bench/ssh-connect-latency.sh        (as root; builds target/release/forge first)
#        FORGE=path/to/forge bench/ssh-connect-latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "$0: run as root" >&2; exit 1; }
[ -x /usr/sbin/sshd ] || { echo "install openssh-server (apt-get install openssh-server)" >&2; exit 1; }
if [ -z "${FORGE:-}" ]; then
  cargo build --release --bin forge -q
  FORGE=${CARGO_TARGET_DIR:-target}/release/forge
fi
FORGE=$(realpath "$FORGE")
work=$(mktemp -d /tmp/forge-bench-latency.XXXXXX)
chmod 755 "$work"
sshd_pid=""
cleanup() {
  [ -z "$sshd_pid" ] || { kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
(
  flock 9
  id forgetest >/dev/null 2>&1 || useradd -m -s /bin/bash forgetest
) 9>/tmp/.forge-testuser.lock
mkdir -p /run/sshd "$work/tmp" "$work/state"
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/id"
cp "$work/id.pub" "$work/authorized_keys"
chmod 644 "$work/authorized_keys"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
StrictModes no
UsePAM yes
PasswordAuthentication no
CFG
cat >"$work/t.json" <<JSON
{"builders": [{"type": "null", "ssh_host": "127.0.0.1", "ssh_port": $port, "ssh_username": "forgetest",
  "ssh_private_key_file": "$work/id", "ssh_timeout": "1m"}],
 "provisioners": [{"type": "shell", "inline": ["date +%s.%N > $work/ran"]}]}
JSON
touch "$work/ran"; chmod 666 "$work/ran"
lat=()
for i in $(seq 1 "$RUNS"); do
  : >"$work/ran"
  (cd "$work" && TMPDIR=$work/tmp FORGE_STATE_DIR=$work/state "$FORGE" build -color=false t.json >"$work/out" 2>&1) &
  fpid=$!
  sleep 2
  /usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
  sshd_pid=$!
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.005; done
  ready=$(date +%s.%N)
  wait "$fpid" || { cat "$work/out"; exit 1; }
  ran=$(cat "$work/ran")
  kill "$sshd_pid"; wait "$sshd_pid" 2>/dev/null || true; sshd_pid=""
  l=$(python3 -c "print(f'{$ran - $ready:.3f}')")
  lat+=("$l")
  echo "run $i: first command ${l} s after sshd accepted connections"
done
printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median %.3f s, max %.3f s over %d runs (target <= 0.5 s)\n", a[int((NR+1)/2)], a[NR], NR}'
