#!/usr/bin/env bash
# How long forge takes to reject (or accept) adversarial HCL text, next to Packer 1.6.6: inputs
# shaped like the ones fuzzing found (operands nested 63 deep that fail only at the innermost
# level, after a chain of binary operators at every level) and large inputs of up to 64 KiB.
# Each is handed over the way users hand text to forge: a `forge console` line, a `-var` value
# for a list(string) variable, and a template attribute (`forge validate`).
#
# Prints one row per input and path: the input's size, forge's and packer's median wall time.
# Targets: under 10 ms of parsing for the fuzzer's inputs, never more than 1 s for any input of
# up to 64 KiB (process start-up included in these whole-process figures).
#
# Usage: bench/parser-complexity.sh              (builds target/release/forge first)
#        FORGE=path/to/forge bench/parser-complexity.sh
# Environment: RUNS (default 5), PACKER (default /usr/bin/packer; its column is "-" when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
PACKER=${PACKER:-/usr/bin/packer}
if [ -z "${FORGE:-}" ]; then
  cargo build --release --bin forge -q
  FORGE=${CARGO_TARGET_DIR:-target}/release/forge
fi
FORGE=$(realpath "$FORGE")
export CHECKPOINT_DISABLE=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# nest OPEN INNER CLOSE DEPTH: OPEN repeated DEPTH times, INNER, CLOSE repeated.
nest() {
  local out="" i
  for ((i = 0; i < $4; i++)); do out+=$1; done
  out+=$2
  for ((i = 0; i < $4; i++)); do out+=$3; done
  printf '%s' "$out"
}

# big PART BYTES: PART repeated up to BYTES bytes.
big() {
  local out=""
  while [ ${#out} -lt $(($2 - ${#1})) ]; do out+=$1; done
  printf '%s' "$out"
}

names=() inputs=()
add() { names+=("$1"); inputs+=("$2"); }
add "parenthesised operands, depth 63" "$(nest '1*1*(' '1!x' ')' 63)"
add "object keys, depth 60" "$(nest '1*1*{(' '1!x' ')=1}' 60)"
add "function arguments, depth 63" "$(nest '1*1*f(' '1!x' ')' 63)"
add "interpolations, depth 60" "$(nest '1*1*"${' '1!x' '}"' 60)"
add "64 KiB operator chain" "$(big '1*!2+' 65000)1"
add "64 KiB list of strings" "[$(big '"abcdefghij",' 65000)\"z\"]"
add "64 KiB nested lists, depth 60" "$(nest '[' "$(big '1,' 64500)1" ']' 60)"
add "64 KiB objects with a repeated key" "[$(big '{a=1,a=2},' 65000){a=1}]"

cat >"$work/t.pkr.hcl" <<'EOF'
variable "x" {
  type    = list(string)
  default = []
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
}
EOF

# median_ms CMD...: the median wall time of RUNS runs, in milliseconds (exit codes ignored).
median_ms() {
  local times=() i s e
  for ((i = 0; i < RUNS; i++)); do
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 </dev/null || true
    e=$(date +%s%N)
    times+=($(((e - s) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

console() { printf '%s\n' "$2" | "$1" console; }
var_flag() { "$1" validate -var "x=$2" "$work/t.pkr.hcl"; }
attribute() {
  printf 'locals {\n  x = %s\n}\n' "$2" >"$work/attr.pkr.hcl"
  "$1" validate "$work/attr.pkr.hcl"
}

printf '%-40s %-10s %8s %10s %10s\n' input path bytes "forge ms" "packer ms"
for i in "${!names[@]}"; do
  for path in console var_flag attribute; do
    f=$(median_ms $path "$FORGE" "${inputs[$i]}")
    p=-
    [ -x "$PACKER" ] && p=$(median_ms $path "$PACKER" "${inputs[$i]}")
    printf '%-40s %-10s %8d %10s %10s\n' "${names[$i]}" "$path" "${#inputs[$i]}" "$f" "$p"
  done
done
