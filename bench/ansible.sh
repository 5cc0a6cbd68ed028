#!/usr/bin/env bash
# How fast forge's `ansible` provisioner runs a playbook of 30 small tasks, against a private sshd
# (Debian's /usr/sbin/sshd, own config and keys, user forgetest, key auth) started by this script
# on loopback, each timed RUNS times (median reported, after one warm-up):
#   by hand        ansible-playbook with an inventory pointing at the sshd (the yardstick)
#   forge          `forge build` of a null-builder template with the ansible provisioner
#                  (straight to the machine, forge's default)
#   packer         `packer build` (1.6.6) of the same template with `use_proxy: false` (its
#                  default adapter fails against today's OpenSSH)
#   forge adapter  `forge build` of a docker-builder template (python3 image, discard) running
#                  the same playbook through forge's SSH adapter and the docker communicator;
#                  reported against `forge`, the direct run
#   docker alone   the same docker build with no provisioner, to show the container's own cost
# then prints the ratios forge/by-hand, forge/packer and adapter/forge.
#
# Usage: bench/ansible.sh            (as root; builds target/release/forge first)
#        FORGE=path/to/forge bench/ansible.sh
# Environment: RUNS (default 5), PACKER (default /usr/bin/packer), ANSIBLE_BIN (default
# /var/tmp/forge-test-ansible/bin, made by scripts/test.sh --setup-only).
# Needs openssh-server, docker (engine running) and the test images scripts/test.sh's tests make
# (forge-test/debian-python3:bookworm; built here with scripts/docker-base-image.sh if missing).
# Figures depend on the machine and on its load: run it on the project's 2-core machine kind.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/sshd.sh

RUNS=${RUNS:-5}
PACKER=${PACKER:-/usr/bin/packer}
ANSIBLE_BIN=${ANSIBLE_BIN:-/var/tmp/forge-test-ansible/bin}
SSH_USER=forgetest
IMAGE=forge-test/debian-python3:bookworm

[ "$(id -u)" = 0 ] || { echo "$0: run as root (sshd switches users)" >&2; exit 1; }
[ -x "$ANSIBLE_BIN/ansible-playbook" ] || {
  echo "$0: no $ANSIBLE_BIN/ansible-playbook: run scripts/test.sh --setup-only (or set ANSIBLE_BIN)" >&2
  exit 1
}
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  INCLUDE=python3 flock /tmp/.forge-debian-base.lock sh scripts/docker-base-image.sh "$IMAGE"
fi
if [ -z "${FORGE:-}" ]; then
  cargo build --release --bin forge -q
  FORGE=${CARGO_TARGET_DIR:-target}/release/forge
fi
FORGE=$(realpath "$FORGE")

work=$(mktemp -d /tmp/forge-bench-ansible.XXXXXX)
chmod 755 "$work"
sshd_pid=""
cleanup() {
  local rc=$?
  if [ -n "$sshd_pid" ]; then
    kill "$sshd_pid" 2>/dev/null || true
    wait "$sshd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export CHECKPOINT_DISABLE=1 ANSIBLE_NOCOLOR=1 PATH="$ANSIBLE_BIN:$PATH"
unset PACKER_LOG PACKER_LOG_PATH FORGE_LOG FORGE_LOG_PATH
export TMPDIR="$work/tmp" FORGE_STATE_DIR="$work/state"
mkdir -p "$TMPDIR" "$FORGE_STATE_DIR"

(
  flock 9
  id "$SSH_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$SSH_USER"
) 9>/tmp/.forge-testuser.lock

# --- sshd ---
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bench_sshd "$work" 127.0.0.1 "$port" "$SSH_USER" "MaxSessions 50"
sshd_pid=$bench_sshd_pid

# --- the playbook: 30 small tasks (file, copy, lineinfile, command, stat) ---
dest=/tmp/forge-bench-ansible-dest
{
  echo "- hosts: all"
  echo "  gather_facts: false"
  echo "  tasks:"
  for i in $(seq 1 6); do
    cat <<EOF
    - name: dir $i
      ansible.builtin.file: { path: "{{ dest }}/d$i", state: directory }
    - name: copy $i
      ansible.builtin.copy: { content: "file $i\n", dest: "{{ dest }}/d$i/f" }
    - name: line $i
      ansible.builtin.lineinfile: { path: "{{ dest }}/d$i/l", line: "n=$i", create: true }
    - name: command $i
      ansible.builtin.command: "echo $i"
    - name: stat $i
      ansible.builtin.stat: { path: "{{ dest }}/d$i/f" }
EOF
  done
} >"$work/play.yml"
cp "$work/id_ed25519" "$work/key" && chmod 600 "$work/key"
printf 'default ansible_host=127.0.0.1 ansible_port=%s ansible_user=%s\n' "$port" "$SSH_USER" >"$work/inventory"

prov() { # prov DEST [EXTRA-JSON]
  printf '{"type": "ansible", "playbook_file": "%s", "extra_arguments": ["-e", "dest=%s", "-e", "ansible_python_interpreter=/usr/bin/python3"]%s}' \
    "$work/play.yml" "$1" "${2:-}"
}
cat >"$work/ssh.json" <<EOF
{"builders": [{"type": "null", "ssh_host": "127.0.0.1", "ssh_port": $port, "ssh_username": "$SSH_USER",
  "ssh_private_key_file": "$work/key", "ssh_timeout": "20s"}],
 "provisioners": [$(prov "$dest")]}
EOF
cat >"$work/packer.json" <<EOF
{"builders": [{"type": "null", "ssh_host": "127.0.0.1", "ssh_port": $port, "ssh_username": "$SSH_USER",
  "ssh_private_key_file": "$work/key", "ssh_timeout": "20s"}],
 "provisioners": [$(prov "$dest" ', "use_proxy": false')]}
EOF
cat >"$work/docker.json" <<EOF
{"builders": [{"type": "docker", "image": "$IMAGE", "pull": false, "discard": true}],
 "provisioners": [$(prov /srv/bench)]}
EOF
cat >"$work/docker-alone.json" <<EOF
{"builders": [{"type": "docker", "image": "$IMAGE", "pull": false, "discard": true}]}
EOF

# exit_masters DIR: tells every SSH connection master listening in DIR to exit.
exit_masters() {
  local sock
  for sock in "$1"/*; do
    [ -S "$sock" ] && ssh -o ControlPath="$sock" -O exit x 2>/dev/null || true
  done
}
median() { sort -n | awk '{ a[NR] = $1 } END { m = int((NR + 1) / 2); printf "%.2f", a[m] }'; }
measure() { # measure NAME CMD...: median wall seconds of RUNS runs after a warm-up; fails loudly
  local name=$1 out="$work/$1.out" t=()
  shift
  for i in $(seq 0 "$RUNS"); do
    rm -rf "$dest"
    # No run may reuse a connection master an earlier one left (Ansible's default ControlPersist
    # keeps them a minute in ~/.ansible/cp; packer uses that directory).
    exit_masters "$HOME/.ansible/cp"
    local s e
    s=$(date +%s.%N)
    if ! "$@" >"$out" 2>&1; then
      echo "$name FAILED:" >&2
      tail -30 "$out" >&2
      return 1
    fi
    e=$(date +%s.%N)
    [ "$i" = 0 ] || t+=("$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')")
  done
  printf '%s\n' "${t[@]}" | median
}

# By hand, with what forge does around a run: a fresh directory for the SSH connection masters,
# and the masters told to exit afterwards (else later runs would reuse the first one's).
by_hand() {
  local d rc=0
  d=$(mktemp -d "$work/cp.XXXXXX")
  ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_SSH_CONTROL_PATH_DIR=$d ansible-playbook -i "$work/inventory" --private-key "$work/key" \
    -e "dest=$dest" -e ansible_python_interpreter=/usr/bin/python3 "$work/play.yml" || rc=$?
  exit_masters "$d"
  rm -rf "$d"
  return "$rc"
}
hand=$(measure by-hand by_hand)
forge=$(measure forge "$FORGE" build -color=false "$work/ssh.json")
packer=$(measure packer "$PACKER" build -color=false "$work/packer.json")
adapter=$(measure forge-adapter "$FORGE" build -color=false "$work/docker.json")
alone=$(measure docker-alone "$FORGE" build -color=false "$work/docker-alone.json")

printf '\n%-40s %8s\n' "30 tasks, median of $RUNS (seconds)" wall
printf '%-40s %8s\n' "ansible-playbook by hand (ssh)" "$hand" "forge, straight to the machine (ssh)" "$forge" \
  "packer 1.6.6, use_proxy=false (ssh)" "$packer" "forge, adapter over docker" "$adapter" \
  "forge, docker build without ansible" "$alone"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "forge / by hand:            $(ratio "$forge" "$hand")"
echo "forge / packer 1.6.6:       $(ratio "$forge" "$packer")"
echo "adapter (docker) / forge:   $(ratio "$adapter" "$forge")"
echo "adapter minus docker alone, / forge: $(ratio "$(awk -v a="$adapter" -v b="$alone" 'BEGIN { print a - b }')" "$forge")"
