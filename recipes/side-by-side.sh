#!/usr/bin/env bash
# Multi30k English→German: optiformer and the PyTorch 1.13 peer trained in the same window.
#
#   recipes/side-by-side.sh [RUN_DIR]         (default runs/side-by-side)
#   SLICE=30 BUDGET_MIN=57 SEED=1 …           seconds per turn; each side's training budget;
#                                             the recipe's seed (init, dropout, batch order)
#   touch RUN_DIR/hold / rm RUN_DIR/hold        stop both for a while / go on
#
# Run one after the other, the two trainings see different hosts: on a shared machine the
# speed of the same code wanders by 20% or more from one hour to the next, which decides
# which side gets more steps. Here both processes run at once, each with 2 threads, and the
# machine is handed from one to the other every SLICE seconds (SIGSTOP / SIGCONT of its
# process group): over the two hours each side has the whole machine for half the time,
# interleaved, so both meet the same host. Each side's wall-clock time budget is doubled
# (2 × BUDGET_MIN) so that it trains for about BUDGET_MIN minutes of machine time, the
# periodic evaluations included, like the 60-minute recipe. Both use the same tokenizer
# (trained here exactly as `optiformer train` trains it), data, sizes and schedule
# (recipes/multi30k-en-de.json); optiformer keeps the checkpoint with the best validation
# BLEU, the PyTorch script the one with the lowest validation loss (as in the recipe).
#
# Afterwards (each alone): greedy and beam-4 BLEU and chrF of both on the 1,014 validation
# sentences (sacreBLEU 2.x defaults, cased, detokenized). Figures land in RUN_DIR/summary.txt;
# the training tokens/s in it are per wall second, that is about half the machine's rate.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/side-by-side}
slice=${SLICE:-30}
budget=$(( 2 * ${BUDGET_MIN:-57} ))
PY=/usr/bin/python3
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
"$PY" -c "import torch" || { echo "side-by-side: needs Debian's python3-torch" >&2; exit 1; }
mkdir -p "$run/torch"
bin="$run/optiformer"
go build -o "$bin" ./cmd/optiformer
A=internal/assets
zcat $A/multi30k-val.en.gz > "$run/val.en"
zcat $A/multi30k-val.de.gz > "$run/val.de"

# The tokenizer `optiformer train` would train: unigram, 8,000 tokens, on the training
# sources and targets interleaved.
tok="$run/tokenizer.json"
paste -d '\n' <(zcat $A/multi30k-train.en.gz) <(zcat $A/multi30k-train.de.gz) > "$run/tokenizer-lines.txt"
"$bin" tokenizer train --model unigram --vocab-size 8000 --output "$tok" "$run/tokenizer-lines.txt" 2>/dev/null
for s in train val; do
  for l in en de; do
    zcat $A/multi30k-$s.$l.gz | "$bin" tokenize --tokenizer "$tok" --json --no-special > "$run/torch/$s.$l.jsonl"
  done
done
"$PY" - recipes/multi30k-en-de.json "$run/recipe.json" "$budget" "${SEED:-}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["training"]["time_budget"] = sys.argv[3] + "m"
if sys.argv[4]:
    c["training"]["seed"] = int(sys.argv[4])
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY

start=$(date +%s)
setsid "$bin" train --task translation --config "$run/recipe.json" --tokenizer "$tok" \
  --train $A/multi30k-train.en.gz,$A/multi30k-train.de.gz \
  --valid $A/multi30k-val.en.gz,$A/multi30k-val.de.gz \
  -o "$run/model" --threads 2 > "$run/train.txt" 2> "$run/train.log" &
ours=$!
setsid "$PY" recipes/multi30k_torch.py \
  --config "$run/recipe.json" --train-src "$run/torch/train.en.jsonl" --train-tgt "$run/torch/train.de.jsonl" \
  --valid-src "$run/torch/val.en.jsonl" --valid-tgt "$run/torch/val.de.jsonl" --vocab-size 8000 \
  --out "$run/torch" --threads 2 > "$run/torch/train.out" 2> "$run/torch/train.log" &
peer=$!
trap 'kill -CONT -- -$ours -$peer 2>/dev/null; kill -- -$ours -$peer $ours $peer 2>/dev/null' EXIT
alive() { kill -0 "$1" 2>/dev/null; }
group() { # setsid has made its process group
  for _ in $(seq 100); do kill -0 -- -"$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "side-by-side: process $1 has no process group" >&2; return 1
}
group "$ours"; group "$peer"
kill -STOP -- -"$peer"
# While RUN_DIR/hold exists (touch it to use the machine for something else), both are
# stopped; their budgets go on running, the same for both.
turn=$ours other=$peer turns=0 held=0
while alive "$ours" && alive "$peer"; do
  for _ in $(seq "$slice"); do
    while [ -e "$run/hold" ] && alive "$ours" && alive "$peer"; do
      kill -STOP -- -"$turn" 2>/dev/null || true
      sleep 1; held=$((held + 1))
    done
    kill -CONT -- -"$turn" 2>/dev/null || true
    sleep 1
  done
  kill -STOP -- -"$turn" 2>/dev/null || true
  kill -CONT -- -"$other" 2>/dev/null || true
  t=$turn turn=$other other=$t turns=$((turns + 1))
done
kill -CONT -- -"$ours" -"$peer" 2>/dev/null || true
ours_rc=0 peer_rc=0
wait "$ours" || ours_rc=$?
wait "$peer" || peer_rc=$?
trap - EXIT
echo "side by side: $turns turns of $slice s, $(( $(date +%s) - start )) s wall ($held s held); exit codes: optiformer $ours_rc, PyTorch $peer_rc" > "$run/mux.txt"
[ "$ours_rc" = 0 ] && [ "$peer_rc" = 0 ]

: > "$run/eval.jsonl"
for beam in 1 4; do
  "$bin" eval --task translation --model "$run/model" --src "$run/val.en" --ref "$run/val.de" \
    --beam "$beam" --batch 32 --threads 2 --json >> "$run/eval.jsonl"
done
{
  cat "$run/mux.txt"
  echo "optiformer"
  tail -n 3 "$run/train.txt"
  "$PY" - "$run/eval.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"  beam {r['beam']}: BLEU {r['bleu']:.2f}  chrF {r['chrf']:.2f}")
PY
  echo "PyTorch 1.13"
  "$PY" -c "import json,sys;r=json.load(open(sys.argv[1]));print('  training:', r['steps'], 'steps,', round(r['train_target_tokens_per_s']), 'target tokens/s (per wall second)')" "$run/torch/result.json"
  for h in greedy beam4; do
    "$bin" tokenize --tokenizer "$tok" --decode --no-special < "$run/torch/hyp.$h.ids.jsonl" > "$run/torch/hyp.$h.de"
    echo "  $h: $("$bin" score bleu --hyp "$run/torch/hyp.$h.de" --ref "$run/val.de")"
    echo "  $h: $("$bin" score chrf --hyp "$run/torch/hyp.$h.de" --ref "$run/val.de")"
  done
} | tee "$run/summary.txt"
