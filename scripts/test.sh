#!/usr/bin/env bash
# The one test command: installs what the tests need, checks every tool the tests run, then runs
# every test (`cargo test --workspace --locked`).
#
# Usage: scripts/test.sh [--setup-only] [-- TEST-ARGS...]
#   --setup-only   install and check the test beds, but do not run the tests
#   -- TEST-ARGS   passed to the test binaries: `-- --skip corpus` runs everything but the 7
#                  conformance tests that read the template corpus (../shared/corpus)
#
# Runs as root, and refuses to start otherwise: the SSH test bed adds the user forgetest and
# starts an sshd per test that switches to it, the Docker and QEMU test beds debootstrap root
# filesystems (chroot) and run `docker import`, and the Debian packages below are installed with
# apt. There is no non-root mode. Needs a Rust toolchain (cargo) for root, a running Docker
# engine, and network access to Debian's mirror (deb.debian.org), PyPI (moto, when not already
# installed) and crates.io (cargo's first fetch).
#
# Installs, when missing, with `apt-get install --no-install-recommends` (one package per test
# bed below; see NEEDS):
#   - packer (Debian's 1.6.6): the side-by-side oracle for fmt, console and validate conformance.
#   - python3, python3-venv and moto[server] (PyPI, pinned): the AWS Secrets Manager and EC2
#     emulator the secrets and amazon-ebs tests run against. When `python3` on PATH already
#     imports that moto, it is used; otherwise moto goes into a virtualenv made once per machine
#     from Debian's python3 (/var/tmp/forge-test-venv), whose bin/ goes first on the tests' PATH.
#     Nothing is pip-installed into a system Python. ansible-core (PyPI, pinned) goes into a
#     virtualenv of its own (/var/tmp/forge-test-ansible), found by the tests through
#     FORGE_ANSIBLE. pywinrm and pypsrp (PyPI, pinned) go into a virtualenv of their own
#     (/var/tmp/forge-test-winrm-py), found by the tests through FORGE_WINRM_PY: the real WinRM
#     clients that crates/forge-wsman/tests/python_clients.rs validates the WinRM test server
#     with. google-cloud-compute (PyPI, pinned) goes into /var/tmp/forge-test-gce-py, found
#     through FORGE_GCE_PY: Google's Python client that crates/forge-testkit/tests/gce_python.rs
#     validates the fake Compute Engine with. azure-identity, the azure-mgmt-* clients and
#     azure-keyvault-secrets (PyPI, pinned) go into /var/tmp/forge-test-azure-py, found through
#     FORGE_AZURE_PY: Microsoft's Python clients that crates/forge-testkit/tests/arm_python.rs
#     validates the fake Azure Resource Manager with. curl: the EC2 and Compute Engine tests'
#     checks and the test instance's AuthorizedKeysCommand; openssl: the fake Compute Engine's
#     service-account key and the fake Azure Resource Manager's client certificate.
#   - the SSH test bed (crates/forge-testkit/src/sshd.rs, proxy.rs): openssh-server and openssh-client (sshd
#     per test, ssh/scp/sftp clients), sudo (the test user's passwordless sudo), tinyproxy (HTTP
#     CONNECT proxy), dante-server (SOCKS5 proxy with username/password), netcat-openbsd and ncat
#     (ProxyCommands through them), sshpass (password logins by the OpenSSH client), iproute2,
#     procps (ps, used by the reboot tests on the "machine").
#   - the Docker test bed (crates/forge-testkit/src/docker.rs, registry.rs; needs a running Docker engine):
#     debootstrap (builds the forge-test/debian:bookworm base image once per machine, as nothing
#     can be pulled), docker-registry (a private registry per test on loopback) and apache2-utils
#     (htpasswd for its basic auth); docker.io only when no docker CLI is installed.
#     Their system services are not started (policy-rc.d); the tests run their own.
#   - the QEMU test bed: qemu-system-x86 and qemu-utils, ovmf (EFI); busybox-static and a Debian
#     kernel fetched once with `apt-get download` into /var/tmp/forge-test-kernel (the boot
#     command test's guest); debootstrap and e2fsprogs build the test guest disk once into
#     /var/tmp/forge-test-guest2 (scripts/qemu-guest.sh); xorriso reads back the ISO images
#     forge makes for cd_files, as an independent check.
#   - the vSphere test bed (crates/forge-testkit/src/vcsim.rs): golang-go and
#     golang-github-vmware-govmomi-dev. Debian's govmomi has the simulator library but not the
#     vcsim command, so crates/forge-testkit/vcsim/main.go is built from them offline (GOPATH
#     mode, no module download) into /var/tmp/forge-test-vcsim/vcsim, again only when that file,
#     Go or govmomi changed; the tests find it through FORGE_VCSIM.
#   - groff-base: tests/docs.rs checks that groff reads forge's manual pages without a warning.
#   - xz-utils, zstd, lz4, unzip, gzip, tar, coreutils: the compress and checksum post-processor
#     tests read forge's archives and sums back with the system's own tools.
# tests/examples.rs builds the examples/ templates on these same beds (Docker, QEMU).
# The template corpus is read in place from ../shared/corpus (override with FORGE_CORPUS).
#
# The install never removes or downgrades a package. apt's plan is simulated first
# (`apt-get install -s`); when it would remove or downgrade anything, this script stops and names
# the package and what apt would do to it. One exception is resolved instead of refused: a
# package that conflicts with a newer backport already installed (say qemu-system-x86 7.2 against
# qemu-utils 10 from bookworm-backports) is installed from <codename>-backports, when that
# resolves it without removing anything. The script then adds Debian's backports suite to apt's
# sources (/etc/apt/sources.list.d/forge-test-backports.sources, unless it is already there); apt
# gives backports priority 100, so nothing else is taken from it. FORGE_TEST_NO_BACKPORTS=1 refuses
# instead. The real install runs with --no-remove as well.
#
# apt's and pip's output goes to /var/log/forge-test/apt.log and pip.log; every failure names the
# log. What the script installed (packages, the backports source, the virtualenv) is recorded in
# /var/lib/forge-test/installed, so scripts/prove-readme.sh --remove-installed can take exactly
# that away again. apt waits up to 5 minutes for another apt/dpkg to finish (DPkg::Lock::Timeout).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "test.sh: $*" >&2; exit 1; }

setup_only=""
test_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --setup-only) setup_only=1 ;;
    --) shift; test_args=("$@"); break ;;
    *) die "unknown option $1 (usage: scripts/test.sh [--setup-only] [-- TEST-ARGS...])" ;;
  esac
  shift
done

[ "$(id -u)" = 0 ] || die "run this as root (for instance in a root shell: sudo -i, then cd back here and
run ./scripts/test.sh). The SSH test bed adds the user forgetest and starts an sshd per test that
switches to it, the Docker and QEMU test beds debootstrap root filesystems, and the test beds
are installed with apt: all of that needs root, so there is no non-root mode. Root needs a Rust
toolchain (cargo) on its PATH."
command -v cargo >/dev/null 2>&1 \
  || die "no cargo on root's PATH: install Rust for root (https://rustup.rs), then run this again"
command -v apt-get >/dev/null 2>&1 || die "no apt-get: the test beds are installed from Debian packages (Debian or Ubuntu)"

STATE=/var/lib/forge-test
RECORD=$STATE/installed
LOGDIR=/var/log/forge-test
APT_LOG=$LOGDIR/apt.log
PIP_LOG=$LOGDIR/pip.log
VENV=/var/tmp/forge-test-venv
BACKPORTS_SOURCE=/etc/apt/sources.list.d/forge-test-backports.sources
MOTO_VERSION=5.2.1   # pinned: the EC2 tests rely on its behaviour
ANSIBLE_VENV=/var/tmp/forge-test-ansible
ANSIBLE_VERSION=2.19.14   # pinned: the ansible provisioner tests run this ansible-core
WINRM_PY_VENV=/var/tmp/forge-test-winrm-py
PYWINRM_VERSION=0.5.0   # pinned: the real WinRM clients forge-wsman is validated with
PYPSRP_VERSION=0.9.1
GCE_PY_VENV=/var/tmp/forge-test-gce-py
GCE_PY_VERSION=1.57.0   # pinned: Google's Python Compute client the fake Compute Engine is validated with
GCE_PY_OSLOGIN_VERSION=2.23.0   # pinned: Google's Python OS Login client, for the fake's OS Login API
AZURE_PY_VENV=/var/tmp/forge-test-azure-py
# pinned: Microsoft's Python clients the fake Azure Resource Manager is validated with
AZURE_PY_SPECS="azure-identity==1.27.0 azure-mgmt-resource==26.0.0 azure-mgmt-resource-deployments==2.0.0 azure-mgmt-resource-subscriptions==1.0.0 azure-mgmt-compute==39.0.0 azure-mgmt-network==33.1.0 azure-mgmt-keyvault==14.1.0 azure-keyvault-secrets==4.12.0"
VCSIM_DIR=/var/tmp/forge-test-vcsim   # the vCenter simulator, built from crates/forge-testkit/vcsim
GO_LOG=$LOGDIR/go.log
mkdir -p "$STATE" "$LOGDIR"

# What the tests run -> the Debian package that provides it. A missing path is installed; after
# the install every path is checked again (and the programs below are run).
NEEDS=(
  /usr/bin/packer:packer
  /usr/sbin/sshd:openssh-server /usr/lib/openssh/sftp-server:openssh-sftp-server
  /usr/bin/ssh:openssh-client /usr/bin/scp:openssh-client /usr/bin/sftp:openssh-client
  /usr/bin/ssh-keygen:openssh-client /usr/bin/ssh-agent:openssh-client /usr/bin/ssh-add:openssh-client
  /usr/bin/sudo:sudo /usr/sbin/useradd:passwd /usr/sbin/chpasswd:passwd
  /usr/bin/tinyproxy:tinyproxy /usr/sbin/danted:dante-server /usr/bin/nc.openbsd:netcat-openbsd
  /usr/bin/ncat:ncat /usr/bin/sshpass:sshpass /usr/sbin/ip:iproute2 /usr/bin/ps:procps
  /usr/sbin/debootstrap:debootstrap /usr/bin/docker-registry:docker-registry
  /usr/bin/htpasswd:apache2-utils /usr/bin/curl:curl /usr/bin/xorriso:xorriso
  /usr/bin/qemu-system-x86_64:qemu-system-x86 /usr/bin/qemu-img:qemu-utils
  /usr/share/OVMF/OVMF_CODE.fd:ovmf /usr/share/OVMF/OVMF_VARS.fd:ovmf
  /bin/busybox:busybox-static /sbin/mkfs.ext4:e2fsprogs /usr/bin/groff:groff-base
  /usr/bin/flock:util-linux /usr/bin/script:bsdutils /usr/sbin/chroot:coreutils
  /usr/bin/python3:python3
  /usr/bin/go:golang-go /usr/share/gocode/src/github.com/vmware/govmomi/simulator/model.go:golang-github-vmware-govmomi-dev
  /usr/bin/xz:xz-utils /usr/bin/zstd:zstd /usr/bin/lz4:lz4 /usr/bin/unzip:unzip /usr/bin/gzip:gzip
  /usr/bin/tar:tar /usr/bin/stat:coreutils /usr/bin/sha256sum:coreutils
  /usr/bin/openssl:openssl
)

missing=()
add_missing() { case " ${missing[*]} " in *" $1 "*) ;; *) missing+=("$1") ;; esac; }
for need in "${NEEDS[@]}"; do
  [ -e "${need%%:*}" ] || add_missing "${need#*:}"
done
command -v docker >/dev/null 2>&1 || add_missing docker.io

# moto: the python3 on PATH when it has the pinned moto, else the virtualenv (made from Debian's
# python3, which needs python3-venv for ensurepip).
moto_ok() { "$1" -c "import moto.server, boto3, flask_cors, moto; assert moto.__version__ == '$MOTO_VERSION'" >/dev/null 2>&1; }
python=""
if command -v python3 >/dev/null 2>&1 && moto_ok python3; then
  python=$(command -v python3)
elif [ -f "$VENV/.complete" ] && moto_ok "$VENV/bin/python3"; then
  python=$VENV/bin/python3
elif ! { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; }; then
  add_missing python3-venv
fi
# ansible-core: always its own virtualenv from Debian's python3 (so the tests know which Ansible
# runs), made once per machine.
ansible_ok() { # (no pipe into grep -q: ansible-playbook fails on the closed pipe)
  local v
  v=$("$ANSIBLE_VENV/bin/ansible-playbook" --version 2>/dev/null) && [[ $v == *"core $ANSIBLE_VERSION]"* ]]
}
if ! { [ -f "$ANSIBLE_VENV/.complete" ] && ansible_ok; } &&
  ! { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; }; then
  add_missing python3-venv
fi
# pywinrm and pypsrp: their own virtualenv from Debian's python3, made once per machine.
winrm_py_ok() {
  "$WINRM_PY_VENV/bin/python3" -c "from importlib.metadata import version as v; import winrm, pypsrp.wsman, pypsrp.shell
assert (v('pywinrm'), v('pypsrp')) == ('$PYWINRM_VERSION', '$PYPSRP_VERSION')" >/dev/null 2>&1
}
# google-cloud-compute: its own virtualenv from Debian's python3, made once per machine.
gce_py_ok() {
  "$GCE_PY_VENV/bin/python3" -c "from importlib.metadata import version as v; from google.cloud import compute_v1, oslogin_v1
assert (v('google-cloud-compute'), v('google-cloud-os-login')) == ('$GCE_PY_VERSION', '$GCE_PY_OSLOGIN_VERSION')" >/dev/null 2>&1
}
# azure-identity and azure-mgmt-*: their own virtualenv from Debian's python3, made once per machine.
azure_py_ok() {
  "$AZURE_PY_VENV/bin/python3" -c "from importlib.metadata import version as v; import azure.identity, azure.mgmt.compute, azure.mgmt.network, azure.mgmt.keyvault, azure.mgmt.resource.deployments, azure.keyvault.secrets
assert all(v(n) == want for n, want in (s.split('==') for s in '$AZURE_PY_SPECS'.split()))" >/dev/null 2>&1
}
if ! { [ -f "$WINRM_PY_VENV/.complete" ] && winrm_py_ok; } &&
  ! { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; }; then
  add_missing python3-venv
fi

# The boot command test fetches a Debian kernel with `apt-get download`: it needs package lists.
need_update=""
ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || need_update=1

os_field() { sed -n "s/^$1=//p" /etc/os-release | tr -d '"'; }
APT=(apt-get -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
log() { printf '\n=== %s %s\n' "$(date -u '+%F %T')" "$*" >>"$APT_LOG"; }

# simulate ARGS...: apt's plan for `apt-get install ARGS...`; sets $plan (Inst/Remv lines) and
# $harm (what it would remove or downgrade, one line each). Fails when apt finds no plan.
simulate() {
  local out line pkg old new
  log "simulate: apt-get install -s --no-install-recommends $*"
  sim_out="" plan="" harm=""
  if ! out=$(LC_ALL=C "${APT[@]}" install -s --no-install-recommends "$@" 2>&1); then
    printf '%s\n' "$out" >>"$APT_LOG"
    sim_out=$out
    return 1
  fi
  printf '%s\n' "$out" >>"$APT_LOG"
  plan=$(printf '%s\n' "$out" | grep -E '^(Inst|Remv|Purg) ' || true)
  while read -r line; do
    case "$line" in
      Remv\ *|Purg\ *)
        pkg=$(echo "$line" | cut -d' ' -f2)
        old=$(echo "$line" | sed -n 's/^[A-Za-z]* [^ ]* \[\([^]]*\)\].*/\1/p')
        harm+="  remove $pkg ${old:+(installed $old)}"$'\n' ;;
      Inst\ *\ \[*)
        pkg=$(echo "$line" | cut -d' ' -f2)
        old=$(echo "$line" | sed -n 's/^Inst [^ ]* \[\([^]]*\)\].*/\1/p')
        new=$(echo "$line" | sed -n 's/^Inst [^ ]* \[[^]]*\] (\([^ ]*\) .*/\1/p')
        if [ -n "$old" ] && [ -n "$new" ] && dpkg --compare-versions "$new" lt "$old"; then
          harm+="  downgrade $pkg from $old to $new"$'\n'
        fi ;;
    esac
  done <<<"$plan"
}

# apt_install ARGS...: installs after a clean simulation, with --no-remove; records what was new.
apt_install() {
  simulate "$@" || die "apt finds no way to install $*: see $APT_LOG"
  [ -z "$harm" ] || die "installing $* would make apt:
$harm(the whole plan is in $APT_LOG). Refusing: this script never removes or downgrades a package."
  local upgrades
  upgrades=$(printf '%s\n' "$plan" | sed -n 's/^Inst \([^ ]*\) \[.*/\1/p' | tr '\n' ' ')
  [ -z "$upgrades" ] || echo "  apt upgrades, as a dependency needs it: $upgrades"
  log "install: apt-get install -y --no-install-recommends --no-remove $*"
  DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends --no-remove "$@" \
    </dev/null >>"$APT_LOG" 2>&1 || die "apt-get install $* failed: see $APT_LOG"
  # New packages only (an upgrade's line has the installed version in brackets after the name).
  printf '%s\n' "$plan" | sed -n 's/^Inst \([^ ]*\) (.*/deb \1/p' >>"$RECORD"
}

if [ ${#missing[@]} -gt 0 ] || [ -n "$need_update" ]; then
  echo "installing: ${missing[*]:-(package lists only)} (apt's output: $APT_LOG)"
  log "apt-get update"
  "${APT[@]}" update </dev/null >>"$APT_LOG" 2>&1 || die "apt-get update failed: see $APT_LOG"
fi

if [ ${#missing[@]} -gt 0 ]; then
  # Which requested packages make apt remove or downgrade something.
  offenders=()
  if ! simulate "${missing[@]}" || [ -n "$harm" ]; then
    for p in "${missing[@]}"; do
      if ! simulate "$p" || [ -n "$harm" ]; then offenders+=("$p"); fi
    done
    [ ${#offenders[@]} -gt 0 ] || die "apt finds no way to install ${missing[*]} together without
removing or downgrading a package (see $APT_LOG). Refusing: this script never removes or
downgrades a package."
  fi
  rest=()
  for p in "${missing[@]}"; do
    case " ${offenders[*]} " in *" $p "*) ;; *) rest+=("$p") ;; esac
  done

  # The offenders from backports, when that needs no removal (see the header).
  backports=""
  if [ ${#offenders[@]} -gt 0 ]; then
    why="installing ${offenders[*]} from $(os_field PRETTY_NAME) would make apt:
"
    if simulate "${offenders[@]}"; then why+=$harm; else why+="  find no plan at all
"; fi
    codename=""
    [ "$(os_field ID)" != debian ] || [ -n "${FORGE_TEST_NO_BACKPORTS:-}" ] || codename=$(os_field VERSION_CODENAME)
    [ -n "$codename" ] || die "$why(see $APT_LOG). Refusing: this script never removes or downgrades a package. Install
${offenders[*]} in a version that fits the installed packages yourself, then run this again.${FORGE_TEST_NO_BACKPORTS:+
(FORGE_TEST_NO_BACKPORTS is set: without it, this script tries $(os_field VERSION_CODENAME)-backports.)}"
    printf '%s' "$why" | sed 's/^/  /'
    echo "  trying $codename-backports instead"
    added_source=""
    # (grep reads all of apt-cache's output: with -q, pipefail would see apt-cache's SIGPIPE.)
    if ! LC_ALL=C apt-cache policy | grep -c " $codename-backports/" >/dev/null; then
      echo "  adding $codename-backports to apt's sources ($BACKPORTS_SOURCE)"
      cat >"$BACKPORTS_SOURCE" <<EOF
# Added by forge's scripts/test.sh: ${offenders[*]} from $codename-backports, to match packages
# already installed from there. Backports have priority 100: nothing else is taken from here.
Types: deb
URIs: http://deb.debian.org/debian
Suites: $codename-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
      added_source=1
      log "added $BACKPORTS_SOURCE; apt-get update"
      "${APT[@]}" update </dev/null >>"$APT_LOG" 2>&1 || { rm -f "$BACKPORTS_SOURCE"; die "apt-get update with $codename-backports failed: see $APT_LOG"; }
    fi
    # Each offender from backports, and then only those of its dependencies that apt says must
    # come from there too (an unmet "Depends: X (>= v)" whose backports version fits), until
    # the plan resolves without removing or downgrading anything.
    bpo=()
    for p in "${offenders[@]}"; do bpo+=("$p/$codename-backports"); done
    resolved=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      if simulate "${bpo[@]}"; then
        [ -n "$harm" ] || resolved=1
        break
      fi
      added=""
      while read -r dep; do
        case " ${bpo[*]} " in *" $dep/"*) continue ;; esac
        LC_ALL=C apt-cache madison "$dep" | grep -c " $codename-backports/" >/dev/null || continue
        bpo+=("$dep/$codename-backports")
        added=1
      done < <(sed -n 's/.*Depends: \([^ ]*\) (.*/\1/p' <<<"$sim_out" | sort -u)
      [ -n "$added" ] || break
    done
    if [ -n "$resolved" ]; then
      backports=$codename-backports
      [ -z "$added_source" ] || echo "file $BACKPORTS_SOURCE" >>"$RECORD"
      [ -z "$added_source" ] || echo "  kept $BACKPORTS_SOURCE (apt's backports priority 100: only what is asked for comes from it)"
    else
      if [ -n "$added_source" ]; then
        rm -f "$BACKPORTS_SOURCE"
        "${APT[@]}" update </dev/null >>"$APT_LOG" 2>&1 || true
      fi
      die "$why(and $codename-backports does not resolve it either: see $APT_LOG). Refusing: this
script never removes or downgrades a package. Install ${offenders[*]} in a version that fits the
installed packages yourself, then run this again."
    fi
  fi

  # Keep the packages' own services (sshd on 22, tinyproxy, danted, docker-registry on 5000)
  # from starting.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  [ ${#rest[@]} -eq 0 ] || apt_install "${rest[@]}"
  if [ -n "$backports" ]; then
    echo "  from $backports: ${bpo[*]%/*}"
    apt_install "${bpo[@]}"
    # The dependencies named only to pick their backports version stay automatically installed.
    deps=("${bpo[@]:${#offenders[@]}}")
    [ ${#deps[@]} -eq 0 ] || apt-mark auto "${deps[@]%/*}" >>"$APT_LOG" 2>&1 || true
  fi
  [ -z "$policy" ] || { rm -f "$policy"; trap - EXIT; }
fi

# venv_install VENV SPEC CHECK...: unless VENV is complete and CHECK passes, (re)makes VENV from
# Debian's python3 and pip-installs SPEC (requirements separated by spaces) into it; once per
# machine (flock: concurrent runs share it). The virtualenv is recorded for
# scripts/prove-readme.sh --remove-installed.
venv_install() {
  local venv=$1 spec=$2 specs
  shift 2
  read -ra specs <<<"$spec"
  { [ -f "$venv/.complete" ] && "$@"; } && return 0
  echo "installing: $spec from PyPI into $venv (pip's output: $PIP_LOG)"
  (
    flock 9
    if ! { [ -f "$venv/.complete" ] && "$@"; }; then
      rm -rf "$venv"
      printf '\n=== %s python3 -m venv %s; pip install %s\n' "$(date -u '+%F %T')" "$venv" "$spec" >>"$PIP_LOG"
      /usr/bin/python3 -m venv "$venv" >>"$PIP_LOG" 2>&1 || die "python3 -m venv $venv failed: see $PIP_LOG"
      grep -qx "dir $venv" "$RECORD" 2>/dev/null || echo "dir $venv" >>"$RECORD"
      "$venv/bin/python3" -m pip install --disable-pip-version-check "${specs[@]}" \
        </dev/null >>"$PIP_LOG" 2>&1 || die "pip install $spec failed: see $PIP_LOG"
      touch "$venv/.complete"
    fi
  ) 9>"$venv.lock"
}

# moto: the virtualenv when the python3 on PATH lacks it.
if [ -z "$python" ]; then
  venv_install "$VENV" "moto[server]==$MOTO_VERSION" moto_ok "$VENV/bin/python3"
  python=$VENV/bin/python3
fi
if [ "$python" = "$VENV/bin/python3" ]; then
  export PATH="$VENV/bin:$PATH" FORGE_PYTHON=$python
fi

# ansible-core: always its own virtualenv. The tests find it through FORGE_ANSIBLE
# (forge-testkit's ansible bed); it is not put on PATH.
venv_install "$ANSIBLE_VENV" "ansible-core==$ANSIBLE_VERSION" ansible_ok
export FORGE_ANSIBLE=$ANSIBLE_VENV/bin

# pywinrm and pypsrp: always their own virtualenv, found by forge-wsman's python_clients test
# through FORGE_WINRM_PY.
venv_install "$WINRM_PY_VENV" "pywinrm==$PYWINRM_VERSION pypsrp==$PYPSRP_VERSION" winrm_py_ok
export FORGE_WINRM_PY=$WINRM_PY_VENV/bin/python3

# google-cloud-compute: its own virtualenv, found by forge-testkit's gce_python test through
# FORGE_GCE_PY.
venv_install "$GCE_PY_VENV" "google-cloud-compute==$GCE_PY_VERSION google-cloud-os-login==$GCE_PY_OSLOGIN_VERSION" gce_py_ok
export FORGE_GCE_PY=$GCE_PY_VENV/bin/python3

# azure-identity and the azure-mgmt-* clients: their own virtualenv, found by forge-testkit's
# arm_python test through FORGE_AZURE_PY.
venv_install "$AZURE_PY_VENV" "$AZURE_PY_SPECS" azure_py_ok
export FORGE_AZURE_PY=$AZURE_PY_VENV/bin/python3

# vcsim: crates/forge-testkit/vcsim/main.go built offline against Debian's govmomi (GOPATH mode:
# Debian ships it under /usr/share/gocode). Rebuilt only when the source, Go or govmomi changed
# (the stamp); flock, as concurrent runs share it. The tests find it through FORGE_VCSIM.
VCSIM_SRC=crates/forge-testkit/vcsim/main.go
vcsim_stamp() {
  sha256sum <"$VCSIM_SRC"
  /usr/bin/go version 2>&1
  dpkg-query -W -f '${Version}\n' golang-github-vmware-govmomi-dev 2>&1
}
vcsim_built() { [ -x "$VCSIM_DIR/vcsim" ] && [ "$(cat "$VCSIM_DIR/.stamp" 2>/dev/null)" = "$(vcsim_stamp)" ]; }
if ! vcsim_built; then
  echo "building vcsim into $VCSIM_DIR (go build, offline; its output: $GO_LOG)"
  mkdir -p "$VCSIM_DIR"
  grep -qx "dir $VCSIM_DIR" "$RECORD" 2>/dev/null || echo "dir $VCSIM_DIR" >>"$RECORD"
  (
    flock 9
    if ! vcsim_built; then
      printf '\n=== %s go build %s\n' "$(date -u '+%F %T')" "$VCSIM_SRC" >>"$GO_LOG"
      GO111MODULE=off GOFLAGS= GOPROXY=off GOPATH=/usr/share/gocode GOCACHE="$VCSIM_DIR/gocache" \
        /usr/bin/go build -o "$VCSIM_DIR/vcsim.new" "$VCSIM_SRC" </dev/null >>"$GO_LOG" 2>&1 \
        || die "building vcsim ($VCSIM_SRC, Debian's golang-go and golang-github-vmware-govmomi-dev) failed: see $GO_LOG"
      mv "$VCSIM_DIR/vcsim.new" "$VCSIM_DIR/vcsim"
      vcsim_stamp >"$VCSIM_DIR/.stamp"
    fi
  ) 9>"$VCSIM_DIR/.lock"
fi
export FORGE_VCSIM=$VCSIM_DIR/vcsim

# Everything the tests run, checked after the install: the first one missing stops the run.
logs="apt's output is in $APT_LOG"
for need in "${NEEDS[@]}"; do
  [ -e "${need%%:*}" ] || die "${need%%:*} is missing after the install (Debian package ${need#*:}); $logs"
done
check() { # check WHAT PACKAGE COMMAND...: runs COMMAND; fails naming WHAT when it does not work
  local what=$1 pkg=$2; shift 2
  "$@" >/dev/null 2>&1 || die "$what does not work after the install (\`$*\` fails; Debian package $pkg); $logs"
}
check qemu-img qemu-utils qemu-img --version
check qemu-system-x86_64 qemu-system-x86 qemu-system-x86_64 --version
check "packer 1.6.6" packer sh -c '/usr/bin/packer version | grep -q "v1\.6\.6"'
check "a static busybox" busybox-static sh -c '/bin/busybox true && ! ldd /bin/busybox'
check "the docker CLI" docker.io docker --version
check "the Docker engine (docker version)" docker.io sh -c 'docker version --format "{{.Server.Version}}"'
check "apt-cache (the boot command test's kernel)" apt sh -c 'apt-cache depends linux-image-amd64 | grep -q "Depends: linux-image-"'
check "moto $MOTO_VERSION" "moto[server] from PyPI, $PIP_LOG" moto_ok "$python"
check "ansible-core $ANSIBLE_VERSION" "ansible-core from PyPI, $PIP_LOG" ansible_ok
check "pywinrm $PYWINRM_VERSION and pypsrp $PYPSRP_VERSION" "pywinrm and pypsrp from PyPI, $PIP_LOG" winrm_py_ok
check "google-cloud-compute $GCE_PY_VERSION" "google-cloud-compute from PyPI, $PIP_LOG" gce_py_ok
check "the Azure Python clients ($AZURE_PY_SPECS)" "azure-identity and azure-mgmt-* from PyPI, $PIP_LOG" azure_py_ok
check "vcsim ($FORGE_VCSIM -once)" "golang-github-vmware-govmomi-dev; $GO_LOG" timeout 60 "$FORGE_VCSIM" -once
echo "test beds ready in $SECONDS s: every tool the tests need is installed (moto: $python)"
[ -z "$setup_only" ] || exit 0

# Packer must not phone home during conformance runs.
export CHECKPOINT_DISABLE=1

if [ ${#test_args[@]} -gt 0 ]; then
  cargo test --workspace --locked -- "${test_args[@]}"
else
  cargo test --workspace --locked
fi
