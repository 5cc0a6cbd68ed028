#!/usr/bin/env bash
# Benchmark: uploading an ISO to the vcsim datastore with forge's uploader
# (crates/forge-vsphere/examples/upload.rs) against `curl -k -T` to the same /folder endpoint
# with the same session cookie. Each is run RUNS times alternately (each run overwrites its file);
# the best of each is reported.
#
#   scripts/bench-vsphere-upload.sh [SIZE_MIB=1024] [RUNS=3]
#
# Needs the vcsim test bed (scripts/test.sh --setup-only) and curl. Not a test: figures only.
set -euo pipefail
SIZE=${1:-1024}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VCSIM=${FORGE_VCSIM:-/var/tmp/forge-test-vcsim/vcsim}
WORK=$(mktemp -d)
SIM_PID=
trap '[ -n "$SIM_PID" ] && kill $SIM_PID 2>/dev/null; rm -rf "$WORK"' EXIT
USER_=bench PASS=bench-pass

# PROFILE=release for the release profile; the default dev profile builds dependencies (rustls,
# hyper) at opt-level 1, so its figure is a lower bound for the release binary's.
PROFILE=${PROFILE:-dev}
cargo build -q -j1 --profile "$PROFILE" -p forge-vsphere --example upload
DIR=$PROFILE; [ "$PROFILE" = dev ] && DIR=debug
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$DIR/examples/upload

head -c $((SIZE << 20)) /dev/urandom > "$WORK/big.iso"
"$VCSIM" -listen 127.0.0.1:0 -username $USER_ -password $PASS -guest-ip "" \
  < /dev/null > "$WORK/url" 2> "$WORK/vcsim.log" &
SIM_PID=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL=$(head -1 "$WORK/url")
SERVER=${URL#https://}; SERVER=${SERVER%/sdk}

# A session for curl: the cookie SessionManager.Login sets.
ENV_A='<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
ENV_B='</soapenv:Body></soapenv:Envelope>'
curl -sk -c "$WORK/cookies" -H 'Content-Type: text/xml' \
  -d "$ENV_A<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>$USER_</userName><password>$PASS</password></Login>$ENV_B" \
  "$URL" > /dev/null
curl -sk -b "$WORK/cookies" -H 'Content-Type: text/xml' \
  -d "$ENV_A<MakeDirectory xmlns=\"urn:vim25\"><_this type=\"FileManager\">FileManager</_this><name>[LocalDS_0] bench</name><createParentDirectories>true</createParentDirectories></MakeDirectory>$ENV_B" \
  "$URL" > /dev/null

best_forge=0 best_curl=0
for i in $(seq "$RUNS"); do
  f=$("$BIN" "$SERVER" $USER_ $PASS LocalDS_0 bench/forge.iso "$WORK/big.iso" | sed 's/.*= \([0-9.]*\) MiB.*/\1/')
  c=$(curl -sk -b "$WORK/cookies" -T "$WORK/big.iso" -o /dev/null -w '%{speed_upload}' \
      "https://$SERVER/folder/bench/curl.iso?dcPath=DC0&dsName=LocalDS_0")
  c=$(awk -v b="$c" 'BEGIN { printf "%.1f", b / 1048576 }')
  echo "run $i: forge $f MiB/s, curl $c MiB/s"
  best_forge=$(awk -v a="$best_forge" -v b="$f" 'BEGIN { print (b > a) ? b : a }')
  best_curl=$(awk -v a="$best_curl" -v b="$c" 'BEGIN { print (b > a) ? b : a }')
done
awk -v f="$best_forge" -v c="$best_curl" -v s="$SIZE" \
  'BEGIN { printf "%d MiB, best of runs: forge %.1f MiB/s, curl %.1f MiB/s: forge at %.0f %% of curl\n", s, f, c, 100 * f / c }'
