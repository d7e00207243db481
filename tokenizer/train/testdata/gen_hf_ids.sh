#!/bin/sh
# Regenerates hf_ids.json: trains the fixture tokenizers of hf_test.go on corpus.txt.gz with
# the Go package, then encodes the sentences of heldout.json with Hugging Face's tokenizers
# (npm "tokenizers" 0.23.2, installed into a temporary directory).
#
# usage: sh tokenizer/train/testdata/gen_hf_ids.sh   (needs go, node and npm)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$here/.." && go test -count=1 -run '^TestHFCompat$' . -args -write-tokenizers "$tmp/json" >/dev/null)
(cd "$tmp" && npm init -y >/dev/null && npm install --ignore-scripts --no-audit --no-fund tokenizers@0.23.2 >/dev/null)
NODE_PATH="$tmp/node_modules" node "$here/hf_ids.js" "$tmp/json" "$here/heldout.json" >"$tmp/hf_ids.json"
mv "$tmp/hf_ids.json" "$here/hf_ids.json"
echo "wrote $here/hf_ids.json"
