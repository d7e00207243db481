#!/bin/sh
# Rebuilds metrics/testdata from the project's shared reference vectors (see PROVENANCE.md).
# Usage: sh make_testdata.sh /path/to/shared   (run from metrics/testdata)
set -eu
S=${1:-../../../shared}
R=$S/refvectors
D=$S/data/squad-v1.1-dev-rebuilt
z() { gzip -9nc "$1"; }
z "$R/bleu_chrf/multi30k-val-en-de.json" > multi30k-val-en-de.json.gz
z "$R/rouge/aeslc-dev-first200.items.jsonl" > aeslc-dev-first200.items.jsonl.gz
z "$R/rouge/aeslc-dev-first200.summary.json" > aeslc-dev-first200.summary.json.gz
z "$R/rouge/scitldr-a-dev.summary.json" > scitldr-a-dev.summary.json.gz
# Split in two so that no fixture exceeds DESIGN.md's 256 KiB budget.
head -n 310 "$R/rouge/scitldr-a-dev.items.jsonl" | gzip -9nc > scitldr-a-dev.items.part1.jsonl.gz
tail -n +311 "$R/rouge/scitldr-a-dev.items.jsonl" | gzip -9nc > scitldr-a-dev.items.part2.jsonl.gz
mkdir -p squad
z "$D/dev.json" > squad/dev.json.gz
z "$R/squad/squad-v1.1-dev-rebuilt.dev.scores.json" > squad/scores.json.gz
z "$R/squad/squad-v1.1-dev-rebuilt.dev.per_question.jsonl" > squad/per_question.jsonl.gz
for f in "$D"/reference_predictions/*.dev.json; do z "$f" > "squad/pred_$(basename "$f" .dev.json).json.gz"; done
for f in "$R"/squad/squad-v1.1-dev-rebuilt.dev.predictions/*.json; do z "$f" > "squad/pred_$(basename "$f")".gz; done
# Python-semantics fixtures: needs Debian's python3-nltk (pulls in python3-regex).
(cd pyref && /usr/bin/python3 gen_pyref.py "$S")
