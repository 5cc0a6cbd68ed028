#!/usr/bin/env bash
# Regenerates the expected column of crates/forge-template/tests/functions/cases.tsv by running
# every expression through `packer console` (Packer 1.6.6 is the reference). Rows are
# `expr<TAB>expected`; newlines, tabs and backslashes in the expected text are written as \n, \t
# and \\. Errors are written as `Error: <detail>` with the detail's line wrapping undone.
#
# Usage: scripts/console-golden.sh [path/to/packer]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tsv="$root/crates/forge-template/tests/functions/cases.tsv"
fixtures="$root/crates/forge-template/tests/functions/fixtures"
packer=${1:-${PACKER:-packer}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$fixtures/." "$work/"
printf 'variable "x" {\n default = "a"\n}\n' > "$work/t.pkr.hcl"
python3 - "$tsv" "$packer" "$work" <<'PY'
import subprocess, sys

tsv, packer, work = sys.argv[1:4]

def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")

def run(expr):
    p = subprocess.run([packer, "console", "t.pkr.hcl"], input=expr + "\n", cwd=work,
                       capture_output=True, text=True, timeout=60)
    out = p.stdout
    if p.returncode == 0 and "Error: " not in out[:7]:
        return out[:-1] if out.endswith("\n") else out
    text = (p.stdout + p.stderr).splitlines()
    # "Error: <summary>", blank, "  on <console-input> line 1:", "  (source code not
    # available)", blank, then the detail wrapped at ~78 columns, ended by a blank line.
    detail, started = [], False
    for i, line in enumerate(text):
        if not started:
            if line.strip() == "(source code not available)":
                started = True
            continue
        if not line.strip():
            if detail:
                break
            continue
        detail.append(line.strip())
    if not detail:
        # Errors without a source snippet: the line after the summary.
        detail = [l.strip() for l in text[1:] if l.strip()][:1]
    return "Error: " + " ".join(detail)

rows = []
with open(tsv, encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            rows.append(line)
            continue
        expr = line.split("\t", 1)[0]
        rows.append(expr + "\t" + escape(run(expr)))
with open(tsv, "w", encoding="utf-8") as f:
    f.write("\n".join(rows) + "\n")
print(f"regenerated {sum(1 for r in rows if r and not r.startswith('#'))} rows", file=sys.stderr)
PY
