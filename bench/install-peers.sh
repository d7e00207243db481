#!/usr/bin/env bash
# Installs the benchmark peers optiformer measures itself against (see PEERS.md):
# OpenBLAS through numpy, PyTorch 1.13 (Debian), python3-onnx (writes the int8 ONNX graph of
# `bench quant`), ONNX Runtime and Hugging Face tokenizers for
# Node (npm, into ~/.cache/optiformer/node, where the bench commands look for them).
# The peers are optional: without them the benchmarks print "peer": null.
set -euo pipefail
if command -v apt-get >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q python3-numpy libopenblas0-openmp libopenblas0-pthread python3-torch python3-onnx
fi
dir="${OPTIFORMER_NODE_MODULES:-${XDG_CACHE_HOME:-$HOME/.cache}/optiformer/node/node_modules}"
mkdir -p "$(dirname "$dir")"
cd "$(dirname "$dir")"
[ -f package.json ] || npm init -y >/dev/null
# --ignore-scripts: onnxruntime-node's postinstall tries to download; the binaries are in the package.
npm install --ignore-scripts onnxruntime-node@1.30.0 tokenizers@0.23.2
echo "peers installed; node packages in $dir"
