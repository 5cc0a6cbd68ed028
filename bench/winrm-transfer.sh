#!/usr/bin/env bash
# WinRM transfers and connect latency, forge next to Packer 1.6.6, against forge-wsman (the
# project's WS-Management test server) on loopback: a null builder with the winrm communicator
# uploads one file of SIZE_MB MiB and a directory of FILES small files with the file
# provisioner. Each tool builds RUNS times; the median wall times and their ratio are printed,
# then the time from start to "Connected to WinRM!" for a build with no provisioner.
#
# Usage: bench/winrm-transfer.sh          (builds target/release/forge and forge-wsman first)
#        FORGE=path/to/forge WSMAN=path/to/forge-wsman bench/winrm-transfer.sh
# Environment: RUNS (default 3), SIZE_MB (default 20), FILES (default 500),
#              PACKER (default /usr/bin/packer).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-20}
FILES=${FILES:-500}
PACKER=${PACKER:-/usr/bin/packer}
[ -x "$PACKER" ] || { echo "$0: needs packer: apt-get install --no-install-recommends packer" >&2; exit 1; }
if [ -z "${FORGE:-}" ] || [ -z "${WSMAN:-}" ]; then
  cargo build --release -q --bin forge && cargo build --release -q -p forge-wsman --bin forge-wsman
  FORGE=${FORGE:-$PWD/target/release/forge}
  WSMAN=${WSMAN:-$PWD/target/release/forge-wsman}
fi

work=$(mktemp -d /tmp/forge-bench-winrm.XXXXXX)
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

# A fresh machine per build: its C: drive in $work/c.
start_machine() {
  rm -rf "$work/c" && mkdir -p "$work/c"
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  "$WSMAN" --sandbox "$work/c" --user bench --password 'bench-Pw1' >"$work/wsman.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do grep -q WINRM_PORT "$work/wsman.out" 2>/dev/null && break; sleep 0.05; done
  sed -n 's/^WINRM_PORT=//p' "$work/wsman.out"
}

mkdir -p "$work/src/dir"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$work/src/big.bin"
for i in $(seq 1 "$FILES"); do head -c 2048 /dev/urandom >"$work/src/dir/f$i.bin"; done

template() { # port, provisioners
  cat <<T
{"builders": [{"type": "null", "communicator": "winrm", "winrm_host": "127.0.0.1",
  "winrm_port": $1, "winrm_username": "bench", "winrm_password": "bench-Pw1", "winrm_timeout": "60s"}],
 "provisioners": [$2]}
T
}
file_prov='{"type": "file", "source": "src/big.bin", "destination": "C:/big.bin"}'
dir_prov='{"type": "file", "source": "src/dir", "destination": "C:/dir"}'

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

measure() { # tool exe provisioners -> median seconds
  local exe=$2 prov=$3 times=()
  for _ in $(seq 1 "$RUNS"); do
    port=$(start_machine)
    template "$port" "$prov" >"$work/t.json"
    t0=$(now)
    (cd "$work" && CHECKPOINT_DISABLE=1 "$exe" build -color=false t.json >"$work/$1.log" 2>&1) \
      || { echo "$1 failed:" >&2; cat "$work/$1.log" >&2; exit 1; }
    t1=$(now)
    times+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '%s\n' "${times[@]}" | median
}

connect_latency() { # exe -> median seconds to "Connected to WinRM!"
  local exe=$1 times=()
  for _ in $(seq 1 "$RUNS"); do
    port=$(start_machine)
    template "$port" "" >"$work/t.json"
    t0=$(now)
    (cd "$work" && CHECKPOINT_DISABLE=1 "$exe" build -color=false t.json 2>&1) | while read -r l; do
      case "$l" in *"Connected to WinRM!"*) now >"$work/connected";; esac
    done
    times+=("$(echo "$(cat "$work/connected") - $t0" | bc)")
  done
  printf '%s\n' "${times[@]}" | median
}

printf '%-34s %10s %10s %8s\n' "case" "forge s" "packer s" "ratio"
for case in "file ${SIZE_MB} MiB|$file_prov" "directory of $FILES files|$dir_prov"; do
  name=${case%%|*} prov=${case#*|}
  f=$(measure forge "$FORGE" "$prov")
  p=$(measure packer "$PACKER" "$prov")
  printf '%-34s %10.2f %10.2f %7.1fx\n' "$name" "$f" "$p" "$(echo "$p / $f" | bc -l)"
done
f=$(connect_latency "$FORGE")
p=$(connect_latency "$PACKER")
printf '%-34s %10.2f %10.2f\n' "connect (start to connected)" "$f" "$p"
