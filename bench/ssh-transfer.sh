#!/usr/bin/env bash
# How fast forge uploads over SSH, next to OpenSSH's scp and Packer 1.6.6, against a private
# sshd (Debian's /usr/sbin/sshd, own config and keys, user forgetest, key auth) started by this
# script. The payload: one 256 MiB random file and a directory of 1000 small files (1-8 KiB) in
# 4 subdirectories. Timed, each RUNS times (median reported), the remote destination emptied
# before every run and checked after it (file count and bytes):
#   scp -r       OpenSSH's scp, SFTP protocol (its default since 9.0), the whole payload
#   scp -O -r    OpenSSH's scp, legacy SCP protocol (what Packer's scp transfer speaks)
#   packer       `packer build` of a null-builder template (communicator ssh, key auth) with two
#                file provisioners: the big file, then the directory
#   forge        `forge build` of the same template
# then prints the forge/scp and forge/packer ratios.
#
# --netem: sshd runs in a network namespace behind a veth pair whose host end delays every
# packet by DELAY_MS (default 30) with `tc qdisc ... netem`, and only the 1000-file directory is
# uploaded. When the kernel has no netem (sch_netem), the same one-way delay is added by a small
# userspace TCP relay (python3) in front of the namespace, and the script says so.
#
# Usage: bench/ssh-transfer.sh [--netem]      (as root; builds target/release/forge first)
#        FORGE=path/to/forge bench/ssh-transfer.sh
# Environment: RUNS (default 3), PACKER (default /usr/bin/packer), DELAY_MS (default 30),
# BIG_MIB (default 256), SMALL_FILES (default 1000), TRANSFER (scp or sftp: the templates'
# ssh_file_transfer_method; default: the tools' default, scp).
# Exit status: 0 when every tool uploaded everything, 2 when one failed (forge without an SSH
# communicator, for instance: the table says FAILED and its output is shown).
# Needs openssh-server, openssh-client, iproute2 and python3 (installed with apt when missing).
# Figures depend on the machine and on its load: run it on the project's 2-core machine kind.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/sshd.sh

NETEM=0
case "${1:-}" in
  --netem) NETEM=1 ;;
  "") ;;
  *) echo "usage: $0 [--netem]" >&2; exit 64 ;;
esac
RUNS=${RUNS:-3}
PACKER=${PACKER:-/usr/bin/packer}
DELAY_MS=${DELAY_MS:-30}
BIG_MIB=${BIG_MIB:-256}
SMALL_FILES=${SMALL_FILES:-1000}
TRANSFER=${TRANSFER:-}
SSH_USER=forgetest
SSH_PASSWORD=forgetest

[ "$(id -u)" = 0 ] || { echo "$0: run as root (sshd switches users; --netem needs namespaces)" >&2; exit 1; }

need=()
for f in /usr/sbin/sshd:openssh-server /usr/bin/scp:openssh-client /usr/sbin/ip:iproute2 \
  /usr/sbin/tc:iproute2 /usr/bin/python3:python3; do
  [ -e "${f%%:*}" ] || need+=("${f#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]} (apt)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-remove "${need[@]}" >/dev/null
fi

if [ -z "${FORGE:-}" ]; then
  cargo build --release --bin forge -q
  FORGE=${CARGO_TARGET_DIR:-target}/release/forge
fi
FORGE=$(realpath "$FORGE")

work=$(mktemp -d /tmp/forge-bench-ssh.XXXXXX)
chmod 755 "$work" # sshd reads authorized_keys in it as the test user
ns="" hostif="" sshd_pid="" relay_pid=""
cleanup() {
  local rc=$?
  [ -z "$relay_pid" ] || kill "$relay_pid" 2>/dev/null || true
  if [ -n "$sshd_pid" ]; then
    kill "$sshd_pid" 2>/dev/null || true
    wait "$sshd_pid" 2>/dev/null || true
  fi
  [ -z "$hostif" ] || ip link del "$hostif" 2>/dev/null || true
  [ -z "$ns" ] || ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export CHECKPOINT_DISABLE=1
unset PACKER_LOG PACKER_LOG_PATH PACKER_NO_COLOR FORGE_LOG FORGE_LOG_PATH
export TMPDIR="$work/tmp" FORGE_STATE_DIR="$work/state"
mkdir -p "$TMPDIR" "$FORGE_STATE_DIR"

# --- the test user (same lock as crates/forge-testkit/src/sshd.rs, so parallel runs do not race) ---
(
  flock 9
  id "$SSH_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$SSH_USER"
  echo "$SSH_USER:$SSH_PASSWORD" | chpasswd
) 9>/tmp/.forge-testuser.lock

# --- payload ---
payload=$work/payload
mkdir -p "$payload/small"
if [ "$NETEM" = 0 ]; then
  head -c "${BIG_MIB}M" /dev/urandom >"$payload/big.bin"
fi
python3 - "$payload/small" "$SMALL_FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%d" % (i % 4))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d.bin" % i), "wb") as f:
        f.write(os.urandom(random.randint(1024, 8192)))
PY
expect_files=$(find "$payload" -type f | wc -l)
expect_bytes=$(find "$payload" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')

# --- sshd ---
dest=$work/dest

if [ "$NETEM" = 1 ]; then
  net=$(( $$ % 200 + 20 ))
  ns=forge-bench-$$ hostif=fbh$$
  host_ip=10.213.$net.1 ns_ip=10.213.$net.2
  ip netns add "$ns"
  ip link add "$hostif" type veth peer name fbn$$ netns "$ns"
  ip addr add "$host_ip/30" dev "$hostif"
  ip link set "$hostif" up
  ip -n "$ns" addr add "$ns_ip/30" dev fbn$$
  ip -n "$ns" link set fbn$$ up
  ip -n "$ns" link set lo up
  listen=$ns_ip port=22
else
  listen=127.0.0.1
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

bench_sshd_prefix=()
[ -z "$ns" ] || bench_sshd_prefix=(ip netns exec "$ns")
bench_sshd "$work" "$listen" "$port" "$SSH_USER"
sshd_pid=$bench_sshd_pid

host=$listen
delay_how=""
if [ "$NETEM" = 1 ]; then
  modprobe sch_netem 2>/dev/null || true
  if ! tc qdisc add dev "$hostif" root netem delay "${DELAY_MS}ms" 2>"$work/tc.err"; then
    # No netem here: a userspace relay on 127.0.0.1 delays client-to-server bytes instead.
    if zcat /proc/config.gz 2>/dev/null | grep '^# CONFIG_NET_SCH_NETEM is not set' >/dev/null; then
      why="this kernel is built without CONFIG_NET_SCH_NETEM"
    else
      why="tc qdisc add ... netem: $(head -1 "$work/tc.err")"
    fi
    echo "netem: unavailable ($why); using a userspace relay that delays client-to-server data by ${DELAY_MS} ms" >&2
    cat >"$work/relay.py" <<'PY'
# Forwards 127.0.0.1:<listen> to <host>:<port>; each chunk sent by the client is delivered
# <delay> ms after it arrived (in order), as a one-way link delay would; replies pass at once.
import asyncio, sys

listen, host, port, delay = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) / 1000

async def pipe(reader, writer, lag):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(1 << 16)
            queue.put_nowait((loop.time() + lag, data))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()

async def handle(creader, cwriter):
    try:
        sreader, swriter = await asyncio.open_connection(host, port)
    except OSError:
        cwriter.close()
        return
    await asyncio.gather(pipe(creader, swriter, delay), pipe(sreader, cwriter, 0))
    for w in (cwriter, swriter):
        w.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
PY
    relay_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 "$work/relay.py" "$relay_port" "$ns_ip" 22 "$DELAY_MS" >"$work/relay.out" 2>&1 &
    relay_pid=$!
    for _ in $(seq 1 100); do grep -q ready "$work/relay.out" && break; sleep 0.05; done
    host=127.0.0.1 port=$relay_port
    delay_how="userspace relay; $why"
  else
    delay_how="tc netem on $hostif"
  fi
fi

ssh_opts=(-i "$work/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
if ! ssh "${ssh_opts[@]}" -p "$port" "$SSH_USER@$host" true; then
  echo "cannot log in to the bench sshd; its log:" >&2
  cat "$work/sshd.log" >&2
  exit 1
fi

# --- templates (the same JSON for packer and forge) ---
mkdir -p "$work/tpl"
{
  printf '{\n  "builders": [{\n    "type": "null",\n    "communicator": "ssh",\n'
  printf '    "ssh_host": "%s",\n    "ssh_port": %s,\n    "ssh_username": "%s",\n' "$host" "$port" "$SSH_USER"
  printf '    "ssh_private_key_file": "%s",\n' "$work/id_ed25519"
  [ -z "$TRANSFER" ] || printf '    "ssh_file_transfer_method": "%s",\n' "$TRANSFER"
  printf '    "ssh_timeout": "1m"\n  }],\n  "provisioners": [\n'
  if [ "$NETEM" = 0 ]; then
    printf '    {"type": "file", "source": "%s", "destination": "%s/big.bin"},\n' "$payload/big.bin" "$dest"
  fi
  printf '    {"type": "file", "source": "%s", "destination": "%s/"}\n  ]\n}\n' "$payload/small" "$dest"
} >"$work/tpl/template.json"

# --- measuring ---
reset_dest() {
  rm -rf "$dest"
  install -d -o "$SSH_USER" -g "$SSH_USER" "$dest"
}

check_dest() {
  local files bytes
  files=$(find "$dest" -type f | wc -l)
  bytes=$(find "$dest" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  [ "$files" = "$expect_files" ] && [ "$bytes" = "$expect_bytes" ] && return 0
  echo "uploaded $files files, $bytes bytes; expected $expect_files files, $expect_bytes bytes" >&2
  return 1
}

if [ "$NETEM" = 1 ]; then sources=("$payload/small"); else sources=("$payload/big.bin" "$payload/small"); fi
run_scp() { scp -q -r "${ssh_opts[@]}" -P "$port" "${sources[@]}" "$SSH_USER@$host:$dest/"; }
run_scp_legacy() { scp -O -q -r "${ssh_opts[@]}" -P "$port" "${sources[@]}" "$SSH_USER@$host:$dest/"; }
run_build() { (cd "$work/tpl" && "$1" build -color=false template.json); }

declare -A median runs_of
failed=0
# measure KEY LABEL COMMAND...: RUNS timed runs; the first failure stops that tool.
measure() {
  local key=$1 label=$2 r t0 t1 times=() out="$work/$1.out"
  shift 2
  for r in $(seq 1 "$RUNS"); do
    reset_dest
    t0=$EPOCHREALTIME
    if "$@" >"$out" 2>&1; then
      t1=$EPOCHREALTIME
      check_dest 2>>"$out" || t1=""
    else
      t1=""
    fi
    if [ -z "$t1" ]; then
      echo "$label FAILED (run $r); last lines of its output:" >&2
      tail -n 15 "$out" | sed 's/^/    /' >&2
      median[$key]=FAILED
      failed=1
      return 0
    fi
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
  done
  runs_of[$key]="${times[*]}"
  median[$key]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
}

rows=(scp scp_o)
labels=([0]="scp -r (SFTP protocol)" [1]="scp -O -r (SCP protocol)")
echo "timing scp ..." >&2
measure scp "scp -r" run_scp
measure scp_o "scp -O -r" run_scp_legacy
if [ -x "$PACKER" ]; then
  echo "timing packer ..." >&2
  rows+=(packer)
  labels+=("packer $("$PACKER" version | head -1 | awk '{ print $2 }')")
  measure packer packer run_build "$PACKER"
else
  echo "packer: $PACKER missing, no comparison (Debian: apt-get install packer)" >&2
fi
echo "timing forge ..." >&2
rows+=(forge)
labels+=("forge")
measure forge forge run_build "$FORGE"

login=$( { TIMEFORMAT=%R; time ssh "${ssh_opts[@]}" -p "$port" "$SSH_USER@$host" true; } 2>&1 )
echo
if [ "$NETEM" = 1 ]; then
  echo "SSH upload over a ${DELAY_MS} ms delayed link ($delay_how): $expect_files files in 4 dirs, $expect_bytes bytes"
else
  echo "SSH upload over loopback: ${BIG_MIB} MiB file + $((expect_files - 1)) files in 4 dirs, $expect_bytes bytes in all"
fi
echo "sshd: $(/usr/sbin/sshd -V 2>&1 | head -1 | cut -d, -f1), one 'ssh true' login: ${login} s; transfer method: ${TRANSFER:-default}; median of $RUNS runs"
printf '  %-26s %10s   %s\n' tool "median s" "runs (s)"
for i in "${!rows[@]}"; do
  k=${rows[$i]}
  printf '  %-26s %10s   %s\n' "${labels[$i]}" "${median[$k]:-n/a}" "${runs_of[$k]:-}"
done
ratio() {
  local a=${median[$1]:-} b=${median[$2]:-}
  if [ -z "$a" ] || [ -z "$b" ] || [ "$a" = FAILED ] || [ "$b" = FAILED ]; then
    echo n/a
    return
  fi
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
}
echo "  forge/scp: $(ratio forge scp)   forge/packer: $(ratio forge packer)"
[ "$failed" = 0 ] || exit 2
