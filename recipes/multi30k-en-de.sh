#!/usr/bin/env bash
# Multi30k English→German, the 60-minute recipe: train on this 2-core machine, then measure.
#
#   recipes/multi30k-en-de.sh [RUN_DIR]          (default runs/multi30k-en-de)
#   PEER=1 recipes/multi30k-en-de.sh [RUN_DIR]   also train the PyTorch 1.13 peer (another hour)
#
# 1. train (2 threads): a unigram tokenizer of 8,000 tokens on both languages, then the
#    model of recipes/multi30k-en-de.json for its time budget (57 minutes of training, the
#    evaluations on 300 validation sentences included; the tokenizer and the final
#    evaluation take the rest of the hour); the best checkpoint by validation BLEU is kept;
# 2. evaluate it on the 1,014 validation sentences: BLEU and chrF (sacreBLEU 2.x defaults,
#    cased, detokenized), greedy and beam 4, and the decoding speed at batch 1 and batch 32
#    on one thread;
# 3. with PEER=1, train recipes/multi30k_torch.py (PyTorch, same sizes, tokenizer, data,
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
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 recipes/multi30k_torch.py \
    --config recipes/multi30k-en-de.json --train-src "$peer/train.en.jsonl" --train-tgt "$peer/train.de.jsonl" \
    --valid-src "$peer/val.en.jsonl" --valid-tgt "$peer/val.de.jsonl" --vocab-size "$vocab" \
    --out "$peer" --threads 2 2>"$peer/train.log"
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 recipes/multi30k_torch.py \
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
