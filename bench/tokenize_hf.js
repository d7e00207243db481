// Peer for `optiformer bench tokenize`: Hugging Face tokenizers (the Rust library through
// its npm package `tokenizers`) encoding the same lines with the same tokenizer.json.
//
// First stdin line: {"tokenizer": path, "lines": [...]}. Then {"op": "run", "seconds": s}
// -> {"mbps": …}: encodeBatch over all lines (special tokens added), repeated for about s
// seconds. encodeBatch is one call into Rust for the whole batch, so the figure is the
// library's own speed, not the cost of crossing from JavaScript per line. The thread count
// is set by the environment (RAYON_NUM_THREADS; TOKENIZERS_PARALLELISM=false for one).
const readline = require('readline');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();

(async () => {
  const init = JSON.parse((await lines.next()).value);
  let Tokenizer;
  try {
    ({ Tokenizer } = require('tokenizers'));
  } catch (e) {
    out({ error: 'tokenizers not installed (' + e.message.split('\n')[0] + '); run bench/install-peers.sh' });
    return;
  }
  const tok = Tokenizer.fromFile(init.tokenizer);
  const texts = init.lines;
  const bytes = texts.reduce((n, s) => n + Buffer.byteLength(s, 'utf8'), 0);
  const opts = { addSpecialTokens: true };
  const first = await tok.encodeBatch(texts, opts); // warm the caches, as ours are warmed
  let ids = 0;
  for (const e of first) ids += e.getIds().length;
  out({ ready: true, tokenizers: require('tokenizers/package.json').version, ids });
  for await (const line of lines) {
    const req = JSON.parse(line);
    let passes = 0;
    const t0 = process.hrtime.bigint();
    let el = 0;
    do {
      await tok.encodeBatch(texts, opts);
      passes++;
      el = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (el < req.seconds);
    out({ mbps: (bytes * passes) / 1e6 / el });
  }
})();
