#!/usr/bin/env bash
# Fuzzes forge's text inputs with cargo-fuzz (libFuzzer): parse_eval (HCL2 templates, `-var`
# values and console lines), legacy_json (legacy JSON templates and `{{ }}` templates) and fmt
# (`forge fmt`). A slow unit counts as a failure (-timeout=2), as does using more than 2 GiB.
#
# Usage: fuzz/run.sh [SECONDS] [TARGET...]     (default: 3600 seconds each, every target)
# Environment: FORGE_CORPUS (default ../shared/corpus): the templates the seed corpus is made
# from, copied into fuzz/corpus/TARGET (not committed).
# Needs: a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). Findings land in fuzz/artifacts/TARGET; the log of each run in
# fuzz/logs/TARGET.log. Exits non-zero when any target found a crash, a timeout or an OOM.
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:-3600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse_eval legacy_json fmt)
corpus_src=${FORGE_CORPUS:-../../shared/corpus}
[ -d "$corpus_src" ] || { echo "the template corpus is expected at $corpus_src (set FORGE_CORPUS)" >&2; exit 1; }
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 1; }

# seed TARGET: the corpus's files of the kinds TARGET reads, one file each.
seed() {
  local dir=corpus/$1 pattern
  case $1 in
    legacy_json) pattern='*.json' ;;
    *) pattern='*.hcl' ;;
  esac
  mkdir -p "$dir"
  find "$corpus_src" -type f -name "$pattern" -size -64k -print0 |
    while IFS= read -r -d '' f; do cp "$f" "$dir/$(sha1sum "$f" | cut -c1-16)"; done
}

mkdir -p logs
status=0
for t in "${targets[@]}"; do
  seed "$t"
  echo "fuzzing $t for ${secs}s (seeds: $(find "corpus/$t" -type f | wc -l))"
  if cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=2 -rss_limit_mb=2048 -print_final_stats=1 \
    >"logs/$t.log" 2>&1; then
    echo "$t: nothing found; $(grep -E '^stat::number_of_executed_units' "logs/$t.log" | tail -1)"
  else
    status=1
    echo "$t: FOUND something, see fuzz/logs/$t.log and fuzz/artifacts/$t" >&2
    tail -20 "logs/$t.log" >&2
  fi
done
exit $status
