#!/usr/bin/env bash
# Multi30k English→German, the 60-minute recipe: train on this 2-core machine, then measure.
#
#   recipes/multi30k-en-de.sh [RUN_DIR]          (default runs/multi30k-en-de)
#   PEER=1 recipes/multi30k-en-de.sh [RUN_DIR]   also train the PyTorch 1.13 peer (another hour)
#   SAME_WEIGHTS=0 …                             skip step 3 (about 10 minutes)
#
# 1. train (2 threads): a unigram tokenizer of 8,000 tokens on both languages, then the
#    model of recipes/multi30k-en-de.json for its time budget (57 minutes of training, the
#    evaluations included: beam-4 BLEU on the 1,014 validation sentences every 400 steps,
#    with the weights' moving average, ema_decay 0.99; the tokenizer and the final evaluation
#    take the rest of the hour); the best checkpoint by validation BLEU is kept;
# 2. evaluate it on the 1,014 validation sentences: BLEU and chrF (sacreBLEU 2.x defaults,
#    cased, detokenized), greedy and beam 4, and the decoding speed at batch 1 and batch 32
#    on one thread;
# 3. when Debian's python3-torch is installed: the decoding speed of PyTorch 1.13 with the very
#    same weights (recipes/multi30k_torch.py --import-go, then --bench-decode) beside ours on
#    the first 256 validation sentences, greedy and beam 4, batch 1 and 32, one thread,
#    medians of 3 runs each, as ratios;
# 4. with PEER=1, train recipes/multi30k_torch.py (PyTorch, same sizes, tokenizer, data,
#    schedule and budget) and score its greedy and beam-4 output the same way.
#
# Everything lands in RUN_DIR; summary.txt has the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/multi30k-en-de}
mkdir -p "$run"
bin="$run/optiformer"
go build -o "$bin" ./cmd/optiformer
A=internal/assets
zcat $A/multi30k-val.en.gz > "$run/val.en"
zcat $A/multi30k-val.de.gz > "$run/val.de"

start=$(date +%s)
"$bin" train --task translation --config recipes/multi30k-en-de.json \
  --train $A/multi30k-train.en.gz,$A/multi30k-train.de.gz \
  --valid $A/multi30k-val.en.gz,$A/multi30k-val.de.gz \
  -o "$run/model" --threads 2 2>"$run/train.log" | tee "$run/train.txt"
echo "wall time of training (tokenizer, training, final evaluation): $(( $(date +%s) - start )) s" | tee -a "$run/train.txt"

: > "$run/eval.jsonl"
for beam in 1 4; do
  for batch in 1 32; do
    "$bin" eval --task translation --model "$run/model" --src "$run/val.en" --ref "$run/val.de" \
      --beam "$beam" --batch "$batch" --threads 1 --json | tee -a "$run/eval.jsonl"
  done
done
size=$(stat -c %s "$run/model/model.safetensors")

{
  echo "optiformer, Multi30k en→de validation (1,014 sentences)"
  cat "$run/train.txt"
  echo "model.safetensors: $size bytes"
  /usr/bin/env python3 - "$run/eval.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"beam {r['beam']} batch {r['batch']:>2} (1 thread): BLEU {r['bleu']:.2f}  chrF {r['chrf']:.2f}  "
          f"{r['tokens_per_s']:.0f} tokens/s  p50 {r['latency_ms']['p50']:.1f} ms")
PY
} | tee "$run/summary.txt"

PY=/usr/bin/python3
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if [ "${SAME_WEIGHTS:-1}" = 1 ] && "$PY" -c "import torch" 2>/dev/null; then
  same="$run/torch-same-weights"
  mkdir -p "$same"
  head -n 256 "$run/val.en" > "$same/src.en"
  head -n 256 "$run/val.de" > "$same/ref.de"
  "$bin" tokenize --tokenizer "$run/model/tokenizer.json" --json --no-special < "$same/src.en" > "$same/src.en.jsonl"
  "$PY" recipes/multi30k_torch.py --import-go "$run/model" --out "$same" 2> "$same/log"
  "$PY" recipes/multi30k_torch.py --bench-decode --out "$same" --valid-src "$same/src.en.jsonl" --threads 1 \
    > "$same/torch.jsonl" 2>> "$same/log"
  : > "$same/go.jsonl"
  for rep in 1 2 3; do
    for beam in 1 4; do
      for batch in 1 32; do
        "$bin" eval --task translation --model "$run/model" --src "$same/src.en" --ref "$same/ref.de" \
          --beam "$beam" --batch "$batch" --threads 1 --json >> "$same/go.jsonl"
      done
    done
  done
  "$PY" - "$same/go.jsonl" "$same/torch.jsonl" <<'PY' | tee -a "$run/summary.txt"
import json, statistics, sys
go = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    go.setdefault((r["beam"], r["batch"]), []).append(r["tokens_per_s"])
torch = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    kind, b = r["name"].split("/")[1].rsplit("-b", 1)
    torch[(1 if kind == "greedy" else int(kind[4:]), int(b))] = r["value"]
print("decoding, the same weights, first 256 validation sentences, 1 thread (tokens/s, medians of 3):")
for key in sorted(go):
    g, t = statistics.median(go[key]), torch.get(key)
    name = "greedy" if key[0] == 1 else "beam %d" % key[0]
    ratio = "%.2fx" % (g / t) if t else "n/a"
    print(f"  {name:7s} batch {key[1]:>2}: optiformer {g:7.0f}   PyTorch 1.13 {t or float('nan'):7.0f}   {ratio}")
PY
fi

if [ "${PEER:-0}" = 1 ]; then
  peer="$run/torch"
  mkdir -p "$peer"
  tok="$run/model/tokenizer.json"
  for s in train val; do
    for l in en de; do
      zcat $A/multi30k-$s.$l.gz | "$bin" tokenize --tokenizer "$tok" --json --no-special > "$peer/$s.$l.jsonl"
    done
  done
  vocab=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['vocab_size'])" "$run/model/config.json")
  "$PY" recipes/multi30k_torch.py \
    --config recipes/multi30k-en-de.json --train-src "$peer/train.en.jsonl" --train-tgt "$peer/train.de.jsonl" \
    --valid-src "$peer/val.en.jsonl" --valid-tgt "$peer/val.de.jsonl" --vocab-size "$vocab" \
    --out "$peer" --threads 2 2>"$peer/train.log"
  "$PY" recipes/multi30k_torch.py \
    --bench-decode --out "$peer" --valid-src "$peer/val.en.jsonl" --threads 1 > "$peer/decode.jsonl"
  {
    echo "PyTorch peer"
    for h in greedy beam4; do
      "$bin" tokenize --tokenizer "$tok" --decode --no-special < "$peer/hyp.$h.ids.jsonl" > "$peer/hyp.$h.de"
      echo "$h: $("$bin" score bleu --hyp "$peer/hyp.$h.de" --ref "$run/val.de")"
      echo "$h: $("$bin" score chrf --hyp "$peer/hyp.$h.de" --ref "$run/val.de")"
    done
    cat "$peer/decode.jsonl"
    python3 -c "import json;r=json.load(open('$peer/result.json'));print('training:', r['steps'], 'steps,', round(r['train_target_tokens_per_s']), 'target tokens/s')"
  } | tee -a "$run/summary.txt"
fi
