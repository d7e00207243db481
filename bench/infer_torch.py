"""Peer for `optiformer bench infer`: the same BERT-base-shaped encoder in PyTorch.

Token embeddings + learned positions + torch.nn.TransformerEncoder (post-LN, GELU,
batch_first), the architecture of optiformer's encoder (models/transformer, arch "encoder"),
timed in torch.inference_mode() (which takes PyTorch's fused fast path).

The first stdin line is the worker init (bench.WorkerInit): task "infer" runs the model
(with init["quant"] == "int8-dynamic": the same architecture built from nn.Linear layers,
LinearEncoder, through torch.ao.quantization.quantize_dynamic, onednn engine); task "export" writes it to init["onnx"] with torch.onnx.export
(opset 14) for the ONNX Runtime peer, and with init["onnx_int8"] also its int8 twin
(quantize_onnx, needs python3-onnx), and exits. Then {"op": "run"} -> {"ms": …}, {"op": "rss"} -> {"rss_mib": …}.
"""
import json
import resource
import sys
import time


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


init = json.loads(sys.stdin.readline())
try:
    import torch
except ImportError as e:
    out({"error": "PyTorch not installed (%s); apt-get install python3-torch" % e})
    sys.exit(0)


class Encoder(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["d_model"]
        self.tok = torch.nn.Embedding(cfg["vocab_size"], c)
        self.pos = torch.nn.Embedding(cfg["max_positions"], c)
        layer = torch.nn.TransformerEncoderLayer(c, cfg["n_heads"], cfg["d_ff"], 0.0, activation=cfg["activation"].replace("gelu_tanh", "gelu"),
                                                 layer_norm_eps=cfg["layer_norm_eps"], batch_first=True, norm_first=cfg["norm_first"])
        self.enc = torch.nn.TransformerEncoder(layer, cfg["encoder_layers"], enable_nested_tensor=False)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1])
        return self.enc(self.tok(ids) + self.pos(pos))


class LinearLayer(torch.nn.Module):
    """One encoder layer built from nn.Linear modules (q, k, v, out, fc1, fc2), as Hugging
    Face's BERT is: quantize_dynamic replaces every one of them. (nn.TransformerEncoderLayer
    keeps its attention projections as raw parameters, which quantize_dynamic leaves in float,
    and its fast path fails on quantized layers: pytorch/pytorch#109987.)"""

    def __init__(self, cfg):
        super().__init__()
        c, f = cfg["d_model"], cfg["d_ff"]
        self.h, self.norm_first = cfg["n_heads"], cfg["norm_first"]
        L = torch.nn.Linear
        self.q, self.k, self.v, self.o, self.fc1, self.fc2 = L(c, c), L(c, c), L(c, c), L(c, c), L(c, f), L(f, c)
        self.n1 = torch.nn.LayerNorm(c, eps=cfg["layer_norm_eps"])
        self.n2 = torch.nn.LayerNorm(c, eps=cfg["layer_norm_eps"])
        self.act = torch.nn.GELU(approximate="tanh" if cfg["activation"] == "gelu_tanh" else "none") \
            if cfg["activation"].startswith("gelu") else torch.nn.ReLU()

    def attn(self, x):
        b, t, c = x.shape
        d = c // self.h
        q = self.q(x).view(b, t, self.h, d).transpose(1, 2)
        k = self.k(x).view(b, t, self.h, d).transpose(1, 2)
        v = self.v(x).view(b, t, self.h, d).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, dim=-1)
        return self.o((a @ v).transpose(1, 2).reshape(b, t, c))

    def ffn(self, x):
        return self.fc2(self.act(self.fc1(x)))

    def forward(self, x):
        if self.norm_first:
            x = x + self.attn(self.n1(x))
            return x + self.ffn(self.n2(x))
        x = self.n1(x + self.attn(x))
        return self.n2(x + self.ffn(x))


class LinearEncoder(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["d_model"]
        self.tok = torch.nn.Embedding(cfg["vocab_size"], c)
        self.pos = torch.nn.Embedding(cfg["max_positions"], c)
        self.layers = torch.nn.ModuleList(LinearLayer(cfg) for _ in range(cfg["encoder_layers"]))

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for layer in self.layers:
            x = layer(x)
        return x


torch.manual_seed(0)
torch.set_num_threads(init["threads"])
quant = init.get("quant")
if quant and quant != "int8-dynamic":
    out({"error": "no PyTorch peer for scheme %s" % quant})
    sys.exit(0)
model = (LinearEncoder if quant else Encoder)(init["model"]).eval()
# nn.TransformerEncoder deep-copies one layer, so its 12 layers start with equal weights, and
# torch.onnx.export folds equal initializers into one: ONNX Runtime would then run one layer's
# weights twelve times, out of cache. Give every parameter its own values, as a trained model has.
with torch.no_grad():
    for p in model.parameters():
        p.normal_(0, 0.02)
ids = torch.tensor(init["ids"], dtype=torch.long)



def quantize_onnx(src, dst):
    """Writes src's int8 twin to dst, as onnxruntime.quantization.quantize_dynamic does by
    default: every MatMul by a 2-D initializer (and every Gemm, plus an Add of its bias) becomes DynamicQuantizeLinear (uint8
    activations, per tensor, at run time) + MatMulInteger with the weight quantized to int8,
    symmetric, per tensor + Cast + Mul by the product of the scales; ONNX Runtime fuses the
    pattern into DynamicQuantizeMatMul. Returns the number of MatMuls quantized."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    nodes, count = [], 0
    for node in g.node:
        w, bias = None, None
        if node.op_type == "MatMul" and node.input[1] in inits:
            w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        elif node.op_type == "Gemm" and node.input[1] in inits:
            a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
            if a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0 and not a.get("transA", 0):
                w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
                if a.get("transB", 0):
                    w = np.ascontiguousarray(w.T)
                bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        if w is None or w.ndim != 2:
            nodes.append(node)
            continue
        count += 1
        p = "q%d_" % count
        y = node.output[0] if bias is None else p + "y"
        scale = max(float(np.abs(w).max()), 1e-12) / 127.0
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        g.initializer.extend([numpy_helper.from_array(q, p + "w"),
                              numpy_helper.from_array(np.array(scale, dtype=np.float32), p + "w_scale"),
                              numpy_helper.from_array(np.array(0, dtype=np.int8), p + "w_zp")])
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [node.input[0]], [p + "a", p + "a_scale", p + "a_zp"], name=p + "dql"),
            helper.make_node("MatMulInteger", [p + "a", p + "w", p + "a_zp", p + "w_zp"], [p + "i32"], name=p + "mmi"),
            helper.make_node("Cast", [p + "i32"], [p + "f"], to=TensorProto.FLOAT, name=p + "cast"),
            helper.make_node("Mul", [p + "a_scale", p + "w_scale"], [p + "s"], name=p + "scale"),
            helper.make_node("Mul", [p + "f", p + "s"], [y], name=p + "mul"),
        ]
        if bias is not None:
            nodes.append(helper.make_node("Add", [y, bias], [node.output[0]], name=p + "bias"))
    del g.node[:]
    g.node.extend(nodes)
    used = set(i for n in g.node for i in n.input)
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    return count


if init["task"] == "export":
    torch.onnx.export(model, (ids,), init["onnx"], opset_version=14, input_names=["ids"], output_names=["h"],
                      dynamic_axes={"ids": {0: "batch", 1: "seq"}})
    res = {"ready": True, "exported": init["onnx"]}
    if init.get("onnx_int8"):
        try:
            res["int8_matmuls"] = quantize_onnx(init["onnx"], init["onnx_int8"])
        except ImportError as e:
            res["int8_error"] = "python3-onnx not installed (%s); apt-get install python3-onnx" % e
    out(res)
    sys.exit(0)

if quant == "int8-dynamic":
    # This build has no fbgemm; onednn is its fast int8 engine (PEERS.md).
    torch.backends.quantized.engine = "onednn"
    model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

with torch.inference_mode():
    model(ids)
out({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()})
for line in sys.stdin:
    req = json.loads(line)
    if req.get("op") == "rss":
        out({"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        continue
    with torch.inference_mode():
        t0 = time.perf_counter()
        model(ids)
        out({"ms": (time.perf_counter() - t0) * 1000})
