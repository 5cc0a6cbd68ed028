#!/usr/bin/env bash
# amazon-ebs, forge next to Packer 1.6.6, against moto's EC2 server on loopback: the same
# template (source_ami_filter, temporary key pair and security group, instance, SSH, one shell
# provisioner, stop, AMI, a copy to a second region, tags, cleanup) built RUNS times by each
# tool; the median wall time of each and their ratio are printed. The "instance" is a private
# sshd on loopback whose AuthorizedKeysCommand asks moto for its key pairs, as EC2 injects them.
#
# Usage: bench/amazon-builder.sh          (as root; builds target/release/forge first)
#        FORGE=path/to/forge bench/amazon-builder.sh
# Environment: RUNS (default 3), PACKER (default /usr/bin/packer).
# Needs python3 with moto[server] (scripts/test.sh installs it), openssh-server and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
PACKER=${PACKER:-/usr/bin/packer}
SSH_USER=forgetest
[ "$(id -u)" = 0 ] || { echo "$0: run as root (sshd switches users)" >&2; exit 1; }
python3 -c 'import moto.server' 2>/dev/null || { echo "$0: needs moto: pip install 'moto[server]'" >&2; exit 1; }
[ -x "$PACKER" ] || { echo "$0: needs packer: apt-get install packer" >&2; exit 1; }
if [ -z "${FORGE:-}" ]; then
  cargo build --release --bin forge -q
  FORGE=$PWD/target/release/forge
fi

work=$(mktemp -d /tmp/forge-bench-aws.XXXXXX)
chmod 755 "$work"
moto_pid="" sshd_pid=""
keys=/usr/local/libexec/forge-bench-moto-keys-$$
cleanup() {
  [ -z "$sshd_pid" ] || kill "$sshd_pid" 2>/dev/null || true
  [ -z "$moto_pid" ] || kill "$moto_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
  rm -f "$keys"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- moto ---
moto_port=$(free_port)
endpoint=http://127.0.0.1:$moto_port
python3 -m moto.server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 100); do curl -fs "$endpoint/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
q() { # region, query
  curl -fsS -H "Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/$1/ec2/aws4_request, SignedHeaders=host, Signature=0" \
    --data "$2&Version=2016-11-15" "$endpoint/"
}
source_name=$(q us-east-1 'Action=DescribeImages&Owner.1=amazon' | tr -d '\n' | sed 's/<item>/\n/g' \
  | grep '<rootDeviceType>ebs' | grep -vi windows | sed -n 's/.*<name>\([^<]*\)<.*/\1/p' | sed -n 1p)

# --- the "instance": sshd accepting moto's key pairs ---
(
  flock 9
  id "$SSH_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$SSH_USER"
) 9>/tmp/.forge-testuser.lock
mkdir -p /usr/local/libexec /run/sshd
cat >"$keys" <<KEYS
#!/bin/sh
for r in us-east-1 us-west-2; do
  curl -fsS -H "Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/\$r/ec2/aws4_request, SignedHeaders=host, Signature=0" \
    '$endpoint/?Action=DescribeKeyPairs&IncludePublicKey=true&Version=2016-11-15' | sed -n 's/.*<publicKey>\([^<]*\)<.*/\1/p'
done
KEYS
chmod 755 "$keys"
ssh_port=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
cat >"$work/sshd_config" <<CONF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile none
AuthorizedKeysCommand $keys %u
AuthorizedKeysCommandUser nobody
AllowUsers $SSH_USER
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
UseDNS no
CONF
/usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
sshd_pid=$!
sleep 0.5

cat >"$work/t.pkr.hcl" <<HCL
variable "name" { type = string }
source "amazon-ebs" "moto" {
  access_key                 = "AKIABENCH"
  secret_key                 = "bench-secret"
  region                     = "us-east-1"
  custom_endpoint_ec2        = "$endpoint"
  skip_credential_validation = true
  skip_metadata_api_check    = true
  source_ami_filter {
    filters     = { name = "$source_name" }
    owners      = ["amazon"]
    most_recent = true
  }
  instance_type = "t2.micro"
  ami_name      = var.name
  ami_regions   = ["us-west-2"]
  ssh_username  = "$SSH_USER"
  ssh_host      = "127.0.0.1"
  ssh_port      = $ssh_port
  ssh_timeout   = "60s"
  tags          = { Name = "bench" }
}
build {
  sources = ["source.amazon-ebs.moto"]
  provisioner "shell" {
    inline = ["echo provisioned"]
  }
}
HCL

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
run() { # tool binary, label
  local times=() i start
  for i in $(seq 1 "$RUNS"); do
    start=$(date +%s.%N)
    if ! (cd "$work" && CHECKPOINT_DISABLE=1 "$1" build -color=false -var "name=bench-$2-$i" t.pkr.hcl >"$work/$2-$i.log" 2>&1); then
      echo "$2 failed (run $i):" >&2
      tail -20 "$work/$2-$i.log" >&2
      exit 2
    fi
    times+=("$(echo "$(date +%s.%N) - $start" | bc)")
  done
  printf '%s\n' "${times[@]}" | median
}
forge_s=$(run "$FORGE" forge)
packer_s=$(run "$PACKER" packer)
printf '\namazon-ebs against moto, median of %s runs\n' "$RUNS"
printf '  %-8s %8.2f s\n' forge "$forge_s" packer "$packer_s"
printf '  forge/packer: %.2f\n' "$(echo "$forge_s / $packer_s" | bc -l)"
