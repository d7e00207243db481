"""Peer for `optiformer bench infer`: the same BERT-base-shaped encoder in PyTorch.

Token embeddings + learned positions + torch.nn.TransformerEncoder (post-LN, GELU,
batch_first), the architecture of optiformer's encoder (models/transformer, arch "encoder"),
timed in torch.inference_mode() (which takes PyTorch's fused fast path).

The first stdin line is the worker init (bench.WorkerInit): task "infer" runs the model;
task "export" writes it to init["onnx"] with torch.onnx.export (opset 14) for the ONNX
Runtime peer and exits. Then {"op": "run"} -> {"ms": …}, {"op": "rss"} -> {"rss_mib": …}.
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


torch.manual_seed(0)
torch.set_num_threads(init["threads"])
model = Encoder(init["model"]).eval()
# nn.TransformerEncoder deep-copies one layer, so its 12 layers start with equal weights, and
# torch.onnx.export folds equal initializers into one: ONNX Runtime would then run one layer's
# weights twelve times, out of cache. Give every parameter its own values, as a trained model has.
with torch.no_grad():
    for p in model.parameters():
        p.normal_(0, 0.02)
ids = torch.tensor(init["ids"], dtype=torch.long)

if init["task"] == "export":
    torch.onnx.export(model, (ids,), init["onnx"], opset_version=14, input_names=["ids"], output_names=["h"],
                      dynamic_axes={"ids": {0: "batch", 1: "seq"}})
    out({"ready": True, "exported": init["onnx"]})
    sys.exit(0)

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
