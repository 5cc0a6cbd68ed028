#!/usr/bin/env bash
# Runs `forge validate -syntax-only` and `packer validate -syntax-only` side by side over the
# template corpus and prints wall time and peak RSS for each: one small template measured with
# many repetitions, and the whole corpus in one pass.
#
# Usage: bench/validate-side-by-side.sh [FORGE_BINARY]   (default: target/release/forge)
# Needs: hyperfine and GNU time (Debian `hyperfine`, `time`); packer on PATH for the comparison
# (Debian `packer`).
# Figures depend on the machine: run it on the project's 2-core machine kind.
set -euo pipefail
cd "$(dirname "$0")/.."
FORGE=${1:-target/release/forge}
CORPUS=${FORGE_CORPUS:-../shared/corpus}
[ -x "$FORGE" ] || cargo build --release -q
[ -f "$CORPUS/MANIFEST.tsv" ] || { echo "corpus expected at $CORPUS (set FORGE_CORPUS)"; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "install Debian's time package"; exit 1; }
command -v hyperfine >/dev/null || { echo "install Debian's hyperfine package"; exit 1; }
export CHECKPOINT_DISABLE=1

ONE="$CORPUS/hashicorp__packer/hcl2template/testdata/build/variables.pkr.hcl"
[ -f "$ONE" ] || ONE=$(find "$CORPUS" -name '*.pkr.hcl' | head -1)

# Median wall time of N runs (hyperfine) and the peak RSS of one run (GNU time).
measure() {
  local n=$1; shift
  local json tmp median rss
  json=$(mktemp); tmp=$(mktemp)
  hyperfine -N -i -w 3 -r "$n" --export-json "$json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1
  median=$(python3 -c "import json,sys; print('%.1f' % (json.load(open(sys.argv[1]))['results'][0]['median']*1000))" "$json")
  /usr/bin/time -o "$tmp" -f '%M' "$@" >/dev/null 2>&1 || true
  rss=$(tail -1 "$tmp")
  rm -f "$json" "$tmp"
  echo "$median ms, peak RSS $(( rss / 1024 )) MiB"
}

echo "one template ($ONE), median of 30:"
echo "  forge  validate -syntax-only: $(measure 30 "$FORGE" validate -syntax-only "$ONE")"
if command -v packer >/dev/null; then
  echo "  packer validate -syntax-only: $(measure 10 packer validate -syntax-only "$ONE")"
fi

# The whole corpus: every entry once, in one shell loop, per tool.
entries=$(tail -n +2 "$CORPUS/MANIFEST.tsv" | cut -f1)
run_all() {
  for e in $entries; do "$@" "$CORPUS/$e" >/dev/null 2>&1 || true; done
}
start=$(date +%s%N); run_all "$FORGE" validate -syntax-only; end=$(date +%s%N)
echo "whole corpus ($(echo "$entries" | wc -l) entries), syntax-only:"
echo "  forge:  $(( (end - start) / 1000000 )) ms"
if command -v packer >/dev/null; then
  start=$(date +%s%N); run_all packer validate -syntax-only; end=$(date +%s%N)
  echo "  packer: $(( (end - start) / 1000000 )) ms"
fi
start=$(date +%s%N); run_all "$FORGE" validate; end=$(date +%s%N)
echo "whole corpus, full validate (forge): $(( (end - start) / 1000000 )) ms"
