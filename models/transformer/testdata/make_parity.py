#!/usr/bin/python3
"""Parity fixtures for models/transformer: a PyTorch 1.13 re-implementation of the same
architecture, run in float64 on float32 weights.

For each of three tiny configurations (encoder-decoder, encoder-only with a span head,
decoder-only) it writes <name>.safetensors holding
  param/<name>          the initial weights (F32), under the Go model's checkpoint names
  input/<name>          the token ids (I32)
  expect/logits         the model output (F64)
  expect/loss           the training loss (F64, shape [1])
  expect/grad/<name>    d loss / d parameter for every parameter (F64)
  expect/adamw_losses   the loss before each of 10 AdamW steps (F64) with weight decay 0.01
                        on Linear weights only, a linear warm-up (3) + decay (10) schedule
                        peaking at 1e-2, and gradient clipping at norm 1
and in __metadata__ the config JSON, the generator, torch's version and the seed.

Run from this directory with Debian's python3-torch:  /usr/bin/python3 make_parity.py
The Go tests read these files and never run Python.
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20261128


class MHA(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(c, c) for _ in range(4))

    def forward(self, q, kv, key_pad=None, causal=False):
        b, t, c = q.shape
        s = kv.shape[1]
        d = c // self.h
        Q = self.q_proj(q).view(b, t, self.h, d).transpose(1, 2)
        K = self.k_proj(kv).view(b, s, self.h, d).transpose(1, 2)
        V = self.v_proj(kv).view(b, s, self.h, d).transpose(1, 2)
        scores = (Q @ K.transpose(-1, -2)) * (1 / math.sqrt(d))
        if key_pad is not None:
            scores = scores.masked_fill(key_pad[:, None, None, :], float("-inf"))
        if causal:
            m = torch.ones(t, s, dtype=torch.bool).triu(1)
            scores = scores.masked_fill(m, float("-inf"))
        p = torch.softmax(scores, dim=-1)
        out = (p @ V).transpose(1, 2).reshape(b, t, c)
        return self.out_proj(out)


class Layer(nn.Module):
    def __init__(self, cfg, cross):
        super().__init__()
        c = cfg["d_model"]
        self.self_attn = MHA(c, cfg["n_heads"])
        self.self_attn_layer_norm = nn.LayerNorm(c, eps=cfg["layer_norm_eps"])
        if cross:
            self.encoder_attn = MHA(c, cfg["n_heads"])
            self.encoder_attn_layer_norm = nn.LayerNorm(c, eps=cfg["layer_norm_eps"])
        self.fc1 = nn.Linear(c, cfg["d_ff"])
        self.fc2 = nn.Linear(cfg["d_ff"], c)
        self.final_layer_norm = nn.LayerNorm(c, eps=cfg["layer_norm_eps"])
        self.act = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}[cfg["activation"]]
        self.pre = cfg["norm_first"]

    def sub(self, x, norm, f):
        if self.pre:
            return x + f(norm(x))
        return norm(x + f(x))

    def forward(self, x, pad, causal, enc=None, enc_pad=None):
        x = self.sub(x, self.self_attn_layer_norm, lambda h: self.self_attn(h, h, pad, causal))
        if enc is not None:
            x = self.sub(x, self.encoder_attn_layer_norm, lambda h: self.encoder_attn(h, enc, enc_pad))
        return self.sub(x, self.final_layer_norm, lambda h: self.fc2(self.act(self.fc1(h))))


def sinusoidal(t, c, dtype):
    # The PyTorch-tutorial table, computed in the model's precision (float64 here).
    pe = torch.zeros(t, c, dtype=dtype)
    position = torch.arange(0, t, dtype=dtype).unsqueeze(1)
    div = torch.exp(torch.arange(0, c, 2, dtype=dtype) * (-math.log(10000.0) / c))
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe


class Stack(nn.Module):
    def __init__(self, cfg, n, cross, tokens):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = tokens
        if cfg["positions"] == "learned":
            self.embed_positions = nn.Embedding(cfg["max_positions"], cfg["d_model"])
        self.layers = nn.ModuleList(Layer(cfg, cross) for _ in range(n))
        if cfg["norm_first"]:
            self.layer_norm = nn.LayerNorm(cfg["d_model"], eps=cfg["layer_norm_eps"])

    def forward(self, ids, causal, enc=None, enc_pad=None):
        cfg = self.cfg
        x = self.embed_tokens(ids)
        if cfg["scale_embedding"]:
            x = x * math.sqrt(cfg["d_model"])
        t = ids.shape[1]
        if cfg["positions"] == "learned":
            x = x + self.embed_positions(torch.arange(t))
        else:
            x = x + sinusoidal(t, cfg["d_model"], x.dtype)
        pad = ids == cfg["pad_id"]
        for layer in self.layers:
            x = layer(x, pad, causal, enc, enc_pad)
        if cfg["norm_first"]:
            x = self.layer_norm(x)
        return x


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        v, c, arch = cfg["vocab_size"], cfg["d_model"], cfg["arch"]
        tie = cfg["tie_embeddings"]
        # padding_idx: the pad row gets no gradient, as in the Go model.
        emb = lambda: nn.Embedding(v, c, padding_idx=cfg["pad_id"])
        if tie and arch == "encoder-decoder":
            self.shared = emb()
            enc_tok = dec_tok = self.shared
        else:
            enc_tok, dec_tok = emb(), emb()
        if arch != "decoder":
            self.encoder = Stack(cfg, cfg["encoder_layers"], False, enc_tok)
        if arch != "encoder":
            self.decoder = Stack(cfg, cfg["decoder_layers"], arch == "encoder-decoder", dec_tok)
            if not tie:
                self.lm_head = nn.Linear(c, v, bias=False)
        if cfg.get("span_head"):
            self.qa_outputs = nn.Linear(c, 2)

    def logits(self, h):
        if hasattr(self, "lm_head"):
            return self.lm_head(h)
        return h @ self.decoder.embed_tokens.weight.t()

    def forward(self, inputs):
        cfg = self.cfg
        arch = cfg["arch"]
        if arch == "encoder-decoder":
            src = inputs["src"]
            enc = self.encoder(src, False)
            h = self.decoder(inputs["tgt_in"], True, enc, src == cfg["pad_id"])
            logits = self.logits(h)
            loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), inputs["labels"].reshape(-1).long(),
                                   ignore_index=cfg["pad_id"], label_smoothing=0.1)
            return logits, loss
        if arch == "encoder":
            h = self.encoder(inputs["ids"], False)
            se = self.qa_outputs(h)
            start, end = se[..., 0], se[..., 1]
            loss = 0.5 * F.cross_entropy(start, inputs["start"].long()) + 0.5 * F.cross_entropy(end, inputs["end"].long())
            return torch.stack([start, end], -1), loss
        ids = inputs["ids"]
        h = self.decoder(ids, True)
        logits = self.logits(h)
        labels = torch.cat([ids[:, 1:], torch.full_like(ids[:, :1], cfg["pad_id"])], 1)
        loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), labels.reshape(-1).long(), ignore_index=cfg["pad_id"])
        return logits, loss


BASE = dict(vocab_size=40, d_model=16, n_heads=2, d_ff=32, encoder_layers=2, decoder_layers=2, max_positions=32,
            dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, layer_norm_eps=1e-5, pad_id=0, bos_id=1, eos_id=2)

CONFIGS = {
    # post-LN, sinusoidal positions, ReLU, tied embeddings, label smoothing: Vaswani et al.
    "encoder_decoder": dict(BASE, arch="encoder-decoder", positions="sinusoidal", norm_first=False, activation="relu",
                            scale_embedding=True, tie_embeddings=True),
    # pre-LN, learned positions, GELU, span head: a small BERT-like QA model
    "encoder_span": dict(BASE, arch="encoder", positions="learned", norm_first=True, activation="gelu",
                         scale_embedding=False, tie_embeddings=False, span_head=True, decoder_layers=0),
    # pre-LN, learned positions, tanh-GELU, untied LM head: a small GPT-like model
    "decoder_lm": dict(BASE, arch="decoder", positions="learned", norm_first=True, activation="gelu_tanh",
                       scale_embedding=False, tie_embeddings=False, encoder_layers=0),
}


def inputs_for(name, g):
    def ids(b, t, lens):
        x = torch.randint(3, 40, (b, t), generator=g, dtype=torch.int32)
        for i, n in enumerate(lens):
            x[i, n:] = 0
        return x
    if name == "encoder_decoder":
        src = ids(2, 7, [7, 5])
        tgt = ids(2, 6, [6, 4])
        tgt_in = torch.cat([torch.full((2, 1), 1, dtype=torch.int32), tgt[:, :-1]], 1)
        tgt_in[1, 4:] = 0
        return {"src": src, "tgt_in": tgt_in, "labels": tgt}
    if name == "encoder_span":
        return {"ids": ids(2, 9, [9, 6]), "start": torch.tensor([2, 1], dtype=torch.int32), "end": torch.tensor([5, 3], dtype=torch.int32)}
    return {"ids": ids(2, 8, [8, 5])}


def init_(model, g):
    # Random weights with some spread in every parameter (LayerNorm gains away from 1) so that
    # every gradient path is exercised; padding rows of embeddings are not special-cased.
    for name, p in model.named_parameters():
        with torch.no_grad():
            if name.endswith("layer_norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif "layer_norm" in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1]))


def decays(model, name, p):
    # Linear weights decay; biases, norms and embeddings do not (optim.DecayPolicy's default).
    mod = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
    return isinstance(mod, nn.Linear) and name.endswith("weight")


def write_safetensors(path, tensors, metadata):
    names = sorted(tensors)
    header, blobs, off = {}, [], 0
    for n in names:
        t = tensors[n].contiguous()
        dt = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32"}[t.dtype]
        b = t.numpy().tobytes()
        header[n] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make(name, cfg):
    g = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    model = Model(cfg)
    init_(model, g)
    inputs = inputs_for(name, g)
    params32 = {n: p.detach().clone().float() for n, p in model.named_parameters()}
    model = model.double()
    out = {"param/" + n: t for n, t in params32.items()}
    out.update({"input/" + n: t for n, t in inputs.items()})

    logits, loss = model(inputs)
    loss.backward()
    out["expect/logits"] = logits.detach()
    out["expect/loss"] = loss.detach().reshape(1)
    for n, p in model.named_parameters():
        out["expect/grad/" + n] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)

    # 10 AdamW steps from the same start.
    model.zero_grad()
    decay = [p for n, p in model.named_parameters() if decays(model, n, p)]
    no_decay = [p for n, p in model.named_parameters() if not decays(model, n, p)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-2)
    warmup, total = 3, 10
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    losses = []
    for _ in range(10):
        opt.zero_grad()
        _, loss = model(inputs)
        losses.append(loss.item())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    out["expect/adamw_losses"] = torch.tensor(losses, dtype=torch.float64)
    go_cfg = {k: v for k, v in cfg.items()}
    meta = {"config": json.dumps(go_cfg, sort_keys=True), "generator": "models/transformer/testdata/make_parity.py",
            "torch": torch.__version__, "seed": str(SEED), "precision": "float64 reference on float32 weights"}
    write_safetensors(name + ".safetensors", out, meta)
    print(name, "loss %.6f" % out["expect/loss"].item(), "params", sum(p.numel() for p in params32.values()))


if __name__ == "__main__":
    torch.set_num_threads(1)
    for name, cfg in CONFIGS.items():
        make(name, cfg)
