#!/usr/bin/env bash
# Proves the README's quick start on this machine: makes a throwaway copy of the repository (a git
# clone of the current commit), then runs the README's two commands there, as a new user would:
# scripts/quickstart.sh, then scripts/test.sh. Prints how long each took, and the peak memory of
# each (the largest single process, and all of the command's processes together).
#
# Usage: scripts/prove-readme.sh [--remove-installed] [--keep]
#   --remove-installed  just before scripts/test.sh, take away what an earlier scripts/test.sh
#                       installed, so that the copy's test.sh must install it again: the packages
#                       it installed (with the dependencies apt pulled in for them), the backports
#                       source it added and the moto virtualenv, as recorded in
#                       /var/lib/forge-test/installed. Never anything else: a package that came with
#                       the machine (qemu-utils in a cloud image, say) is not in that record. The
#                       removal is simulated first and refused when apt would remove anything
#                       outside the record, or when one of the programs is running (someone is
#                       testing): on a shared machine, this leaves a short window without them.
#   --keep              keep the copy (default: it is deleted; the logs are kept)
#
# Runs as root (scripts/test.sh does). Uncommitted changes are not in the copy. The corpus is
# reached as the README says: ../shared next to the copy is a symlink to this checkout's
# ../shared (or FORGE_CORPUS, when set, is passed on). Takes 20 to 30 minutes on 2 cores: both
# commands compile forge from nothing in the copy (release, then test profile).
# Logs: /var/tmp/forge-prove.*/logs (named at the start and the end).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "prove-readme: $*" >&2; exit 1; }

remove=""
keep=""
for arg in "$@"; do
  case "$arg" in
    --remove-installed) remove=1 ;;
    --keep) keep=1 ;;
    *) die "unknown option $arg (usage: scripts/prove-readme.sh [--remove-installed] [--keep])" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "run this as root: scripts/test.sh needs root (see the README)"

RECORD=/var/lib/forge-test/installed
APT_LOG=/var/log/forge-test/apt.log
APT=(apt-get -o DPkg::Lock::Timeout=300)

# Takes away what test.sh recorded (see --remove-installed above).
remove_installed() {
  if [ ! -s "$RECORD" ]; then
    echo "nothing to remove: $RECORD is empty or missing (test.sh installed nothing on this machine yet)"
    return 0
  fi
  local pkgs=() p line f prog pids plan outside
  while read -r p; do
    [ "$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] && pkgs+=("$p")
  done < <(sed -n 's/^deb //p' "$RECORD" | sort -u)
  if [ ${#pkgs[@]} -gt 0 ]; then
    for p in "${pkgs[@]}"; do
      while read -r f; do
        prog=$(basename "$f")
        if pids=$(pgrep -x "$prog" 2>/dev/null); then
          die "not removing $p: $prog is running (pid $(echo "$pids" | tr '\n' ' ')): someone is using it"
        fi
      done < <(dpkg -L "$p" | grep -E '^/usr/s?bin/[^/]+$' || true)
    done
    plan=$(LC_ALL=C "${APT[@]}" purge -s "${pkgs[@]}" 2>&1) || die "apt cannot plan the removal: $plan"
    outside=""
    while read -r line; do
      p=$(echo "$line" | cut -d' ' -f2)
      case " ${pkgs[*]} " in *" $p "*) ;; *) outside+=" $p" ;; esac
    done < <(grep -E '^(Remv|Purg) ' <<<"$plan" || true)
    [ -z "$outside" ] || die "removing what test.sh installed would also remove:$outside; not removing anything"
    echo "removing what scripts/test.sh installed: ${pkgs[*]}"
    printf '\n=== %s prove-readme: apt-get purge %s\n' "$(date -u '+%F %T')" "${pkgs[*]}" >>"$APT_LOG"
    DEBIAN_FRONTEND=noninteractive "${APT[@]}" purge -y "${pkgs[@]}" </dev/null >>"$APT_LOG" 2>&1 \
      || die "apt-get purge failed: see $APT_LOG"
  fi
  while read -r f; do
    case "$f" in /etc/apt/sources.list.d/forge-test-*) ;; *) die "unexpected file in $RECORD: $f" ;; esac
    echo "removing $f"
    rm -f "$f"
    "${APT[@]}" update </dev/null >>"$APT_LOG" 2>&1 || die "apt-get update failed: see $APT_LOG"
  done < <(sed -n 's/^file //p' "$RECORD" | sort -u)
  while read -r f; do
    # Only the test beds' own directories (the virtualenvs, the simulator).
    case "$f" in /var/tmp/forge-test-[a-z0-9-]*) ;; *) die "unexpected directory in $RECORD: $f" ;; esac
    echo "removing $f"
    rm -rf "$f"
  done < <(sed -n 's/^dir //p' "$RECORD" | sort -u)
  : >"$RECORD"
}

head=$(git -C "$src" rev-parse HEAD)
[ -z "$(git -C "$src" status --porcelain)" ] \
  || echo "note: $src has uncommitted changes; the copy has commit $head only"
base=$(mktemp -d /var/tmp/forge-prove.XXXXXX)
logs=$base/logs
copy=$base/forge
mkdir -p "$logs"
echo "copy: $copy (commit $head); logs: $logs"
git clone -q "$src" "$copy"
git -C "$copy" checkout -q --detach "$head"
if [ -n "${FORGE_CORPUS:-}" ]; then
  echo "corpus: FORGE_CORPUS=$FORGE_CORPUS"
elif [ -d "$src/../shared" ]; then
  ln -s "$(cd "$src/../shared" && pwd)" "$base/shared"
  echo "corpus: $base/shared -> $(readlink "$base/shared")"
else
  echo "corpus: none (no ../shared next to $src): the conformance tests that read it will fail"
fi
cleanup() {
  docker rmi forge-prove/hello:latest >/dev/null 2>&1 || true
  if [ -z "$keep" ]; then rm -rf "$copy"; fi
}
trap cleanup EXIT

# step NAME COMMAND...: runs COMMAND in the copy, its output in $logs/NAME.log, in a session of
# its own so that all its processes can be found; samples their summed RSS every 2 s.
results=()
failed=""
step() {
  local name=$1; shift
  local start=$SECONDS rc=0 peak=0 sid rss maxrss
  echo
  echo "=== $name: $* ($(date -u '+%T') UTC; output in $logs/$name.log)"
  (
    cd "$copy"
    if [ -x /usr/bin/time ]; then
      exec /usr/bin/time -v -o "$logs/$name.time" setsid -w "$@"
    else
      exec setsid -w "$@"
    fi
  ) </dev/null >"$logs/$name.log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    # The command's session: /usr/bin/time's child (setsid), or the subshell itself without time.
    sid=$(ps -o sid= -p "$(pgrep -P "$pid" -o 2>/dev/null || echo "$pid")" 2>/dev/null | tr -d ' ' || true)
    [ -n "$sid" ] || continue
    rss=$(ps -e -o sid=,rss= | awk -v s="$sid" '$1 == s { t += $2 } END { print t + 0 }')
    [ "$rss" -le "$peak" ] || peak=$rss
  done
  wait "$pid" || rc=$?
  maxrss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$logs/$name.time" 2>/dev/null || true)
  results+=("$(printf '  %-16s %6d s  exit %-3d  peak: one process %s, all together %s' "$name" \
    $((SECONDS - start)) "$rc" "${maxrss:+$((maxrss / 1024)) MiB}" "$((peak / 1024)) MiB")")
  tail -n 15 "$logs/$name.log"
  [ "$rc" = 0 ] || failed+=" $name"
}

step quickstart env EXAMPLE_REPO=forge-prove/hello ./scripts/quickstart.sh
if [ -n "$remove" ]; then
  echo
  echo "=== removing what scripts/test.sh installed before ($(date -u '+%T') UTC)"
  remove_installed
fi
step test ./scripts/test.sh

echo
echo "=== time taken (commit $head, $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB memory)"
printf '%s\n' "${results[@]}"
grep -h '^  [a-z ]* *[0-9]* s$' "$logs/quickstart.log" | sed 's/^/  quickstart: /' || true
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { if (p + f + i) printf "  tests: %d passed, %d failed, %d ignored\n", p, f, i }' \
  "$logs/test.log"
grep -E '^\s+(Finished|Compiling forge )' "$logs/test.log" | tail -n 2 | sed 's/^ */  test.sh: /' || true
echo "  disk: $(du -sh "$copy" | cut -f1) in the copy (nearly all of it target/)"
echo "logs: $logs"
[ -z "$failed" ] || die "failed:$failed"
