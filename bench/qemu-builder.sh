#!/usr/bin/env bash
# The qemu builder side by side with Packer 1.6.6: the QEMU test guest (scripts/qemu-guest.sh,
# built once into /var/tmp/forge-test-guest2) booted under TCG with direct kernel boot from its
# disk image, one shell provisioner over SSH, `poweroff`, the qcow2 converted.
#
# Prints, for each tool, the median of RUNS runs of:
#   - the build's wall time;
#   - how long after the guest's sshd first answered (a prober reading the SSH banner on the
#     forwarded port every 100 ms) the tool was connected ("Connected to SSH!");
# and for forge, its own overhead: the build's wall time minus the time spent in steps that
# wait on qemu-img or the guest (copy, resize, boot command, connect, provision, shutdown,
# convert), from the `timeline` event.
#
# Usage: bench/qemu-builder.sh            (builds target/release/forge first)
#        FORGE=path/to/forge RUNS=3 bench/qemu-builder.sh
# Needs: root, qemu-system-x86, qemu-utils, openssh-client, the test guest (run the qemu tests
# once, or scripts/qemu-guest.sh /var/tmp/forge-test-guest2), packer (optional).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
PACKER=${PACKER:-/usr/bin/packer}
G=${GUEST:-/var/tmp/forge-test-guest2}
PORT=${PORT:-42222}
if [ -z "${FORGE:-}" ]; then
  cargo build --release --bin forge -q
  FORGE=${CARGO_TARGET_DIR:-target}/release/forge
fi
FORGE=$(realpath "$FORGE")
[ -f "$G/disk.qcow2" ] || sh scripts/qemu-guest.sh "$G"

work=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "work dir: $work" >&2 || trap 'rm -rf "$work"' EXIT
export CHECKPOINT_DISABLE=1
unset PACKER_LOG

cat >"$work/t.pkr.hcl" <<EOF
source "qemu" "bench" {
  disk_image           = true
  iso_url              = "$G/disk.qcow2"
  iso_checksum         = "none"
  format               = "qcow2"
  accelerator          = "tcg"
  headless             = true
  disk_interface       = "virtio"
  net_device           = "virtio-net"
  memory               = 1024
  cpus                 = 2
  host_port_min        = $PORT
  host_port_max        = $PORT
  qemuargs = [
    ["-kernel", "$G/vmlinuz"],
    ["-initrd", "$G/initrd.img"],
    ["-append", "$(cat "$G/cmdline")"],
  ]
  boot_wait            = "1s"
  ssh_username         = "root"
  ssh_private_key_file = "$G/id_ed25519"
  ssh_timeout          = "10m"
  shutdown_command     = "poweroff"
  output_directory     = "out"
  vm_name              = "bench.qcow2"
}
build {
  sources = ["source.qemu.bench"]
  provisioner "shell" {
    inline = ["echo first-command", "echo built > /etc/forge-marker"]
  }
}
EOF

now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# One build by $1 (forge|packer): prints "wall ssh_lag overhead" (overhead "-" for packer).
once() {
  local tool=$1 bin t0 t1 up=""
  bin=$FORGE
  [ "$tool" = packer ] && bin=$PACKER
  rm -rf "$work/out" "$work/ev.jsonl" "$work/up" "$work/lines"
  # The prober: the first time sshd answers on the forwarded port.
  ( while :; do
      # The banner (not a whole key exchange): the moment sshd accepts.
      if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && head -c 4 <&3" 2>/dev/null | grep -q SSH-; then
        now >"$work/up"; break
      fi
      sleep 0.1
    done ) &
  local prober=$!
  local extra=()
  [ "$tool" = forge ] && extra=(--events "$work/ev.jsonl")
  t0=$(now)
  (cd "$work" && "$bin" build -color=false "${extra[@]}" t.pkr.hcl 2>&1) |
    while IFS= read -r l; do printf '%s %s\n' "$(now)" "$l"; done >"$work/lines"
  t1=$(now)
  kill "$prober" 2>/dev/null || true
  wait "$prober" 2>/dev/null || true
  grep -q "first-command" "$work/lines" || { echo "$tool build failed:" >&2; tail -20 "$work/lines" >&2; return 1; }
  local first up_at lag overhead="-"
  first=$(grep -m1 "Connected to SSH!" "$work/lines" | cut -d' ' -f1)
  up_at=$(cat "$work/up" 2>/dev/null || echo "$first")
  lag=$(awk -v a="$up_at" -v b="$first" 'BEGIN { printf "%.2f", b - a }')
  if [ "$tool" = forge ]; then
    overhead=$(python3 - "$work/ev.jsonl" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" <<'PY'
import json, sys
# Steps that wait on qemu-img, the guest booting, provisioning and shutting down. stepRun
# (qemu's start and forge's check that it did not exit at once) counts as forge's own time.
wait = {"stepCopyDisk", "stepResizeDisk", "stepTypeBootCommand", "StepConnect",
        "StepProvision", "stepShutdown", "stepConvertDisk"}
wall = float(sys.argv[2])
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("type") == "timeline":
        phases = [p for p in e["phases"] if p["depth"] == 0]
        waited = sum(p["duration_ms"] for p in phases if p["name"] in wait) / 1000
        print(f"{wall - waited:.3f}")
PY
)
  fi
  awk -v a="$t0" -v b="$t1" -v l="$lag" -v o="$overhead" 'BEGIN { printf "%.2f %s %s\n", b - a, l, o }'
}

for tool in forge packer; do
  [ "$tool" = packer ] && [ ! -x "$PACKER" ] && { echo "packer: $PACKER missing"; continue; }
  walls=() lags=() overs=()
  for r in $(seq 1 "$RUNS"); do
    read -r w l o < <(once "$tool") || { echo "$tool: failed"; continue 2; }
    walls+=("$w"); lags+=("$l"); overs+=("$o")
  done
  w=$(printf '%s\n' "${walls[@]}" | median)
  l=$(printf '%s\n' "${lags[@]}" | median)
  printf '%-7s wall %6.2f s   connected %5.2f s after sshd answered' "$tool" "$w" "$l"
  if [ "$tool" = forge ]; then
    o=$(printf '%s\n' "${overs[@]}" | median)
    awk -v o="$o" -v w="$w" 'BEGIN { printf "   forge overhead %.2f s (%.1f%%)", o, 100 * o / w }'
  fi
  echo
done
