// Encodes the held-out sentences with Hugging Face's tokenizers (npm "tokenizers" 0.23.2,
// the Rust library) for every tokenizer.json in a directory, and prints the fixture
// hf_ids.json. Run through gen_hf_ids.sh.
//
// usage: node hf_ids.js DIR heldout.json > hf_ids.json
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { Tokenizer } = require("tokenizers");
const version = require("tokenizers/package.json").version;

async function main() {
  const [dir, heldoutPath] = process.argv.slice(2);
  const sentences = JSON.parse(fs.readFileSync(heldoutPath, "utf8")).sentences;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  const lines = [];
  lines.push("{");
  lines.push(`"generator": "tokenizer/train/testdata/gen_hf_ids.sh (hf_ids.js)",`);
  lines.push(`"tokenizers": ${JSON.stringify("npm tokenizers " + version + ", node " + process.version)},`);
  lines.push(`"corpus": "corpus.txt.gz", "sentences": "heldout.json",`);
  lines.push(`"configs": [`);
  for (let f = 0; f < files.length; f++) {
    const file = path.join(dir, files[f]);
    const data = fs.readFileSync(file);
    const sha = crypto.createHash("sha256").update(data).digest("hex");
    const tok = Tokenizer.fromFile(file);
    const ids = [];
    const decoded = [];
    for (const s of sentences) {
      const enc = await tok.encode(s, null, { addSpecialTokens: false });
      const i = enc.getIds();
      ids.push(JSON.stringify(i));
      decoded.push(JSON.stringify(await tok.decode(i, false)));
    }
    lines.push("{");
    lines.push(`"name": ${JSON.stringify(files[f].replace(/\.json$/, ""))},`);
    lines.push(`"sha256": "${sha}",`);
    lines.push(`"vocab_size": ${tok.getVocabSize(true)},`);
    lines.push(`"ids": [\n${ids.join(",\n")}\n],`);
    lines.push(`"decoded": [\n${decoded.join(",\n")}\n]`);
    lines.push(f + 1 < files.length ? "}," : "}");
  }
  lines.push("]");
  lines.push("}");
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
