"""Peer for `optiformer bench train`: the same sequence-to-sequence training in PyTorch.

torch.nn.Transformer (post-LN, ReLU, the sizes of the init's model config, dropout as
configured) with token embeddings shared by encoder, decoder and output projection, scaled by
√d_model, plus sinusoidal positions; cross-entropy with label smoothing ignoring pad (0);
torch.optim.AdamW. The batches come in the init line, so both sides train on the same tokens.

First stdin line: the worker init (bench.WorkerInit, task "train"). Then
{"op": "run", "steps": n} -> {"tokens_per_s": …}, {"op": "rss"} -> {"rss_mib": …}.
"""
import json
import math
import resource
import sys
import time


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


init = json.loads(sys.stdin.readline())
try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    out({"error": "PyTorch not installed (%s); apt-get install python3-torch" % e})
    sys.exit(0)

cfg = init["model"]
V, C = cfg["vocab_size"], cfg["d_model"]
torch.manual_seed(0)
torch.set_num_threads(init["threads"])


class Seq2Seq(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, C, padding_idx=cfg["pad_id"])
        self.tr = torch.nn.Transformer(C, cfg["n_heads"], cfg["encoder_layers"], cfg["decoder_layers"], cfg["d_ff"],
                                       cfg["dropout"], activation=cfg["activation"].replace("gelu_tanh", "gelu"),
                                       layer_norm_eps=cfg["layer_norm_eps"], batch_first=True, norm_first=cfg["norm_first"])
        pe = torch.zeros(cfg["max_positions"], C)
        pos = torch.arange(cfg["max_positions"]).unsqueeze(1).float()
        div = torch.exp(torch.arange(0, C, 2).float() * (-math.log(10000.0) / C))
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe)
        self.drop = torch.nn.Dropout(cfg["dropout"])

    def embed(self, x):
        return self.drop(self.emb(x) * math.sqrt(C) + self.pe[: x.shape[1]])

    def forward(self, src, tgt_in):
        t = tgt_in.shape[1]
        causal = torch.triu(torch.full((t, t), float("-inf")), 1)
        pad = cfg["pad_id"]
        h = self.tr(self.embed(src), self.embed(tgt_in), tgt_mask=causal, src_key_padding_mask=src == pad,
                    tgt_key_padding_mask=tgt_in == pad, memory_key_padding_mask=src == pad)
        return h @ self.emb.weight.t()


model = Seq2Seq().train()
opt = torch.optim.AdamW(model.parameters(), lr=init["lr"], weight_decay=init["weight_decay"])
batches = [(torch.tensor(b["src"]), torch.tensor(b["tgt_in"]), torch.tensor(b["labels"]).long()) for b in init["batches"]]
state = {"next": 0}


def step():
    src, tgt_in, labels = batches[state["next"] % len(batches)]
    state["next"] += 1
    logits = model(src, tgt_in)
    loss = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=cfg["pad_id"],
                           label_smoothing=init["label_smoothing"])
    opt.zero_grad()
    loss.backward()
    opt.step()
    return int((labels != cfg["pad_id"]).sum())


step()
out({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()})
for line in sys.stdin:
    req = json.loads(line)
    if req.get("op") == "rss":
        out({"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        continue
    t0 = time.perf_counter()
    tokens = sum(step() for _ in range(int(req.get("steps", 1))))
    sec = time.perf_counter() - t0
    out({"tokens_per_s": tokens / sec, "seconds": sec, "tokens": tokens})
