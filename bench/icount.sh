#!/usr/bin/env bash
# Compares two forge binaries (say, before and after a refactoring) by the instructions they
# execute, counted by valgrind's callgrind. Instruction counts do not depend on the machine's
# load, so this comparison holds on a busy machine where wall times do not.
#
# Work measured, each as the sum over its runs:
#   validate-syntax   `forge validate -syntax-only` of every STRIDE-th corpus entry
#   validate-full     `forge validate` of the same entries
#   hcl2-upgrade      `forge hcl2_upgrade` of the same entries' JSON templates
#   fmt-check         `forge fmt -check` of the same entries' HCL files
#   null-build        `forge build` of a null-builder template with 20 shell-local provisioners
#
# Usage: bench/icount.sh OLD_FORGE NEW_FORGE
# Environment: STRIDE (default 8: every 8th entry of the corpus's MANIFEST.tsv),
# FORGE_CORPUS (default ../shared/corpus).
# Needs: valgrind (Debian `valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 OLD_FORGE NEW_FORGE" >&2; exit 2; }
OLD=$(realpath "$1"); NEW=$(realpath "$2")
CORPUS=$(realpath "${FORGE_CORPUS:-../shared/corpus}")
STRIDE=${STRIDE:-8}
command -v valgrind >/dev/null || { echo "install Debian's valgrind package" >&2; exit 1; }
[ -f "$CORPUS/MANIFEST.tsv" ] || { echo "corpus expected at $CORPUS (set FORGE_CORPUS)" >&2; exit 1; }
export CHECKPOINT_DISABLE=1
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

entries=$(tail -n +2 "$CORPUS/MANIFEST.tsv" | cut -f1 | awk -v s="$STRIDE" 'NR % s == 1')
json=$(for e in $entries; do case $e in *.json) echo "$CORPUS/$e";; esac; done)
hcl=$(for e in $entries; do
  if [ -d "$CORPUS/$e" ]; then find "$CORPUS/$e" -maxdepth 1 -name '*.pkr.hcl'
  else case $e in *.pkr.hcl) echo "$CORPUS/$e";; esac; fi
done)

# A null build: 20 shell-local provisioners, each one echo.
mkdir -p "$WORK/null"
{
  echo 'source "null" "n" { communicator = "none" }'
  echo 'build {'
  echo '  sources = ["source.null.n"]'
  for i in $(seq 1 20); do echo "  provisioner \"shell-local\" { inline = [\"echo $i\"] }"; done
  echo '}'
} > "$WORK/null/build.pkr.hcl"

# Instructions of one run of "$@" (forge only, not its children); any exit status counts.
icount() {
  local log="$WORK/cg.log"
  (cd "$WORK" && valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file="$log" \
    "$@" >/dev/null 2>&1) || true
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log" | tail -1
}

# Sum of icount over a list of argument tails, for one binary and one subcommand.
sum_runs() {
  local bin=$1 list=$2; shift 2
  local total=0 n
  for f in $list; do
    n=$(icount "$bin" "$@" "$f"); total=$(( total + ${n:-0} ))
  done
  echo "$total"
}

measure() {
  local bin=$1 what=$2
  case $what in
    validate-syntax) sum_runs "$bin" "$(for e in $entries; do echo "$CORPUS/$e"; done)" validate -syntax-only ;;
    validate-full) sum_runs "$bin" "$(for e in $entries; do echo "$CORPUS/$e"; done)" validate ;;
    hcl2-upgrade) sum_runs "$bin" "$json" hcl2_upgrade -output-file=/dev/null ;;
    fmt-check) sum_runs "$bin" "$hcl" fmt -check ;;
    null-build) icount "$bin" build "$WORK/null" ;;
  esac
}

printf '%-16s %16s %16s %8s\n' work old new new/old
for what in validate-syntax validate-full hcl2-upgrade fmt-check null-build; do
  o=$(measure "$OLD" "$what"); n=$(measure "$NEW" "$what")
  ratio=$(python3 -c "import sys; o,n=int(sys.argv[1]),int(sys.argv[2]); print('%.3f' % (n/o if o else 0))" "$o" "$n")
  printf '%-16s %16s %16s %8s\n' "$what" "$o" "$n" "$ratio"
done
echo "($(echo "$entries" | wc -w) corpus entries: every ${STRIDE}th; $(echo "$json" | wc -w) JSON, $(echo "$hcl" | wc -w) HCL files)"
