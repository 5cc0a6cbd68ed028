#!/usr/bin/env bash
# How forge build scales with concurrent builds, next to Packer 1.6.6: one template with 1 build
# and one with N (default 20) builds, all null builders (communicator none) running one
# shell-local provisioner that sleeps 2 s and hashes a little (`seq 1 20000 | sha256sum`).
# Every build runs at once, so N builds should take about as long as one.
#
# Prints, per tool: the wall time of 1 build and of N builds, their ratio (target <= 1.5), the
# peak RSS of the largest single process (GNU time's %M: for forge, forge itself) and the peak
# RSS of the whole process tree (sampled with ps every 50 ms: the tool, its plugins and the
# scripts it runs), each divided by N (target for forge: <= 30 MiB per build).
#
# Usage: bench/parallel-builds.sh             (builds target/release/forge first)
#        FORGE=path/to/forge bench/parallel-builds.sh
# Environment: N (builds, default 20), RUNS (runs per measurement, median wall time and highest
# RSS kept; default 3), PACKER (default /usr/bin/packer; skipped when missing).
# Needs: GNU time (installed with apt when missing); hyperfine is used too when installed.
# Figures depend on the machine and on its load: run it on the project's 2-core machine kind.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-20}
RUNS=${RUNS:-3}
PACKER=${PACKER:-/usr/bin/packer}
if [ -z "${FORGE:-}" ]; then
  cargo build --release --bin forge -q
  FORGE=${CARGO_TARGET_DIR:-target}/release/forge
fi
FORGE=$(realpath "$FORGE")

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (apt)" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends --no-remove time >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CHECKPOINT_DISABLE=1
unset PACKER_NO_COLOR PACKER_LOG
export TMPDIR="$work/tmp" FORGE_STATE_DIR="$work/state"
mkdir -p "$TMPDIR" "$FORGE_STATE_DIR"

# Writes a template with $1 builds to $work/t$1/t.pkr.hcl.
template() {
  local n=$1 d="$work/t$1" i sources=""
  mkdir -p "$d"
  : >"$d/t.pkr.hcl"
  for i in $(seq 1 "$n"); do
    printf 'source "null" "b%d" {\n  communicator = "none"\n}\n\n' "$i" >>"$d/t.pkr.hcl"
    sources+="\"source.null.b$i\", "
  done
  cat >>"$d/t.pkr.hcl" <<EOF
build {
  sources = [${sources%, }]

  provisioner "shell-local" {
    inline = ["sleep 2", "seq 1 20000 | sha256sum"]
  }
}
EOF
}

# Peak summed RSS (KiB) of every descendant of pid $1, sampled until it exits; printed at the end.
tree_rss() {
  local root=$1 peak=0 now
  while kill -0 "$root" 2>/dev/null; do
    now=$(ps -e -o pid=,ppid=,rss= | awk -v root="$root" '
      { parent[$1] = $2; rss[$1] = $3 }
      END {
        total = 0
        for (p in parent) {
          q = parent[p]
          while (q != "" && q != 0 && q != 1) {
            if (q == root) { total += rss[p]; break }
            q = parent[q]
          }
        }
        print total
      }')
    [ "${now:-0}" -gt "$peak" ] && peak=$now
    sleep 0.05
  done
  echo "$peak"
}

# One run of tool $1 on the template with $2 builds: prints "wall_s maxrss_kib tree_kib".
once() {
  local tool=$1 n=$2 d="$work/t$2" tf="$work/time.out" out="$work/build.out" pid tree
  (cd "$d" && exec /usr/bin/time -f '%e %M' -o "$tf" "$tool" build -color=false t.pkr.hcl >"$out" 2>&1) &
  pid=$!
  tree=$(tree_rss "$pid")
  wait "$pid" || { echo "build failed ($tool, $n builds):" >&2; cat "$out" >&2; exit 1; }
  local finished
  finished=$(grep -c "^Build '.*' finished after" "$out" || true)
  [ "$finished" = "$n" ] || { echo "expected $n finished builds, saw $finished ($tool):" >&2; cat "$out" >&2; exit 1; }
  echo "$(tail -1 "$tf") $tree"
}

# RUNS runs: prints "median_wall max_maxrss max_tree".
measure() {
  local tool=$1 n=$2 r walls=() rss=0 tree=0 w m t
  for r in $(seq 1 "$RUNS"); do
    read -r w m t < <(once "$tool" "$n")
    walls+=("$w")
    [ "$m" -gt "$rss" ] && rss=$m
    [ "$t" -gt "$tree" ] && tree=$t
  done
  w=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  echo "$w $rss $tree"
}

mib() { awk -v k="$1" -v d="${2:-1}" 'BEGIN { printf "%.1f", k / 1024 / d }'; }

report() {
  local label=$1 tool=$2 w1 m1 t1 wn mn tn ratio
  echo "$label ($tool), median of $RUNS runs:"
  read -r w1 m1 t1 < <(measure "$tool" 1)
  read -r wn mn tn < <(measure "$tool" "$N")
  ratio=$(awk -v a="$wn" -v b="$w1" 'BEGIN { printf "%.2f", a / b }')
  printf '  1 build:   wall %6.2f s   peak RSS: largest process %7s MiB, process tree %7s MiB\n' \
    "$w1" "$(mib "$m1")" "$(mib "$t1")"
  printf '  %d builds: wall %6.2f s   peak RSS: largest process %7s MiB, process tree %7s MiB\n' \
    "$N" "$wn" "$(mib "$mn")" "$(mib "$tn")"
  printf '  wall ratio %d/1: %s (target <= 1.5: %s)\n' "$N" "$ratio" \
    "$(awk -v r="$ratio" 'BEGIN { print (r <= 1.5) ? "met" : "MISSED" }')"
  printf '  per build (%d builds): largest process %s MiB, process tree %s MiB (target <= 30 MiB: %s)\n' \
    "$N" "$(mib "$mn" "$N")" "$(mib "$tn" "$N")" \
    "$(awk -v k="$tn" -v n="$N" 'BEGIN { print (k / 1024 / n <= 30) ? "met" : "MISSED" }')"
  if command -v hyperfine >/dev/null; then
    for n in 1 "$N"; do
      (cd "$work/t$n" && hyperfine -N -w 1 -r "$RUNS" --style basic \
        "$tool build -color=false t.pkr.hcl" 2>/dev/null | sed -n 's/^ *Time/  hyperfine, '"$n"' build(s): Time/p')
    done
  fi
}

template 1
template "$N"
report forge "$FORGE"
if [ -x "$PACKER" ]; then
  report "packer $("$PACKER" version | head -1)" "$PACKER"
else
  echo "packer: $PACKER missing, no comparison (Debian: apt-get install packer)"
fi
