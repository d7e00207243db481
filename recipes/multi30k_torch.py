#!/usr/bin/python3
"""PyTorch 1.13 peer of the Multi30k English->German recipe (recipes/multi30k-en-de.json).

It trains the same encoder-decoder transformer as `optiformer train --task translation`, on
the same token ids, with the same data filter, batch plan, loss, optimizer, schedule, clipping
and stopping rules, then decodes the validation set with the same greedy and beam search as
package decode, so that the two toolkits can be compared side by side. It works on token ids
only: the Go CLI tokenizes (`optiformer tokenize --json --no-special`) and scores.

Usage (Debian's python3 has torch 1.13; pyenv's python3 on PATH does not):

  /usr/bin/python3 recipes/multi30k_torch.py --config recipes/multi30k-en-de.json \\
      --train-src T.en.jsonl --train-tgt T.de.jsonl --valid-src V.en.jsonl --valid-tgt V.de.jsonl \\
      --vocab-size V --out DIR [--threads 2] [--time-budget 55m] [--seed 1] [--bench-after]
  /usr/bin/python3 recipes/multi30k_torch.py --bench-decode --out DIR --valid-src V.en.jsonl \\
      [--threads 1] [--sentences 256]
  /usr/bin/python3 recipes/multi30k_torch.py --self-test
  /usr/bin/python3 recipes/multi30k_torch.py --export-go GODIR --out DIR [--tokenizer tok.json]
  /usr/bin/python3 recipes/multi30k_torch.py --import-go GODIR --out DIR

Outputs in DIR: model.pt (best weights: {"state_dict", "config", ...}, written atomically),
hyp.greedy.ids.jsonl and hyp.beam4.ids.jsonl (one JSON array of ids per validation line, in
input order, without BOS/EOS), result.json. --export-go writes config.json and
model.safetensors under the Go model's parameter names, so that `optiformer translate/eval
--model GODIR` can run the PyTorch-trained weights (copy tokenizer.json there, or pass
--tokenizer).

Threads (PEERS note): with more than one thread, run torch with
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp: Debian's default pthread OpenBLAS
keeps its own thread pool, which fights torch's OpenMP pool for the two cores. The script
re-executes itself with that variable (and OMP_NUM_THREADS) set when it is missing and more
than one thread is asked for.

Model. torch.nn.Transformer(norm_first, batch_first=True, activation as configured) holds the
layers, with our own token embeddings (one table shared by encoder input, decoder input and
output projection when tie_embeddings), x*sqrt(d_model) scaling, sinusoidal (PyTorch-tutorial
layout, as ops.Sinusoidal) or learned positions, and dropout on embeddings+positions. Where
nn.Transformer's defaults differ from models/transformer, they are overridden:
  * dropout: nn.Transformer uses its one `dropout` for the residual branches, the attention
    probabilities and after the FFN activation; ours uses `dropout` for the embeddings and the
    residual branches only, `attention_dropout` (default 0) on attention probabilities and
    `activation_dropout` (default 0) after the activation. The per-module rates are set so.
  * final LayerNorms: nn.Transformer always adds encoder/decoder final norms; ours has them
    only for pre-LN (norm_first). They are removed for post-LN.
  * init: as transformer.New: every projection (q, k, v separately, out, fc1, fc2, untied
    lm_head) Xavier-uniform +-sqrt(6/(in+out)) with zero biases; embeddings and learned
    positions N(0, 1/d_model) with the pad row of token tables zeroed; LayerNorm 1/0.
    (nn.Transformer would Xavier-init the stacked (3C, C) in_proj as one matrix, a narrower
    bound, and keep the FFN biases' default uniform init.)
The math is then identical to models/transformer; --self-test checks it against an
independent re-implementation (as models/transformer/testdata/make_parity.py) and against the
Go parity fixture. Decoding does not go through nn.Transformer: a step function reads the same
weights and keeps a KV cache for self-attention and the projected encoder keys/values for
cross-attention (nn.Transformer has no cache).

Training mirrors tasks/translation + train.Trainer: data.Filter (drop empty sides, sides
longer than max_len, max(len) > max_ratio*min(len)); data.Batcher (sort by (target+1,
source+1) stably, cut when max(longest, l)*(rows+1) > batch_tokens; batch order per epoch =
Go's rand.New(rand.NewPCG(seed, epoch)).Perm, reimplemented bit for bit); source + EOS,
decoder input BOS + target, labels target + EOS; loss = cross-entropy with label smoothing
ignoring pad, mean over the target tokens of the step (micro-batches of `accumulate` weighted
by tokens); AdamW(beta1 0.9, beta2 adam_beta2 or 0.999, eps 1e-8) with decoupled decay on
projection matrices only (embeddings only with decay_embeddings, never biases, norms or
learned positions); clip_grad_norm_(clip_norm); lr = schedule(step) with step = updates done
so far; stops on epochs, max_steps, patience, or the time budget (wall time since the loop
started, evaluations included, checked after each step). With ema_decay d > 0 (train.Trainer's
EMA), a copy of the parameters starts equal to the initial ones and after every update
becomes d*ema + (1-d)*param; evaluations, model.pt and the final decoding use those averaged
weights, while training goes on with the raw ones.

Differences from the Go run, by necessity:
  * model selection: the Go trainer evaluates every eval_every steps by decoding the first
    eval_sentences validation sentences (greedy, or beam search of eval_beam; the recipe
    uses 4) and keeps the best BLEU; Python cannot compute
    BLEU here, so it keeps the lowest validation loss (label-smoothed cross-entropy, no
    dropout, over the whole validation set, batched by the same Batcher). Patience counts
    evaluations without a lower loss. Validation loss is far cheaper than decoding 300
    sentences, so under the same time budget this side spends more of it training.
  * random numbers: initial weights and dropout masks come from torch's generator, not Go's
    PCG streams (same distributions, different draws). The batch order is Go's exactly.
  * no resumable checkpoints (the Go trainer saves model + optimizer every checkpoint_every
    steps); model.pt is rewritten at each improvement, like Go's best/.
"""
import argparse
import json
import math
import os
import re
import statistics
import struct
import sys
import time

OPENBLAS_OPENMP = "/usr/lib/x86_64-linux-gnu/openblas-openmp"

# transformer.Defaults() (models/transformer/config.go): what a field left out gets.
MODEL_DEFAULTS = {
    "arch": "encoder-decoder", "vocab_size": 8000, "d_model": 256, "n_heads": 4, "d_ff": 1024,
    "encoder_layers": 3, "decoder_layers": 3, "max_positions": 512, "positions": "sinusoidal",
    "norm_first": False, "activation": "relu", "dropout": 0.1, "attention_dropout": 0.0,
    "activation_dropout": 0.0, "layer_norm_eps": 1e-5, "scale_embedding": True, "tie_embeddings": True,
    "pad_id": 0, "bos_id": 1, "eos_id": 2, "span_head": False,
}

# defaultTrainFile() (cmd/optiformer/translate.go). adam_beta2 0 means 0.999.
TRAIN_DEFAULTS = {
    "epochs": 20, "max_steps": 0, "batch_tokens": 4096, "accumulate": 1, "lr": 7e-4,
    "schedule": "inverse_sqrt", "warmup": 800, "weight_decay": 1e-4, "adam_beta2": 0.0,
    "decay_embeddings": False, "clip_norm": 1.0, "label_smoothing": 0.1, "eval_every": 0,
    "eval_sentences": 300, "eval_beam": 0, "patience": 5, "checkpoint_every": 200, "max_len": 128,
    "max_ratio": 3.0, "seed": 1, "time_budget": "", "ema_decay": 0.0,
}

# translation.DefaultOptions(): outputs up to 1.5*len(src)+10 tokens, length penalty 1.
MAX_LEN_A, MAX_LEN_B, LENGTH_PENALTY = 1.5, 10, 1.0


class UsageError(Exception):
    pass


def die(msg):
    sys.stderr.write("multi30k_torch: %s\n" % msg)
    sys.exit(2)


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------------------------
# Arguments, re-exec for threads, configs.

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="recipe JSON with \"model\" and \"training\" sections")
    p.add_argument("--train-src")
    p.add_argument("--train-tgt")
    p.add_argument("--valid-src")
    p.add_argument("--valid-tgt")
    p.add_argument("--vocab-size", type=int, help="the tokenizer's vocabulary size")
    p.add_argument("--out", help="output directory")
    p.add_argument("--threads", type=int, help="torch threads (default: 2 to train, 1 for --bench-decode)")
    p.add_argument("--time-budget", help="overrides training.time_budget (Go duration: 90s, 55m, 1h30m; 0: none)")
    p.add_argument("--seed", type=int, help="overrides training.seed")
    p.add_argument("--bench-decode", action="store_true", help="measure decoding speed of DIR/model.pt")
    p.add_argument("--bench-after", action="store_true", help="run --bench-decode after training")
    p.add_argument("--bench-threads", default=None,
                   help="threads for --bench-after (comma list, default 1); --bench-decode uses --threads")
    p.add_argument("--sentences", type=int, default=256, help="validation sentences for --bench-decode")
    p.add_argument("--runs", type=int, default=3, help="timed runs per --bench-decode figure (median; after 1 warm-up)")
    p.add_argument("--self-test", action="store_true", help="check the model, loss and decoding; about a minute")
    p.add_argument("--export-go", metavar="GODIR", help="write DIR/model.pt as a Go model directory")
    p.add_argument("--tokenizer", help="tokenizer.json to copy into --export-go's directory")
    p.add_argument("--import-go", metavar="GODIR",
                   help="write a Go model directory (config.json, model.safetensors) as DIR/model.pt, "
                        "so that --bench-decode decodes with the very same weights")
    a = p.parse_args(argv)
    if a.threads is not None and not (1 <= a.threads <= 256):
        raise UsageError("--threads %d: want 1..256" % a.threads)
    if a.sentences < 1 or a.runs < 1:
        raise UsageError("--sentences and --runs must be at least 1")
    return a


def bench_thread_list(a):
    if a.bench_decode:
        return [a.threads or 1]
    s = a.bench_threads or "1"
    try:
        ts = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise UsageError("--bench-threads %r: want a comma list of thread counts" % s)
    if not ts or any(t < 1 or t > 256 for t in ts):
        raise UsageError("--bench-threads %r: want counts in 1..256" % s)
    return ts


def threads_needed(a):
    if a.self_test or a.export_go:
        return 1
    if a.bench_decode:
        return a.threads or 1
    n = a.threads or 2
    if a.bench_after:
        n = max([n] + bench_thread_list(a))
    return n


def maybe_reexec(threads):
    """Re-run under the OpenMP OpenBLAS when more than one thread is wanted (PEERS note)."""
    env = os.environ
    if threads > 1 and os.path.isdir(OPENBLAS_OPENMP) and not env.get("MULTI30K_TORCH_REEXEC"):
        paths = [x for x in env.get("LD_LIBRARY_PATH", "").split(":") if x]
        if OPENBLAS_OPENMP not in paths:
            new = dict(env)
            new["LD_LIBRARY_PATH"] = ":".join([OPENBLAS_OPENMP] + paths)
            new.setdefault("OMP_NUM_THREADS", str(threads))
            new["MULTI30K_TORCH_REEXEC"] = "1"
            sys.stderr.flush()
            os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], new)
    # Before torch is imported: thread pools size themselves from these at load time.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))


_DUR = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(s):
    """Go's time.ParseDuration (non-negative), in seconds; "" and "0" are 0 (no limit)."""
    s = (s or "").strip()
    if s in ("", "0"):
        return 0.0
    body = s[1:] if s[0] == "+" else s
    pos, total = 0, 0.0
    while pos < len(body):
        m = _DUR.match(body, pos)
        if not m:
            raise UsageError("time budget %r: want a Go duration like 55m, 90s or 1h30m" % s)
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if not body:
        raise UsageError("time budget %r: want a Go duration like 55m" % s)
    return total


def load_recipe(path):
    if not path:
        raise UsageError("--config is required to train")
    if not os.path.isfile(path):
        raise UsageError("config %s: no such file" % path)
    try:
        with open(path) as f:
            raw = json.load(f)
    except ValueError as e:
        raise UsageError("config %s: not valid JSON: %s" % (path, e))
    if not isinstance(raw, dict):
        raise UsageError("config %s: want a JSON object" % path)
    model, training = dict(MODEL_DEFAULTS), dict(TRAIN_DEFAULTS)
    for name, dst in (("model", model), ("training", training)):
        sec = raw.get(name, {})
        if not isinstance(sec, dict):
            raise UsageError("config %s: %r must be an object" % (path, name))
        unknown = sorted(k for k in sec if k not in dst)
        if unknown:
            log("note: config %s: ignoring unknown %s fields %s" % (path, name, ", ".join(unknown)))
        for k, v in sec.items():
            if k in dst:
                dst[k] = v
    return model, training, raw.get("tokenizer", {})


def validate_model_config(c):
    """The checks of transformer.Config.Validate that matter here."""
    bad = lambda msg: UsageError("model config: " + msg)
    if c["arch"] != "encoder-decoder":
        raise bad("arch %r: this recipe trains an encoder-decoder" % c["arch"])
    if c["d_model"] < 1 or c["n_heads"] < 1 or c["d_model"] % c["n_heads"]:
        raise bad("n_heads %s does not divide d_model %s" % (c["n_heads"], c["d_model"]))
    if c["positions"] not in ("sinusoidal", "learned"):
        raise bad("positions %r: want sinusoidal or learned" % c["positions"])
    if c["activation"] not in ("relu", "gelu", "gelu_tanh"):
        raise bad("activation %r: want relu, gelu or gelu_tanh" % c["activation"])
    for k in ("dropout", "attention_dropout", "activation_dropout"):
        if not (0 <= c[k] < 1):
            raise bad("%s %s: want 0 <= p < 1" % (k, c[k]))
    if c["layer_norm_eps"] <= 0:
        raise bad("layer_norm_eps must be positive")
    for k in ("encoder_layers", "decoder_layers", "d_ff", "max_positions", "vocab_size"):
        if int(c[k]) < 1:
            raise bad("%s %s out of range" % (k, c[k]))
    for k in ("pad_id", "bos_id", "eos_id"):
        if not (0 <= c[k] < c["vocab_size"]):
            raise bad("%s %d outside the vocabulary of %d" % (k, c[k], c["vocab_size"]))


# ---------------------------------------------------------------------------------------------
# Data: ids files, filter, batch plan, Go's PCG permutation.

def read_ids(path, what, vocab=None):
    if not path:
        raise UsageError("%s: no file given" % what)
    if not os.path.isfile(path):
        raise UsageError("%s %s: no such file" % (what, path))
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                raise UsageError("%s %s:%d: blank line (want {\"ids\":[...]} or a JSON array per line)" % (what, path, n))
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise UsageError("%s %s:%d: not JSON: %s" % (what, path, n, e))
            ids = obj.get("ids") if isinstance(obj, dict) else obj
            if not isinstance(ids, list) or not all(type(x) is int for x in ids):
                raise UsageError("%s %s:%d: want an \"ids\" array of integers (optiformer tokenize --json) or a JSON array" % (what, path, n))
            if vocab is not None:
                for x in ids:
                    if x < 0 or x >= vocab:
                        raise UsageError("%s %s:%d: token id %d outside the vocabulary of %d (--vocab-size)" % (what, path, n, x, vocab))
            rows.append(ids)
    return rows


def read_parallel(src_path, tgt_path, what, vocab):
    src = read_ids(src_path, what + " source", vocab)
    tgt = read_ids(tgt_path, what + " target", vocab)
    if len(src) != len(tgt):
        raise UsageError("%s: %s has %d lines but %s has %d: the files are not aligned" % (what, src_path, len(src), tgt_path, len(tgt)))
    return [(s, t, i + 1) for i, (s, t) in enumerate(zip(src, tgt))]


def filter_pairs(ex, max_len, max_ratio, keep_empty=False):
    """data.Filter."""
    out, rep = [], {"kept": 0, "empty": 0, "too_long": 0, "bad_ratio": 0}
    for e in ex:
        ls, lt = len(e[0]), len(e[1])
        if not keep_empty and (ls == 0 or lt == 0):
            rep["empty"] += 1
        elif max_len > 0 and (ls > max_len or lt > max_len):
            rep["too_long"] += 1
        elif max_ratio > 0 and ls > 0 and lt > 0 and float(max(ls, lt)) > max_ratio * float(min(ls, lt)):
            rep["bad_ratio"] += 1
        else:
            out.append(e)
    rep["kept"] = len(out)
    return out, rep


_M64 = (1 << 64) - 1


class GoPCG:
    """math/rand/v2.PCG (128-bit LCG, DXSM output) with Rand.Perm: the Go batch order."""

    def __init__(self, seed1, seed2):
        self.hi, self.lo = seed1 & _M64, seed2 & _M64

    def uint64(self):
        mul = (2549297995355413924 << 64) | 4865540595714422341
        inc = (6364136223846793005 << 64) | 1442695040888963407
        state = (((self.hi << 64) | self.lo) * mul + inc) & ((1 << 128) - 1)
        self.hi, self.lo = state >> 64, state & _M64
        hi, lo = self.hi, self.lo
        hi ^= hi >> 32
        hi = (hi * 0xda942042e4dd58b5) & _M64
        hi ^= hi >> 48
        hi = (hi * (lo | 1)) & _M64
        return hi

    def uint64n(self, n):
        if n & (n - 1) == 0:
            return self.uint64() & (n - 1)
        prod = self.uint64() * n
        hi, lo = prod >> 64, prod & _M64
        if lo < n:
            thresh = ((1 << 64) - n) % n
            while lo < thresh:
                prod = self.uint64() * n
                hi, lo = prod >> 64, prod & _M64
        return hi

    def perm(self, n):
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.uint64n(i + 1)
            p[i], p[j] = p[j], p[i]
        return p


class Batcher:
    """data.Batcher: batches of at most max_tokens padded tokens, similar lengths together."""

    def __init__(self, ex, max_tokens, pad, bos, eos):
        if max_tokens <= 0:
            raise UsageError("max tokens per batch %d must be positive" % max_tokens)
        self.ex, self.pad, self.bos, self.eos = ex, pad, bos, eos
        size = lambda e: (len(e[0]) + 1, len(e[1]) + 1)
        order = sorted(range(len(ex)), key=lambda i: (size(ex[i])[1], size(ex[i])[0]))  # stable
        self.plan, cur, longest = [], [], 0
        for i in order:
            s, t = size(ex[i])
            l = max(s, t)
            if l > max_tokens:
                raise UsageError("line %d has %d tokens, more than a whole batch (%d)" % (ex[i][2], l, max_tokens))
            if cur and max(longest, l) * (len(cur) + 1) > max_tokens:
                self.plan.append(cur)
                cur, longest = [], 0
            cur.append(i)
            longest = max(longest, l)
        if cur:
            self.plan.append(cur)

    def __len__(self):
        return len(self.plan)

    def order(self, seed, epoch):
        return GoPCG(seed, epoch).perm(len(self.plan))

    def batch(self, i):
        import torch
        rows = self.plan[i]
        ws = max(len(self.ex[r][0]) + 1 for r in rows)
        wt = max(len(self.ex[r][1]) + 1 for r in rows)
        n = len(rows)
        src = torch.full((n, ws), self.pad, dtype=torch.long)
        tin = torch.full((n, wt), self.pad, dtype=torch.long)
        lab = torch.full((n, wt), self.pad, dtype=torch.long)
        tokens = 0
        for k, r in enumerate(rows):
            s, t, _ = self.ex[r]
            if s:
                src[k, :len(s)] = torch.tensor(s)
            src[k, len(s)] = self.eos
            tin[k, 0] = self.bos
            if t:
                tt = torch.tensor(t)
                tin[k, 1:len(t) + 1] = tt
                lab[k, :len(t)] = tt
            lab[k, len(t)] = self.eos
            tokens += len(t) + 1
        return src, tin, lab, tokens


def lr_at(name, peak, warmup, total, step):
    """optim/schedule: the rate of optimizer step `step` (0 for the first update)."""
    if name == "constant":
        return peak
    if name == "linear":
        if step < warmup:
            return peak * step / max(1, warmup)
        return peak * max(0.0, (total - step) / max(1, total - warmup))
    if name == "cosine":
        if step < warmup:
            return peak * step / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return peak * max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))
    if name == "inverse_sqrt":
        if step < warmup:
            return peak * (step + 1) / max(1, warmup)
        return peak * math.sqrt(max(1, warmup) / (step + 1))
    raise UsageError("unknown schedule %r (want constant, linear, cosine or inverse_sqrt)" % name)


# ---------------------------------------------------------------------------------------------
# The model.

def build_model_class():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def sinusoidal(n, c, dtype):
        # ops.Sinusoidal / the PyTorch tutorial's table, computed in dtype.
        pe = torch.zeros(n, c, dtype=dtype)
        position = torch.arange(0, n, dtype=dtype).unsqueeze(1)
        div = torch.exp(torch.arange(0, c, 2, dtype=dtype) * (-math.log(10000.0) / c))
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)[:, : c // 2]
        return pe

    def gelu_tanh(x):
        return F.gelu(x, approximate="tanh")

    class Seq2Seq(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.cfg = dict(cfg)
            C, V = cfg["d_model"], cfg["vocab_size"]
            act = {"relu": "relu", "gelu": "gelu", "gelu_tanh": gelu_tanh}[cfg["activation"]]
            self.transformer = nn.Transformer(
                d_model=C, nhead=cfg["n_heads"], num_encoder_layers=cfg["encoder_layers"],
                num_decoder_layers=cfg["decoder_layers"], dim_feedforward=cfg["d_ff"], dropout=cfg["dropout"],
                activation=act, layer_norm_eps=cfg["layer_norm_eps"], batch_first=True, norm_first=cfg["norm_first"])
            tr = self.transformer
            # Our dropout placement (see the docstring).
            for layer in list(tr.encoder.layers) + list(tr.decoder.layers):
                layer.self_attn.dropout = cfg["attention_dropout"]
                if hasattr(layer, "multihead_attn"):
                    layer.multihead_attn.dropout = cfg["attention_dropout"]
                layer.dropout = nn.Dropout(cfg["activation_dropout"])
            if not cfg["norm_first"]:
                tr.encoder.norm = None
                tr.decoder.norm = None
            pad = cfg["pad_id"]
            if cfg["tie_embeddings"]:
                self.shared = nn.Embedding(V, C, padding_idx=pad)
            else:
                self.enc_embed = nn.Embedding(V, C, padding_idx=pad)
                self.dec_embed = nn.Embedding(V, C, padding_idx=pad)
                self.lm_head = nn.Linear(C, V, bias=False)
            if cfg["positions"] == "learned":
                self.enc_pos = nn.Embedding(cfg["max_positions"], C)
                self.dec_pos = nn.Embedding(cfg["max_positions"], C)
            self.drop = nn.Dropout(cfg["dropout"])
            self._pe = {}
            self.reset_parameters()

        # -- parameters ------------------------------------------------------------------------
        def reset_parameters(self, generator=None):
            """transformer.New's init (see the docstring)."""
            cfg, C = self.cfg, self.cfg["d_model"]
            std = 1 / math.sqrt(C)

            def xavier_(w):
                out, inp = w.shape
                b = math.sqrt(6 / (inp + out))
                with torch.no_grad():
                    w.uniform_(-b, b, generator=generator)

            with torch.no_grad():
                for name, mod in self.named_modules():
                    if isinstance(mod, nn.MultiheadAttention):
                        for k in range(3):
                            xavier_(mod.in_proj_weight[k * C:(k + 1) * C])
                        mod.in_proj_bias.zero_()
                        xavier_(mod.out_proj.weight)
                        mod.out_proj.bias.zero_()
                    elif isinstance(mod, nn.Linear) and not name.endswith("out_proj"):
                        xavier_(mod.weight)
                        if mod.bias is not None:
                            mod.bias.zero_()
                    elif isinstance(mod, nn.LayerNorm):
                        mod.weight.fill_(1)
                        mod.bias.zero_()
                    elif isinstance(mod, nn.Embedding):
                        mod.weight.normal_(0, std, generator=generator)
                        if mod.padding_idx is not None:
                            mod.weight[mod.padding_idx].zero_()

        def tok_embed(self, which):
            if self.cfg["tie_embeddings"]:
                return self.shared
            return self.enc_embed if which == "enc" else self.dec_embed

        def out_weight(self):
            return self.shared.weight if self.cfg["tie_embeddings"] else self.lm_head.weight

        def decays(self, decay_embeddings=False):
            """(name, param, decays) per unique parameter: optim.DecayPolicy with the trainer's
            settings: projection matrices decay; token embeddings only with decay_embeddings;
            biases, LayerNorms and learned positions never."""
            out = []
            for name, p in self.named_parameters():
                if name.endswith("in_proj_weight") or (name.endswith(".weight") and isinstance(
                        self.get_submodule(name.rsplit(".", 1)[0]), nn.Linear)):
                    d = True
                elif name in ("shared.weight", "enc_embed.weight", "dec_embed.weight"):
                    d = bool(decay_embeddings)
                else:
                    d = False
                out.append((name, p, d))
            return out

        # -- forward ---------------------------------------------------------------------------
        def positions(self, which, t, offset, dtype):
            if self.cfg["positions"] == "learned":
                emb = self.enc_pos if which == "enc" else self.dec_pos
                if offset + t > self.cfg["max_positions"]:
                    raise ValueError("%d positions, the model has %d" % (offset + t, self.cfg["max_positions"]))
                return emb(torch.arange(offset, offset + t, device=emb.weight.device))
            pe = self._pe.get(dtype)
            if pe is None or pe.shape[0] < offset + t:
                with torch.inference_mode(False):
                    pe = sinusoidal(max(512, 2 * (offset + t), self.cfg["max_positions"]), self.cfg["d_model"], dtype)
                self._pe[dtype] = pe
            return pe[offset:offset + t]

        def embed(self, ids, which, offset=0):
            x = self.tok_embed(which)(ids)
            if self.cfg["scale_embedding"]:
                x = x * math.sqrt(self.cfg["d_model"])
            return self.drop(x + self.positions(which, ids.shape[1], offset, x.dtype))

        def encode(self, src):
            pad = src == self.cfg["pad_id"]
            mem = self.transformer.encoder(self.embed(src, "enc"), src_key_padding_mask=pad)
            return mem, pad

        def decode_full(self, tgt_in, memory, src_pad):
            t = tgt_in.shape[1]
            causal = torch.ones(t, t, dtype=torch.bool, device=tgt_in.device).triu(1)
            return self.transformer.decoder(self.embed(tgt_in, "dec"), memory, tgt_mask=causal,
                                            tgt_key_padding_mask=tgt_in == self.cfg["pad_id"],
                                            memory_key_padding_mask=src_pad)

        def logits(self, h):
            return F.linear(h, self.out_weight())

        def forward(self, src, tgt_in):
            mem, pad = self.encode(src)
            return self.logits(self.decode_full(tgt_in, mem, pad))

        def loss(self, src, tgt_in, labels, smoothing):
            """Seq2SeqLoss: mean label-smoothed cross-entropy over the non-pad labels."""
            logits = self(src, tgt_in)
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                   ignore_index=self.cfg["pad_id"], label_smoothing=smoothing)

    return Seq2Seq


# ---------------------------------------------------------------------------------------------
# Go parameter names (models/transformer), for the parity check and --export-go.

def go_state(model):
    """The model's parameters under the Go model's checkpoint names (tied table once)."""
    cfg, C = model.cfg, model.cfg["d_model"]
    tr = model.transformer
    out = {}
    if cfg["tie_embeddings"]:
        out["shared.weight"] = model.shared.weight
    else:
        out["encoder.embed_tokens.weight"] = model.enc_embed.weight
        out["decoder.embed_tokens.weight"] = model.dec_embed.weight
        out["lm_head.weight"] = model.lm_head.weight

    def attn(prefix, mha):
        for k, n in enumerate(("q_proj", "k_proj", "v_proj")):
            out["%s.%s.weight" % (prefix, n)] = mha.in_proj_weight[k * C:(k + 1) * C]
            out["%s.%s.bias" % (prefix, n)] = mha.in_proj_bias[k * C:(k + 1) * C]
        out[prefix + ".out_proj.weight"] = mha.out_proj.weight
        out[prefix + ".out_proj.bias"] = mha.out_proj.bias

    def norm(prefix, ln):
        out[prefix + ".weight"], out[prefix + ".bias"] = ln.weight, ln.bias

    for side, stack in (("encoder", tr.encoder), ("decoder", tr.decoder)):
        if cfg["positions"] == "learned":
            out[side + ".embed_positions.weight"] = (model.enc_pos if side == "encoder" else model.dec_pos).weight
        for i, L in enumerate(stack.layers):
            p = "%s.layers.%d" % (side, i)
            attn(p + ".self_attn", L.self_attn)
            norm(p + ".self_attn_layer_norm", L.norm1)
            if side == "decoder":
                attn(p + ".encoder_attn", L.multihead_attn)
                norm(p + ".encoder_attn_layer_norm", L.norm2)
                norm(p + ".final_layer_norm", L.norm3)
            else:
                norm(p + ".final_layer_norm", L.norm2)
            out[p + ".fc1.weight"], out[p + ".fc1.bias"] = L.linear1.weight, L.linear1.bias
            out[p + ".fc2.weight"], out[p + ".fc2.bias"] = L.linear2.weight, L.linear2.bias
        if stack.norm is not None:
            norm(side + ".layer_norm", stack.norm)
    return out


def load_go_state(model, tensors):
    """Copies Go-named tensors into the model; every parameter must be given exactly once."""
    import torch
    dst = go_state(model)
    missing = sorted(set(dst) - set(tensors))
    unused = sorted(set(tensors) - set(dst))
    if missing or unused:
        raise ValueError("Go state: missing %s, unused %s" % (missing, unused))
    with torch.no_grad():
        for n, t in tensors.items():
            if tuple(dst[n].shape) != tuple(t.shape):
                raise ValueError("Go state: %s has shape %s, the model %s" % (n, tuple(t.shape), tuple(dst[n].shape)))
            dst[n].copy_(t)


_ST_DT = {"F32": ("<f4", 4), "F64": ("<f8", 8), "I32": ("<i4", 4), "I64": ("<i8", 8)}


def read_safetensors(path):
    import numpy as np
    import torch
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, h in header.items():
            if name == "__metadata__":
                continue
            dt, _ = _ST_DT[h["dtype"]]
            a, b = h["data_offsets"]
            f.seek(base + a)
            arr = np.frombuffer(f.read(b - a), dtype=dt).reshape(h["shape"])
            out[name] = torch.from_numpy(arr.copy())
    return out, header.get("__metadata__", {})


def write_safetensors(path, tensors, metadata):
    import torch
    names = sorted(tensors)
    header, blobs, off = {}, [], 0
    for n in names:
        t = tensors[n].detach().contiguous()
        dt = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32"}[t.dtype]
        b = t.numpy().tobytes()
        header[n] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Incremental decoding (transformer.DecodeSession) and search (package decode).

class DecodeSession:
    """A batch of rows being decoded: step() feeds one token per row and returns next-token
    log-probabilities (rows, V) in the model's dtype (float32 normally); keep() rebuilds the batch from old rows. With
    cache=False every step reruns the whole decoder over the prefix (the reference)."""

    def __init__(self, model, src, cache=True, capacity=64):
        import torch
        self.torch = torch
        self.m, self.cfg, self.cache = model, model.cfg, cache
        cfg = self.cfg
        width = max(1, max(len(s) for s in src))
        ids = torch.full((len(src), width), cfg["pad_id"], dtype=torch.long)
        for i, s in enumerate(src):
            if s:
                ids[i, :len(s)] = torch.tensor(s)
        self.memory, self.src_pad = model.encode(ids)
        self.rows, self.pos = len(src), 0
        C, H = cfg["d_model"], cfg["n_heads"]
        self.C, self.H, self.D = C, H, C // H
        self.scale = 1 / math.sqrt(self.D)
        self.layers = list(model.transformer.decoder.layers)
        if not cache:
            self.hist = torch.empty((self.rows, 0), dtype=torch.long)
            return
        B, S = self.memory.shape[0], self.memory.shape[1]
        self.ck, self.cv, self.w = [], [], []
        for L in self.layers:
            W, b = L.multihead_attn.in_proj_weight, L.multihead_attn.in_proj_bias
            self.w.append((W[:C], b[:C]))
            k = torch.nn.functional.linear(self.memory, W[C:2 * C], b[C:2 * C])
            v = torch.nn.functional.linear(self.memory, W[2 * C:], b[2 * C:])
            self.ck.append(k.view(B, S, H, self.D).transpose(1, 2))
            self.cv.append(v.view(B, S, H, self.D).transpose(1, 2))
        self.xmask = self.src_pad[:, None, None, :]  # (B, 1, 1, S): True = padding
        self.cap = max(1, capacity)
        self.sk = [self.memory.new_zeros(B, H, self.cap, self.D) for _ in self.layers]
        self.sv = [self.memory.new_zeros(B, H, self.cap, self.D) for _ in self.layers]

    def _grow(self, need):
        torch = self.torch
        cap = max(need, 2 * self.cap)
        for i in range(len(self.layers)):
            for buf in (self.sk, self.sv):
                old = buf[i]
                new = old.new_zeros(old.shape[0], old.shape[1], cap, old.shape[3])
                new[:, :, :self.pos] = old[:, :, :self.pos]
                buf[i] = new
        self.cap = cap

    def step(self, tokens):
        torch = self.torch
        F = torch.nn.functional
        m = self.m
        tok = torch.tensor(tokens, dtype=torch.long).view(-1, 1)
        if not self.cache:
            self.hist = torch.cat([self.hist, tok], 1)
            h = m.decode_full(self.hist, self.memory, self.src_pad)[:, -1]
            self.pos += 1
            return F.log_softmax(m.logits(h), -1)
        if self.pos + 1 > self.cap:
            self._grow(self.pos + 1)
        B, H, D, C, p = self.rows, self.H, self.D, self.C, self.pos
        pre = self.cfg["norm_first"]
        x = m.embed(tok, "dec", offset=p)  # (B, 1, C)
        for i, L in enumerate(self.layers):
            # self-attention over the cached positions and this one
            h = L.norm1(x) if pre else x
            qkv = F.linear(h, L.self_attn.in_proj_weight, L.self_attn.in_proj_bias)
            q, k, v = qkv.split(C, -1)
            self.sk[i][:, :, p] = k.view(B, H, D)
            self.sv[i][:, :, p] = v.view(B, H, D)
            q = q.view(B, 1, H, D).transpose(1, 2) * self.scale
            a = torch.softmax(q @ self.sk[i][:, :, :p + 1].transpose(-1, -2), -1)
            o = (a @ self.sv[i][:, :, :p + 1]).transpose(1, 2).reshape(B, 1, C)
            o = F.linear(o, L.self_attn.out_proj.weight, L.self_attn.out_proj.bias)
            x = x + o if pre else L.norm1(x + o)
            # cross-attention to the cached encoder keys and values
            h = L.norm2(x) if pre else x
            q = F.linear(h, *self.w[i]).view(B, 1, H, D).transpose(1, 2) * self.scale
            s = (q @ self.ck[i].transpose(-1, -2)).masked_fill(self.xmask, float("-inf"))
            o = (torch.softmax(s, -1) @ self.cv[i]).transpose(1, 2).reshape(B, 1, C)
            o = F.linear(o, L.multihead_attn.out_proj.weight, L.multihead_attn.out_proj.bias)
            x = x + o if pre else L.norm2(x + o)
            # feed-forward
            h = L.norm3(x) if pre else x
            f = L.linear2(L.activation(L.linear1(h)))
            x = x + f if pre else L.norm3(x + f)
        if m.transformer.decoder.norm is not None:
            x = m.transformer.decoder.norm(x)
        self.pos += 1
        return F.log_softmax(m.logits(x[:, 0]), -1)

    def keep(self, idx):
        torch = self.torch
        ix = torch.tensor(idx, dtype=torch.long)
        self.memory = self.memory.index_select(0, ix)
        self.src_pad = self.src_pad.index_select(0, ix)
        self.rows = len(idx)
        if not self.cache:
            self.hist = self.hist.index_select(0, ix)
            return
        self.xmask = self.xmask.index_select(0, ix)
        for i in range(len(self.layers)):
            self.ck[i] = self.ck[i].index_select(0, ix)
            self.cv[i] = self.cv[i].index_select(0, ix)
            for buf in (self.sk, self.sv):
                old = buf[i]
                new = old.new_zeros(len(idx), old.shape[1], self.cap, old.shape[3])
                if self.pos:
                    new[:, :, :self.pos] = old[:, :, :self.pos].index_select(0, ix)
                buf[i] = new


class DecodeOptions:
    def __init__(self, bos, eos, beam=1, length_penalty=LENGTH_PENALTY, max_len_a=MAX_LEN_A, max_len_b=MAX_LEN_B,
                 max_len=0, early_stop=False):
        self.bos, self.eos, self.beam = bos, eos, beam
        self.length_penalty, self.max_len_a, self.max_len_b, self.max_len = length_penalty, max_len_a, max_len_b, max_len
        self.early_stop = early_stop

    def limit(self, src_len):
        n = int(self.max_len_a * src_len) + self.max_len_b
        if self.max_len > 0 and (n <= 0 or n > self.max_len):
            n = self.max_len
        return max(n, 1)

    def normalise(self, logp, length):
        if self.length_penalty == 0:
            return logp
        return logp / math.pow(length, self.length_penalty)


class Hyp:
    __slots__ = ("tokens", "score", "logprob", "truncated")

    def __init__(self, tokens, score, logprob, truncated):
        self.tokens, self.score, self.logprob, self.truncated = tokens, score, logprob, truncated


def greedy(model, src, o, cache=True):
    """decode.greedy: all sources at once, finished rows dropped."""
    n = len(src)
    limits = [o.limit(len(s)) for s in src]
    s = DecodeSession(model, src, cache, capacity=max(limits) + 1)
    out = [None] * n
    live = list(range(n))
    hyps = [[] for _ in range(n)]
    logp = [0.0] * n
    tokens = [o.bos] * n
    while live:
        lp = s.step(tokens)
        best = lp.argmax(-1).tolist()  # first maximum on ties, as argmax in decode.go
        keep, nxt = [], []
        forced_any = [len(hyps[si]) >= limits[si] for si in live]
        pick = [o.eos if forced_any[r] else best[r] for r in range(len(live))]
        vals = lp.gather(1, s.torch.tensor(pick).view(-1, 1)).view(-1).tolist()
        for r, si in enumerate(live):
            b = pick[r]
            logp[si] += vals[r]
            if b == o.eos:
                out[si] = [Hyp(hyps[si], logp[si], logp[si], forced_any[r])]
                continue
            hyps[si].append(b)
            keep.append(r)
            nxt.append(b)
        if len(keep) < len(live):
            live = [live[r] for r in keep]
            if live:
                s.keep(keep)
        tokens = nxt
    return out


class _Beam:
    __slots__ = ("limit", "open", "finished", "done")

    def __init__(self, limit):
        self.limit, self.open, self.finished, self.done = limit, [([], 0.0)], [], False

    def worst_finished(self, k):
        if len(self.finished) < k:
            return math.inf
        return min(h.score for h in self.finished)

    def add_finished(self, h, k):
        self.finished.append(h)
        self.finished.sort(key=lambda x: -x.score)  # stable, best first
        del self.finished[k:]

    def is_done(self, o, k):
        if not self.open:
            return True
        if len(self.finished) < k:
            return False
        if o.early_stop:
            return True
        best = self.open[0][1]
        if o.length_penalty > 0:
            bound = best / math.pow(self.limit + 1, o.length_penalty)
        elif o.length_penalty < 0:
            bound = math.inf
        else:
            bound = best
        return bound < self.worst_finished(k)


def beam_search(model, src, o, cache=True):
    """decode.beam: beam rows per live source, sources leave the batch when done."""
    k = o.beam
    states = [_Beam(o.limit(len(x))) for x in src]
    s = DecodeSession(model, src, cache, capacity=max(b.limit for b in states) + 1)
    live = list(states)
    tokens = [o.bos] * len(src)
    V = model.cfg["vocab_size"]
    kk = min(2 * k, V)
    while live:
        lp = s.step(tokens)
        vals, idxs = lp.topk(kk, -1)
        vals, idxs = vals.tolist(), idxs.tolist()
        eos_lp = lp[:, o.eos].tolist()
        keep_rows, next_tokens, next_live = [], [], []
        row = 0
        for b in live:
            cands = []  # (row, hyp index, token, logp, forced)
            for hi, (htoks, hlogp) in enumerate(b.open):
                r = row + hi
                if len(htoks) >= b.limit:  # only EOS may follow
                    cands.append((r, hi, o.eos, hlogp + eos_lp[r], True))
                    continue
                # topK's order: value descending, lower index first on ties
                for v, t in sorted(zip(vals[r], idxs[r]), key=lambda p: (-p[0], p[1])):
                    cands.append((r, hi, t, hlogp + v, False))
            row += len(b.open)
            cands.sort(key=lambda c: -c[3])  # stable, as sort.SliceStable
            new_open, rows, toks = [], [], []
            for ci, c in enumerate(cands):
                htoks = b.open[c[1]][0]
                if c[2] == o.eos:
                    # an end counts only among the beam best candidates (a forced end always)
                    if ci < k or c[4]:
                        b.add_finished(Hyp(list(htoks), o.normalise(c[3], len(htoks) + 1), c[3], c[4]), k)
                    continue
                if c[3] == -math.inf:
                    continue
                new_open.append((htoks + [c[2]], c[3]))
                rows.append(c[0])
                toks.append(c[2])
                if len(new_open) == k:
                    break
            b.open = new_open
            b.done = b.is_done(o, k)
            if b.done:
                continue
            next_live.append(b)
            keep_rows += rows
            next_tokens += toks
        live = next_live
        if live:
            s.keep(keep_rows)
        tokens = next_tokens
    return [b.finished for b in states]


def generate(model, src, o, cache=True):
    if o.beam <= 1:
        return greedy(model, src, o, cache)
    return beam_search(model, src, o, cache)


def translate_ids(model, sources, beam, batch_size=32, cache=True, length_penalty=LENGTH_PENALTY, early_stop=False):
    """translation.Model.Translate on ids: sources (without EOS) get EOS, are sorted by length
    (stably) and decoded in batches; returns the best hypotheses in input order, the output
    token count (EOS included) and the seconds spent."""
    import torch
    cfg = model.cfg
    eos = cfg["eos_id"]
    src = []
    for ids in sources:
        x = list(ids) + [eos]
        if cfg["positions"] == "learned" and len(x) > cfg["max_positions"]:
            x = x[:cfg["max_positions"] - 1] + [eos]
        src.append(x)
    order = sorted(range(len(src)), key=lambda i: len(src[i]))
    o = DecodeOptions(cfg["bos_id"], eos, beam=beam, length_penalty=length_penalty,
                      max_len=cfg["max_positions"] - 1, early_stop=early_stop)
    out, tokens, latencies = [None] * len(src), 0, []
    model.eval()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            part = order[lo:lo + batch_size]
            t1 = time.perf_counter()
            res = generate(model, [src[i] for i in part], o, cache)
            latencies.append(time.perf_counter() - t1)
            for kx, i in enumerate(part):
                h = res[kx][0]
                tokens += len(h.tokens) + 1
                out[i] = h
    return out, tokens, time.perf_counter() - t0, latencies


# ---------------------------------------------------------------------------------------------
# Training.

def evaluate_loss(model, batcher, smoothing):
    """Validation loss (label-smoothed, as trained) and NLL per target token, no dropout."""
    import torch
    import torch.nn.functional as F
    was = model.training
    model.eval()
    tot_ls = tot_nll = 0.0
    n = 0
    pad = model.cfg["pad_id"]
    with torch.inference_mode():
        for i in range(len(batcher)):
            src, tin, lab, ntok = batcher.batch(i)
            logits = model(src, tin).reshape(-1, model.cfg["vocab_size"])
            y = lab.reshape(-1)
            tot_ls += F.cross_entropy(logits, y, ignore_index=pad, label_smoothing=smoothing, reduction="sum").item()
            tot_nll += F.cross_entropy(logits, y, ignore_index=pad, reduction="sum").item()
            n += ntok
    model.train(was)
    return tot_ls / n, tot_nll / n


def save_model_atomic(path, model, state_dict, extra):
    import torch
    obj = {"format": "optiformer-multi30k-torch/1", "config": model.cfg, "state_dict": state_dict}
    obj.update(extra)
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def run_env():
    """What decides thread behaviour, for result.json."""
    import torch
    return {"LD_LIBRARY_PATH": os.environ.get("LD_LIBRARY_PATH", ""), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", ""),
            "openblas_openmp": OPENBLAS_OPENMP in os.environ.get("LD_LIBRARY_PATH", "").split(":"),
            "torch_threads": torch.get_num_threads()}


def write_json_atomic(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def make_optimizer(model, tcfg):
    import torch
    decay, no_decay = [], []
    for _, p, d in model.decays(bool(tcfg["decay_embeddings"])):
        (decay if d else no_decay).append(p)
    beta2 = tcfg["adam_beta2"] or 0.999
    if not (0 < beta2 < 1):
        raise UsageError("adam_beta2 %s must lie in (0, 1)" % tcfg["adam_beta2"])
    groups = [{"params": decay, "weight_decay": float(tcfg["weight_decay"])},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=float(tcfg["lr"]), betas=(0.9, beta2), eps=1e-8)


def train(a):
    import torch
    threads = a.threads or 2
    torch.set_num_threads(threads)
    mcfg, tcfg, _ = load_recipe(a.config)
    if a.vocab_size is None:
        raise UsageError("--vocab-size is required (the tokenizer's vocabulary size)")
    mcfg["vocab_size"] = a.vocab_size
    validate_model_config(mcfg)
    if a.seed is not None:
        tcfg["seed"] = a.seed
    if a.time_budget is not None:
        tcfg["time_budget"] = a.time_budget
    budget = parse_duration(tcfg["time_budget"])
    for k in ("epochs", "max_steps", "batch_tokens", "accumulate", "warmup", "eval_every", "patience", "max_len", "seed"):
        tcfg[k] = int(tcfg[k])
    if tcfg["epochs"] <= 0 and tcfg["max_steps"] <= 0:
        raise UsageError("training: set epochs or max_steps")
    if not (float(tcfg["lr"]) > 0) or tcfg["warmup"] < 0:
        raise UsageError("training: lr must be > 0 and warmup >= 0")
    lr_at(tcfg["schedule"], 1.0, 0, 1, 0)  # unknown schedule names fail here
    if not a.out:
        raise UsageError("--out DIR is required")
    V, pad, bos, eos = mcfg["vocab_size"], mcfg["pad_id"], mcfg["bos_id"], mcfg["eos_id"]

    train_ex = read_parallel(a.train_src, a.train_tgt, "training", V)
    valid_ex = read_parallel(a.valid_src, a.valid_tgt, "validation", V)
    if not train_ex or not valid_ex:
        raise UsageError("%d training and %d validation pairs: both are needed" % (len(train_ex), len(valid_ex)))
    ex, rep = filter_pairs(train_ex, tcfg["max_len"], float(tcfg["max_ratio"]))
    log("kept %d pairs; dropped %d empty, %d over-long, %d with mismatched lengths"
        % (rep["kept"], rep["empty"], rep["too_long"], rep["bad_ratio"]))
    batcher = Batcher(ex, tcfg["batch_tokens"], pad, bos, eos)
    if len(batcher) == 0:
        raise UsageError("no training batches")
    os.makedirs(a.out, exist_ok=True)
    vbatcher = Batcher(valid_ex, max(tcfg["batch_tokens"], max(max(len(s), len(t)) + 1 for s, t, _ in valid_ex)), pad, bos, eos)
    if mcfg["positions"] == "learned":
        longest = max(max(len(s), len(t)) + 1 for s, t, _ in ex + valid_ex)
        if longest > mcfg["max_positions"]:
            raise UsageError("a sentence has %d positions, the model %d (max_positions)" % (longest, mcfg["max_positions"]))

    torch.manual_seed(tcfg["seed"])
    Seq2Seq = build_model_class()
    model = Seq2Seq(mcfg)
    decay_info = model.decays(bool(tcfg["decay_embeddings"]))
    params = [p for _, p, _ in decay_info]
    n_params = sum(p.numel() for p in params)
    nd = sum(p.numel() for _, p, d in decay_info if d)
    log("model: %d parameters, vocabulary %d, %d batches per epoch; weight decay on %d tensors (%d values), "
        "none on %d tensors (%d values)" % (n_params, V, len(batcher), sum(1 for x in decay_info if x[2]), nd,
                                             sum(1 for x in decay_info if not x[2]), n_params - nd))
    opt = make_optimizer(model, tcfg)
    acc = max(1, tcfg["accumulate"])
    total = tcfg["max_steps"] if tcfg["max_steps"] > 0 else tcfg["epochs"] * len(batcher) // acc
    smoothing = float(tcfg["label_smoothing"])
    clip = float(tcfg["clip_norm"])
    model_pt = os.path.join(a.out, "model.pt")

    st = {"step": 0, "epoch": 0, "best": None, "best_nll": None, "best_step": -1, "bad": 0, "eval_step": 0,
          "best_state": None, "history": [], "eval_seconds": 0.0}
    ema_decay = float(tcfg["ema_decay"])
    if not 0 <= ema_decay < 1:
        raise UsageError("ema_decay %g: want 0 (off) or a value in (0, 1)" % ema_decay)
    ema = [p.detach().clone() for p in params] if ema_decay > 0 else None

    def ema_update():
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(ema_decay).add_(p, alpha=1 - ema_decay)

    def swap_ema():  # exchanges the raw and the averaged weights (twice restores them)
        with torch.no_grad():
            for e, p in zip(ema, params):
                tmp = p.detach().clone()
                p.copy_(e)
                e.copy_(tmp)

    def evaluate():
        t0 = time.perf_counter()
        if ema is not None:
            swap_ema()
        vl, nll = evaluate_loss(model, vbatcher, smoothing)
        st["eval_seconds"] += time.perf_counter() - t0
        st["eval_step"] = st["step"]
        if not math.isfinite(vl):
            raise RuntimeError("evaluation at step %d gave %s" % (st["step"], vl))
        improved = st["best"] is None or vl < st["best"]
        st["history"].append({"step": st["step"], "val_loss": vl, "val_nll": nll})
        mark = ""
        if improved:
            st["best"], st["best_nll"], st["best_step"], st["bad"] = vl, nll, st["step"], 0
            st["best_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
            save_model_atomic(model_pt, model, st["best_state"], {"step": st["step"], "val_loss": vl, "val_nll": nll})
            mark = " (best so far, saved)"
        else:
            st["bad"] += 1
        if ema is not None:
            swap_ema()
        log("step %d: val loss %.4f, nll %.4f (ppl %.2f)%s" % (st["step"], vl, nll, math.exp(min(nll, 50)), mark))
        return tcfg["patience"] > 0 and st["bad"] >= tcfg["patience"]

    model.train()
    tokens_total = 0
    step_seconds = 0.0
    start = time.perf_counter()
    last_log = -1e9
    stopped = ""
    while True:
        if tcfg["epochs"] > 0 and st["epoch"] >= tcfg["epochs"]:
            stopped = "epochs done"
            break
        order = batcher.order(tcfg["seed"], st["epoch"])
        stop = ""
        bi = 0
        while bi < len(order):
            t_step = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss_sum, tokens = 0.0, 0
            for _ in range(acc):
                if bi >= len(order):
                    break
                src, tin, lab, ntok = batcher.batch(order[bi])
                bi += 1
                loss = model.loss(src, tin, lab, smoothing)
                lv = loss.item()
                if not math.isfinite(lv):
                    raise RuntimeError("step %d: the loss is %s (learning rate too high?)" % (st["step"], lv))
                # micro-batch means weighted by tokens: the step's gradient is the mean over all
                (loss * ntok).backward()
                loss_sum += lv * ntok
                tokens += ntok
            if tokens == 0:
                continue
            for p in params:
                if p.grad is not None:
                    p.grad.div_(tokens)
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(params, clip)
            lr = lr_at(tcfg["schedule"], float(tcfg["lr"]), tcfg["warmup"], total, st["step"])
            for g in opt.param_groups:
                g["lr"] = lr
            opt.step()
            if ema is not None:
                ema_update()
            st["step"] += 1
            tokens_total += tokens
            now = time.perf_counter()
            step_seconds += now - t_step
            if now - last_log >= 30 or st["step"] == 1:
                last_log = now
                el = now - start
                log("step %d/%d epoch %d (%.2f) loss %.4f %.0f target tokens/s lr %.3g elapsed %.0fs"
                    % (st["step"], total, st["epoch"] + 1, st["epoch"] + bi / len(order), loss_sum / tokens,
                       tokens_total / el, lr, el))
            if tcfg["eval_every"] > 0 and st["step"] % tcfg["eval_every"] == 0:
                if evaluate():
                    stop = "no improvement (patience)"
                    break
            if tcfg["max_steps"] > 0 and st["step"] >= tcfg["max_steps"]:
                stop = "steps done"
                break
            if budget > 0 and time.perf_counter() - start >= budget:
                stop = "time budget spent"
                break
        if stop == "":  # the epoch ended
            st["epoch"] += 1
            if tcfg["eval_every"] == 0 and evaluate():
                stop = "no improvement (patience)"
        if stop:
            # stopped between evaluations: evaluate once more (as train.Trainer)
            if stop != "no improvement (patience)" and st["eval_step"] != st["step"]:
                evaluate()
            stopped = stop
            break
    train_seconds = time.perf_counter() - start
    log("stopped: %s after %d steps (%d epochs), %.0f s" % (stopped, st["step"], st["epoch"], train_seconds))

    if st["best_state"] is None:  # never evaluated: the final (averaged) weights
        if ema is not None:
            swap_ema()
        st["best_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        save_model_atomic(model_pt, model, st["best_state"], {"step": st["step"]})
    model.load_state_dict(st["best_state"])

    result = {
        "params": n_params, "steps": st["step"], "epochs": st["epoch"],
        "epochs_fraction": round(st["epoch"] + (bi / len(order) if stopped != "epochs done" else 0), 4),
        "train_seconds": round(train_seconds, 3),
        "train_target_tokens": tokens_total,
        "train_target_tokens_per_s": round(tokens_total / train_seconds, 1),
        "train_step_seconds": round(step_seconds, 3),
        "train_step_target_tokens_per_s": round(tokens_total / max(step_seconds, 1e-9), 1),
        "eval_seconds": round(st["eval_seconds"], 3),
        "best_val_loss": st["best"], "best_val_nll": st["best_nll"], "best_step": st["best_step"],
        "val_history": st["history"], "stopped": stopped, "threads": threads, "torch": torch.__version__,
        "batches_per_epoch": len(batcher), "filter": rep, "seed": tcfg["seed"], "time_budget_s": budget,
        "model_config": model.cfg,
        "training_config": tcfg, "selection": "lowest validation loss (label-smoothed CE)", "decode": {},
        "env": run_env(),
    }
    result_path = os.path.join(a.out, "result.json")
    write_json_atomic(result_path, result)

    # Decode the whole validation source with the best weights.
    vsrc = [s for s, _, _ in valid_ex]
    for name, beam, fname in (("greedy", 1, "hyp.greedy.ids.jsonl"), ("beam4", 4, "hyp.beam4.ids.jsonl")):
        hyps, ntok, sec, _ = translate_ids(model, vsrc, beam, batch_size=32)
        path = os.path.join(a.out, fname)
        with open(path + ".tmp", "w") as f:
            for h in hyps:
                f.write(json.dumps(h.tokens, separators=(",", ":")) + "\n")
        os.replace(path + ".tmp", path)
        fig = {"name": "valid/%s-b32" % name, "threads": threads, "value": round(ntok / sec, 1), "unit": "tokens/s",
               "sentences": len(vsrc), "tokens": ntok, "seconds": round(sec, 3),
               "truncated": sum(1 for h in hyps if h.truncated)}
        result["decode"][fig["name"]] = fig
        log("validation %s: %d sentences, %d tokens in %.1f s: %.0f tokens/s -> %s" % (name, len(vsrc), ntok, sec, ntok / sec, path))
    write_json_atomic(result_path, result)
    if a.bench_after:
        for t in bench_thread_list(a):
            bench(model, a.out, vsrc[:a.sentences], t, a.runs)
    return result


# ---------------------------------------------------------------------------------------------
# Decoding benchmark.

def load_model(out):
    import torch
    path = os.path.join(out or "", "model.pt")
    if not out or not os.path.isfile(path):
        raise UsageError("%s: no such file (train first, with --out DIR)" % path)
    obj = torch.load(path, map_location="cpu")
    cfg = dict(obj["config"])
    Seq2Seq = build_model_class()
    model = Seq2Seq(cfg)
    model.load_state_dict(obj["state_dict"])
    model.eval()
    return model, obj


def bench(model, out, sources, threads, runs=3):
    import torch
    torch.set_num_threads(threads)
    figs = []
    for beam in (1, 4):
        for bsz in (1, 32):
            name = "decode/%s-b%d" % ("greedy" if beam == 1 else "beam%d" % beam, bsz)
            translate_ids(model, sources, beam, bsz)  # warm-up
            rates, toks = [], 0
            for _ in range(runs):
                _, toks, sec, _ = translate_ids(model, sources, beam, bsz)
                rates.append(toks / sec)
            fig = {"name": name, "threads": threads, "value": round(statistics.median(rates), 1), "unit": "tokens/s",
                   "sentences": len(sources), "tokens": toks, "runs": [round(r, 1) for r in rates], "env": run_env()}
            sys.stdout.write(json.dumps({k: fig[k] for k in ("name", "threads", "value", "unit")}) + "\n")
            sys.stdout.flush()
            figs.append(fig)
    path = os.path.join(out, "result.json")
    result = {}
    if os.path.isfile(path):
        with open(path) as f:
            result = json.load(f)
    result.setdefault("decode", {})
    for fig in figs:
        result["decode"]["%s@%dt" % (fig["name"], fig["threads"])] = fig
    result.setdefault("torch", torch.__version__)
    write_json_atomic(path, result)
    return figs


def bench_decode(a):
    model, _ = load_model(a.out)
    vocab = model.cfg["vocab_size"]
    src = read_ids(a.valid_src, "validation source", vocab)
    if not src:
        raise UsageError("%s holds no sentences" % a.valid_src)
    bench(model, a.out, src[:a.sentences], a.threads or 1, a.runs)


def export_go(a):
    import shutil
    import torch
    model, obj = load_model(a.out)
    os.makedirs(a.export_go, exist_ok=True)
    cfg = {k: v for k, v in model.cfg.items() if k in MODEL_DEFAULTS}
    with open(os.path.join(a.export_go, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    tensors = {n: t.detach().float().contiguous() for n, t in go_state(model).items()}
    meta = {"generator": "recipes/multi30k_torch.py", "torch": torch.__version__, "step": str(obj.get("step", ""))}
    write_safetensors(os.path.join(a.export_go, "model.safetensors"), tensors, meta)
    if a.tokenizer:
        shutil.copyfile(a.tokenizer, os.path.join(a.export_go, "tokenizer.json"))
    log("wrote %s (config.json, model.safetensors%s)" % (a.export_go, ", tokenizer.json" if a.tokenizer else ""))


def import_go(a):
    if not a.out:
        raise UsageError("--import-go needs --out DIR")
    cfg_path = os.path.join(a.import_go, "config.json")
    st_path = os.path.join(a.import_go, "model.safetensors")
    for path in (cfg_path, st_path):
        if not os.path.isfile(path):
            raise UsageError("%s: no such file (a Go model directory holds config.json and model.safetensors)" % path)
    with open(cfg_path) as f:
        raw = json.load(f)
    cfg = dict(MODEL_DEFAULTS)
    unknown = sorted(k for k in raw if k not in cfg)
    if unknown:
        raise UsageError("%s: fields this script does not know: %s" % (cfg_path, ", ".join(unknown)))
    cfg.update(raw)
    validate_model_config(cfg)
    Seq2Seq = build_model_class()
    model = Seq2Seq(cfg)
    tensors, meta = read_safetensors(st_path)
    try:
        load_go_state(model, tensors)
    except ValueError as e:
        raise UsageError("%s: %s" % (st_path, e))
    model.eval()
    os.makedirs(a.out, exist_ok=True)
    save_model_atomic(os.path.join(a.out, "model.pt"), model, model.state_dict(),
                      {"imported_from": os.path.abspath(a.import_go), "step": meta.get("step", "")})
    log("wrote %s from %s" % (os.path.join(a.out, "model.pt"), a.import_go))


# ---------------------------------------------------------------------------------------------
# Self-test.

def reference_logits(cfg, g, src, tgt_in):
    """An independent forward pass from Go-named weights g (make_parity.py's model)."""
    import torch
    import torch.nn.functional as F
    C, H = cfg["d_model"], cfg["n_heads"]
    eps, pad = cfg["layer_norm_eps"], cfg["pad_id"]
    act = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}[cfg["activation"]]

    def lin(x, n):
        return F.linear(x, g[n + ".weight"], g.get(n + ".bias"))

    def ln(x, n):
        return F.layer_norm(x, (C,), g[n + ".weight"], g[n + ".bias"], eps)

    def mha(q, kv, n, key_pad, causal):
        b, t, _ = q.shape
        s, d = kv.shape[1], C // H
        Q = lin(q, n + ".q_proj").view(b, t, H, d).transpose(1, 2)
        K = lin(kv, n + ".k_proj").view(b, s, H, d).transpose(1, 2)
        Vv = lin(kv, n + ".v_proj").view(b, s, H, d).transpose(1, 2)
        sc = (Q @ K.transpose(-1, -2)) / math.sqrt(d)
        sc = sc.masked_fill(key_pad[:, None, None, :], float("-inf"))
        if causal:
            sc = sc.masked_fill(torch.ones(t, s, dtype=torch.bool).triu(1), float("-inf"))
        return lin((torch.softmax(sc, -1) @ Vv).transpose(1, 2).reshape(b, t, C), n + ".out_proj")

    def sub(x, n, f):
        return x + f(ln(x, n)) if cfg["norm_first"] else ln(x + f(x), n)

    def stack(side, ids, causal, enc=None, enc_pad=None):
        tok = g["shared.weight"] if cfg["tie_embeddings"] else g[side + ".embed_tokens.weight"]
        x = tok[ids]
        if cfg["scale_embedding"]:
            x = x * math.sqrt(C)
        t = ids.shape[1]
        if cfg["positions"] == "learned":
            x = x + g[side + ".embed_positions.weight"][:t]
        else:
            pe = torch.zeros(t, C, dtype=x.dtype)
            pos = torch.arange(t, dtype=x.dtype).unsqueeze(1)
            div = torch.exp(torch.arange(0, C, 2, dtype=x.dtype) * (-math.log(10000.0) / C))
            pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
            x = x + pe
        kp = ids == pad
        n = cfg["encoder_layers"] if side == "encoder" else cfg["decoder_layers"]
        for i in range(n):
            p = "%s.layers.%d" % (side, i)
            x = sub(x, p + ".self_attn_layer_norm", lambda h: mha(h, h, p + ".self_attn", kp, causal))
            if enc is not None:
                x = sub(x, p + ".encoder_attn_layer_norm", lambda h: mha(h, enc, p + ".encoder_attn", enc_pad, False))
            x = sub(x, p + ".final_layer_norm", lambda h: lin(act(lin(h, p + ".fc1")), p + ".fc2"))
        if cfg["norm_first"]:
            x = ln(x, side + ".layer_norm")
        return x

    enc = stack("encoder", src, False)
    h = stack("decoder", tgt_in, True, enc, src == pad)
    w = g["shared.weight"] if cfg["tie_embeddings"] else g["lm_head.weight"]
    return h @ w.t()


def self_test(a):
    import warnings
    import torch
    import torch.nn.functional as F
    warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    Seq2Seq = build_model_class()
    failures = []

    def check(name, ok, detail=""):
        print("%-4s %s%s" % ("ok" if ok else "FAIL", name, (": " + detail) if detail else ""))
        sys.stdout.flush()
        if not ok:
            failures.append(name)

    # 1. Go's PCG permutation and learning-rate schedules (values printed by Go 1.26).
    check("Go rand.PCG Perm", GoPCG(1, 0).perm(10) == [6, 3, 1, 9, 7, 4, 8, 2, 0, 5]
          and GoPCG(42, 3).perm(17) == [15, 5, 10, 9, 4, 14, 2, 6, 13, 7, 3, 12, 16, 8, 1, 0, 11])
    r = GoPCG(7, 9)
    check("Go rand.PCG Uint64", [r.uint64(), r.uint64()] == [5226112593944504937, 17848267570456653661])
    go_lrs = [[2.5e-06, 0], [5e-06, 2.5e-06], [0.001, 0.0009975000000000001], [0.0009987523388778447, 0.001],
              [0.000997509336107633, 0.0009999931461237134], [0.0006324555320336759, 6.853876286627703e-09],
              [0.00028281443244530525, 0.0007500000000000001]]
    mine = [[lr_at("inverse_sqrt", 1e-3, 400, 1000, s), lr_at("cosine", 1e-3, 400, 1000, s)] for s in (0, 1, 399, 400, 401, 999, 5000)]
    check("schedules = optim/schedule", all(abs(x - y) <= 1e-15 for p, q in zip(mine, go_lrs) for x, y in zip(p, q)))
    check("durations", parse_duration("1h30m") == 5400 and parse_duration("90s") == 90 and parse_duration("1.5m") == 90)

    # 2. Parity with the Go model's fixture (make_parity.py, post-LN, tied, sinusoidal).
    fx = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "transformer", "testdata", "encoder_decoder.safetensors")
    if os.path.isfile(fx):
        tens, meta = read_safetensors(fx)
        cfg = dict(MODEL_DEFAULTS)
        cfg.update(json.loads(meta["config"]))
        model = Seq2Seq(cfg).double()
        load_go_state(model, {k[6:]: v.double() for k, v in tens.items() if k.startswith("param/")})
        model.eval()
        src, tin, lab = (tens["input/" + k].long() for k in ("src", "tgt_in", "labels"))
        logits = model(src, tin)
        d = (logits - tens["expect/logits"]).abs().max().item()
        check("Go fixture: logits", d < 1e-9, "max |diff| %.2e" % d)
        loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), lab.reshape(-1), ignore_index=0, label_smoothing=0.1)
        d = abs(loss.item() - tens["expect/loss"].item())
        check("Go fixture: loss", d < 1e-12, "%.12f vs %.12f" % (loss.item(), tens["expect/loss"].item()))
        loss.backward()
        grads = go_state_grads(model)
        worst = max((grads[n] - tens["expect/grad/" + n]).abs().max().item() for n in grads)
        check("Go fixture: gradients", worst < 1e-9, "max |diff| %.2e over %d tensors" % (worst, len(grads)))
        # 10 AdamW steps: decay on projection matrices only, linear schedule (3 warm-up, 10
        # total, peak 1e-2), clipping at 1, as make_parity.py and the Go trainer do them.
        model = Seq2Seq(cfg).double()
        load_go_state(model, {k[6:]: v.double() for k, v in tens.items() if k.startswith("param/")})
        model.train()
        opt = make_optimizer(model, dict(TRAIN_DEFAULTS, lr=1e-2, weight_decay=0.01))
        params = [p for _, p, _ in model.decays()]
        losses = []
        for s in range(10):
            opt.zero_grad(set_to_none=True)
            loss = model.loss(src, tin, lab, 0.1)
            losses.append(loss.item())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            for grp in opt.param_groups:
                grp["lr"] = lr_at("linear", 1e-2, 3, 10, s)
            opt.step()
        # make_parity's optimizer default beta2 is 0.999, like TRAIN_DEFAULTS' 0 -> 0.999
        d = max(abs(x - y) for x, y in zip(losses, tens["expect/adamw_losses"].tolist()))
        check("Go fixture: 10 AdamW steps (decay groups, schedule, clipping)", d < 1e-9, "max |diff| %.2e" % d)
    else:
        print("skip Go fixture (%s not found)" % fx)

    # 3. Random tiny models in float64: nn.Transformer = reference math; loss formula;
    #    incremental step = full decoder.
    g = torch.Generator().manual_seed(5)
    variants = [
        dict(norm_first=True, tie_embeddings=True, positions="sinusoidal", activation="relu"),
        dict(norm_first=False, tie_embeddings=True, positions="sinusoidal", activation="gelu"),
        dict(norm_first=True, tie_embeddings=False, positions="learned", activation="gelu_tanh", scale_embedding=False),
    ]
    for vi, var in enumerate(variants):
        cfg = dict(MODEL_DEFAULTS, vocab_size=37, d_model=24, n_heads=4, d_ff=40, encoder_layers=2, decoder_layers=2,
                   max_positions=64, dropout=0.1, attention_dropout=0.1, activation_dropout=0.1)
        cfg.update(var)
        torch.manual_seed(100 + vi)
        model = Seq2Seq(cfg).double()
        with torch.no_grad():  # move LayerNorms and biases off 1/0 so every path counts
            for n, p in model.named_parameters():
                if p.dim() == 1:
                    p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        model.eval()
        tag = "variant %d (%s)" % (vi, ", ".join("%s=%s" % kv for kv in var.items()))
        B = 3
        rnd = lambda n: torch.randint(3, 37, (n,), generator=g).tolist()
        toy = [(rnd(ls), rnd(lt), i + 1) for i, (ls, lt) in enumerate([(8, 5), (4, 6), (1, 0)])]
        src, tin, lab, _ = Batcher(toy, 1000, 0, 1, 2).batch(0)
        with torch.no_grad():
            logits = model(src, tin)
            ref = reference_logits(cfg, {k: v for k, v in go_state(model).items()}, src, tin)
            mask = lab != 0
            d = (logits - ref)[mask].abs().max().item()
            check(tag + ": nn.Transformer = reference model", d < 1e-10, "max |diff| %.2e" % d)
            eps_ls = 0.1
            loss = model.loss(src, tin, lab, eps_ls).item()
            flat, y = logits.reshape(-1, 37), lab.reshape(-1)
            keep = y != 0
            lse = torch.logsumexp(flat[keep], -1)
            direct = ((1 - eps_ls) * (lse - flat[keep].gather(1, y[keep].view(-1, 1)).view(-1))
                      + eps_ls * (lse - flat[keep].mean(-1))).mean().item()
            check(tag + ": loss = direct (1-eps)(lse-z_t)+eps(lse-mean z)", abs(loss - direct) < 1e-12, "%.12f vs %.12f" % (loss, direct))
            # step logits vs the full decoder, with a reorder in the middle
            s_c = DecodeSession(model, [src[i][src[i] != 0].tolist() for i in range(B)], cache=True, capacity=2)
            s_u = DecodeSession(model, [src[i][src[i] != 0].tolist() for i in range(B)], cache=False)
            worst = 0.0
            toks = [1] * B
            for step in range(6):
                a_, b_ = s_c.step(toks), s_u.step(toks)
                worst = max(worst, (a_ - b_).abs().max().item())
                if step == 2:
                    idx = [2, 0, 0, 1]
                    s_c.keep(idx)
                    s_u.keep(idx)
                toks = torch.randint(3, 37, (s_c.rows,), generator=g).tolist()
            check(tag + ": cached step = full decoder (with reorder, cache growth)", worst < 1e-10, "max |diff| %.2e" % worst)
        # dropout sits where ours does
        model.train()
        drops = {n: m.p for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout)}
        attn = {n: m.dropout for n, m in model.named_modules() if isinstance(m, torch.nn.MultiheadAttention)}
        ok = (drops["drop"] == cfg["dropout"] and all(v == cfg["activation_dropout"] for n, v in drops.items() if n.endswith(".dropout"))
              and all(v == cfg["dropout"] for n, v in drops.items() if re.search(r"dropout\d$", n))
              and all(v == cfg["attention_dropout"] for v in attn.values()))
        check(tag + ": dropout placement", ok)
        nparams = sum(p.numel() for p in model.parameters())
        C, Fd, V = 24, 40, 37
        attn_p, ln_p, ffn_p = 4 * (C * C + C), 2 * C, C * Fd + Fd + Fd * C + C
        want = (V * C * (1 if cfg["tie_embeddings"] else 3) + (2 * 64 * C if cfg["positions"] == "learned" else 0)
                + 2 * (attn_p + 2 * ln_p + ffn_p) + 2 * (2 * attn_p + 3 * ln_p + ffn_p) + (2 * ln_p if cfg["norm_first"] else 0))
        check(tag + ": parameter count = Go model's", nparams == want, "%d vs %d" % (nparams, want))

    # 4. Search on a float32 model trained briefly to reverse its input (so that it ends its
    #    outputs at varied lengths): cached = uncached; beam-1 = greedy.
    cfg = dict(MODEL_DEFAULTS, vocab_size=40, d_model=32, n_heads=4, d_ff=64, encoder_layers=2, decoder_layers=2,
               max_positions=128, norm_first=True, dropout=0.0)
    torch.manual_seed(7)
    model = Seq2Seq(cfg)
    rnd = lambda n: torch.randint(3, 40, (n,), generator=g).tolist()
    toy = []
    for i in range(512):
        x = rnd(int(torch.randint(1, 12, (1,), generator=g)))
        toy.append((x, x[::-1], i + 1))
    tb = Batcher(toy, 400, 0, 1, 2)
    tcfg = dict(TRAIN_DEFAULTS, lr=3e-3, adam_beta2=0.98)
    opt = make_optimizer(model, tcfg)
    model.train()
    first = last = None
    for step in range(150):
        src, tin, lab, _ = tb.batch(tb.order(1, step // len(tb))[step % len(tb)])
        opt.zero_grad(set_to_none=True)
        loss = model.loss(src, tin, lab, 0.1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for grp in opt.param_groups:
            grp["lr"] = lr_at("inverse_sqrt", 3e-3, 30, 150, step)
        opt.step()
        first = first if first is not None else loss.item()
        last = loss.item()
    check("toy training: loss falls", last < 0.6 * first, "%.3f -> %.3f" % (first, last))
    model.eval()
    srcs = [rnd(int(n)) for n in torch.randint(1, 14, (40,), generator=g)]
    with torch.inference_mode():
        hg, ntg, _, _ = translate_ids(model, srcs, 1, batch_size=5)
        hu, _, _, _ = translate_ids(model, srcs, 1, batch_size=5, cache=False)
        check("greedy: cached = uncached", [h.tokens for h in hg] == [h.tokens for h in hu],
              "lengths %s" % [len(h.tokens) for h in hg])
        check("greedy: outputs are not all truncated", sum(h.truncated for h in hg) < len(hg) // 2,
              "%d of %d truncated" % (sum(h.truncated for h in hg), len(hg)))
        hb, _, _, _ = translate_ids(model, srcs, 4, batch_size=5)
        hbu, _, _, _ = translate_ids(model, srcs, 4, batch_size=5, cache=False)
        check("beam 4: cached = uncached", [h.tokens for h in hb] == [h.tokens for h in hbu],
              "lengths %s; %d of %d differ from greedy" % ([len(h.tokens) for h in hb],
                                                         sum(x.tokens != y.tokens for x, y in zip(hb, hg)), len(hb)))
        h1, _, _, _ = translate_ids(model, srcs, 1, batch_size=5, early_stop=True)
        # beam search with beam 1 (its code path forced: Beam <= 1 means greedy in Generate)
        eos = cfg["eos_id"]
        src_e = [s + [eos] for s in srcs]
        o1 = DecodeOptions(cfg["bos_id"], eos, beam=1, max_len=cfg["max_positions"] - 1, early_stop=True)
        o0 = DecodeOptions(cfg["bos_id"], eos, beam=1, max_len=cfg["max_positions"] - 1, length_penalty=0)
        b1 = [r[0] for r in beam_search(model, src_e, o1)]
        b0 = [r[0] for r in beam_search(model, src_e, o0)]
        gr = [r[0] for r in greedy(model, src_e, o1)]
        same = [x.tokens for x in b1] == [x.tokens for x in gr] and all(abs(x.logprob - y.logprob) < 1e-9 for x, y in zip(b1, gr))
        check("beam 1 (early stop) = greedy", same)
        check("beam 1 (length penalty 0) = greedy", [x.tokens for x in b0] == [x.tokens for x in gr])
        lim = [DecodeOptions(1, 2, max_len=127).limit(len(s)) for s in src_e]
        check("greedy respects max length 1.5*(len(src)+EOS)+10",
              all(len(x.tokens) <= l for x, l in zip(gr, lim)), "truncated %d of %d" % (sum(x.truncated for x in gr), len(gr)))
        check("batching does not change greedy output",
              [h.tokens for h in hg] == [h.tokens for h in translate_ids(model, srcs, 1, batch_size=1)[0]])

    # 5. Batch plan on a toy set: the cut rule and the order.
    ex = [([5] * ls, [6] * lt, i + 1) for i, (ls, lt) in enumerate([(3, 4), (2, 4), (9, 1), (4, 4), (1, 1), (0, 3), (7, 20), (5, 5)])]
    kept, rep = filter_pairs(ex, 10, 3)
    check("filter", rep == {"kept": 5, "empty": 1, "too_long": 1, "bad_ratio": 1} and [e[2] for e in kept] == [1, 2, 4, 5, 8], str(rep))
    b = Batcher(kept, 12, 0, 1, 2)
    check("batch plan", [[kept[i][2] for i in p] for p in b.plan] == [[5, 2], [1, 4], [8]], str([[kept[i][2] for i in p] for p in b.plan]))
    src, tin, lab, n = b.batch(0)
    check("batch tensors", src.tolist() == [[5, 2, 0], [5, 5, 2]] and tin.tolist() == [[1, 6, 0, 0, 0], [1, 6, 6, 6, 6]]
          and lab.tolist() == [[6, 2, 0, 0, 0], [6, 6, 6, 6, 2]] and n == 7)

    print("%s in %.1f s" % ("all ok" if not failures else "%d FAILED" % len(failures), time.perf_counter() - t_start))
    return 1 if failures else 0


def go_state_grads(model):
    """The gradients of go_state's tensors (slices of in_proj gradients for q, k, v)."""
    C = model.cfg["d_model"]
    out = {}
    # go_state returns views for q/k/v; each takes its slice of its base parameter's gradient.
    for n, t in go_state(model).items():
        if t._base is not None:  # a slice of in_proj_weight/bias
            base = t._base
            k = ("q_proj", "k_proj", "v_proj").index(n.split(".")[-2])
            out[n] = base.grad[k * C:(k + 1) * C]
        else:
            out[n] = t.grad
    return out


def main(argv):
    try:
        a = parse_args(argv)
        maybe_reexec(threads_needed(a))
        if a.self_test:
            return self_test(a)
        if a.export_go:
            export_go(a)
            return 0
        if a.import_go:
            import_go(a)
            return 0
        if a.bench_decode:
            bench_decode(a)
            return 0
        train(a)
        return 0
    except UsageError as e:
        die(str(e))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
