#!/usr/bin/env bash
# Compares forge's HCL formatter with `packer fmt` on every .pkr.hcl / .pkrvars.hcl file of
# the reference corpus.
#
# Usage: scripts/fmt-golden.sh [-v]
#   FORGE_CORPUS  corpus directory (default: shared/corpus beside the checkout)
#   PACKER        packer binary (default: packer on PATH)
#   KEEP_DIR      if set, keep packer's and forge's outputs there instead of a temp dir
#   -v            show a diff for every file that differs
#
# Packer 1.6.6 cannot format standard input, so each file is copied into a scratch
# directory and formatted there in place. Exit status: 0 when every file agrees.
set -euo pipefail

verbose=0
[[ ${1:-} == -v ]] && verbose=1

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ -n ${FORGE_CORPUS:-} ]]; then
    corpus=$FORGE_CORPUS
else
    corpus=
    for c in "$root/../shared/corpus" "$root/../../shared/corpus"; do
        if [[ -d $c ]]; then corpus=$c; break; fi
    done
fi
if [[ -z $corpus || ! -d $corpus ]]; then
    echo "corpus not found: set FORGE_CORPUS (expected shared/corpus beside the checkout)" >&2
    exit 2
fi
corpus=$(cd "$corpus" && pwd)

packer=${PACKER:-$(command -v packer || true)}
if [[ -z $packer ]]; then
    echo "packer not found: install Debian's packer (apt-get install packer)" >&2
    exit 2
fi

(cd "$root" && cargo build --quiet -p forge-template --example hclfmt)
forge="$root/target/debug/examples/hclfmt"

if [[ -n ${KEEP_DIR:-} ]]; then
    work=$KEEP_DIR
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi

total=0 same=0 differ=0
failed_both=0
while IFS= read -r -d '' file; do
    total=$((total + 1))
    rel=${file#"$corpus"/}
    dir="$work/$total"
    mkdir -p "$dir"
    base=$(basename "$file")
    cp "$file" "$dir/$base"

    packer_ok=1
    (cd "$dir" && "$packer" fmt "$base" >"$dir/packer.log" 2>&1) || packer_ok=0
    forge_ok=1
    "$forge" <"$file" >"$dir/forge.out" 2>"$dir/forge.err" || forge_ok=0

    if ((packer_ok == 0 && forge_ok == 0)); then
        same=$((same + 1))
        failed_both=$((failed_both + 1))
    elif ((packer_ok == 1 && forge_ok == 1)) && cmp -s "$dir/$base" "$dir/forge.out"; then
        same=$((same + 1))
    else
        differ=$((differ + 1))
        if ((packer_ok == 0)); then
            echo "DIFF $rel: packer fails, forge formats it"
        elif ((forge_ok == 0)); then
            echo "DIFF $rel: forge fails ($(head -c 300 "$dir/forge.err")), packer formats it"
        else
            echo "DIFF $rel: output differs"
            if ((verbose)); then
                diff -u --label packer --label forge "$dir/$base" "$dir/forge.out" || true
            fi
        fi
    fi
done < <(find "$corpus" -type f \( -name '*.pkr.hcl' -o -name '*.pkrvars.hcl' \) -print0 | sort -z)

echo "fmt conformance: $same/$total identical ($failed_both rejected by both), $differ differ"
((differ == 0))
