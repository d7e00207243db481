// Peer for `optiformer bench infer`: ONNX Runtime (npm onnxruntime-node) running the encoder
// that infer_torch.py exported from PyTorch (same architecture as optiformer's).
//
// First stdin line: the worker init with init.onnx, the model path. Then {"op": "run"} ->
// {"ms": …}, {"op": "rss"} -> {"rss_mib": …}.
const readline = require('readline');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();

(async () => {
  const init = JSON.parse((await lines.next()).value);
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    out({ error: 'onnxruntime-node not installed (' + e.message.split('\n')[0] + '); run bench/install-peers.sh' });
    return;
  }
  const session = await ort.InferenceSession.create(init.onnx, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: init.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const b = init.ids.length, t = init.ids[0].length;
  const data = BigInt64Array.from(init.ids.flat().map(BigInt));
  const feeds = { ids: new ort.Tensor('int64', data, [b, t]) };
  await session.run(feeds);
  out({ ready: true, onnxruntime: require('onnxruntime-node/package.json').version, threads: init.threads });
  for await (const line of lines) {
    const req = JSON.parse(line);
    if (req.op === 'rss') {
      out({ rss_mib: process.resourceUsage().maxRSS / 1024 });
      continue;
    }
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    out({ ms: Number(process.hrtime.bigint() - t0) / 1e6 });
  }
})();
