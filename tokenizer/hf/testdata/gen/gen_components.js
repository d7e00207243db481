// Generates testdata/components.json.gz: small hand-written tokenizer.json configurations, one
// or a few per component, with the encodings and decodings Hugging Face's Rust tokenizers
// (npm "tokenizers" 0.23.2) gives on a set of inputs. Go tests compare against it.
// Usage: cd tokenizer/hf/testdata/gen && npm install tokenizers@0.23.2 && node gen_components.js
const { Tokenizer } = require('tokenizers');
const zlib = require('zlib');
const fs = require('fs');

const base = (model, extra = {}) => Object.assign({
  version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
  pre_tokenizer: null, post_processor: null, decoder: null, model }, extra);

const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'-';
const wpVocab = {'[UNK]': 0, '[CLS]': 1, '[SEP]': 2, '[PAD]': 3, '[MASK]': 4};
for (const c of letters) { wpVocab[c] = Object.keys(wpVocab).length; wpVocab['##' + c] = Object.keys(wpVocab).length; }
for (const w of ['hello', 'world', 'the', 'un', '##aff', '##able', 'cafe', 'naive', 'resume', 'ab', '##cd', 'ᄀ', '##ᅡ', '中', '文']) wpVocab[w] = Object.keys(wpVocab).length;
const wordPiece = { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 12, vocab: wpVocab };

const wlVocab = {'<unk>': 0};
for (const w of ['hello', 'world', '!', ',', '.', '-', 'a', 'b', '1', '2', '3', '12', '123', 'x', 'y', "'", 'don', 't']) wlVocab[w] = Object.keys(wlVocab).length;
const wordLevel = { type: 'WordLevel', vocab: wlVocab, unk_token: '<unk>' };

// byte-level BPE over the 256 byte chars plus a few merges
const bl = [];
for (let b = 0; b < 256; b++) {
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) bl.push(b);
}
const byteChar = {}; let n = 0;
for (let b = 0; b < 256; b++) byteChar[b] = bl.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + n++);
const blVocab = {};
for (let b = 0; b < 256; b++) blVocab[byteChar[b]] = b;
const blMerges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['l', 'l'], ['e', 'll'], ['ell', 'o'], ['Ġ', 'w'], ['o', 'r'], ['Ġw', 'or'], ['l', 'd'], ['Ġwor', 'ld'], ['Ã', '©']];
for (const [a, b] of blMerges) blVocab[a + b] = Object.keys(blVocab).length;
blVocab['<|endoftext|>'] = Object.keys(blVocab).length;
const byteBPE = { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: blVocab, merges: blMerges };

// classic BPE with prefix / suffix / unk / byte fallback
const cVocab = {'<unk>': 0, '<0x41>': 1, '<0xC3>': 2, '<0xA9>': 3, '<0x21>': 4};
for (const t of ['h', 'e', 'l', 'o', 'w', 'r', 'd', '##h', '##e', '##l', '##o', '##w', '##r', '##d', 'd</w>', '##d</w>', 'o</w>', '##o</w>', 'he', 'hel', 'hell', 'hello</w>', '##ll', '##lo</w>', 'l</w>', '##l</w>', 'wo', 'wor', 'worl', 'world</w>', 'h</w>', 'e</w>', 'w</w>', 'r</w>']) cVocab[t] = Object.keys(cVocab).length;
const cMerges = ['h ##e', 'he ##l', 'hel ##l', 'hell ##o</w>', 'w ##o', 'wo ##r', 'wor ##l', 'worl ##d</w>', '##l ##o</w>', '##l ##l'];
const classicBPE = (o) => Object.assign({ type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: '##', end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: cVocab, merges: cMerges }, o);

const ugVocab = [['<unk>', 0], ['<s>', 0], ['</s>', 0], ['▁', -2], ['▁he', -3], ['llo', -3], ['▁hello', -4], ['▁world', -4], ['h', -5], ['e', -5], ['l', -5], ['o', -5], ['w', -5], ['r', -5], ['d', -5], ['▁w', -4.5], ['or', -4], ['ld', -4], ['<0xC3>', -9], ['<0xA9>', -9], ['<0x21>', -9], ['ab', -1], ['a', -2], ['b', -2.5]];
const unigram = (o) => Object.assign({ type: 'Unigram', unk_id: 0, vocab: ugVocab, byte_fallback: false }, o);

const added = (id, content, o = {}) => Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false }, o);
const tpl = (single, pair, specials) => ({ type: 'TemplateProcessing', single, pair, special_tokens: specials });
const S = (id, type_id = 0) => ({ SpecialToken: { id, type_id } });
const Q = (id, type_id = 0) => ({ Sequence: { id, type_id } });

const textInputs = ['', ' ', 'Hello world!', 'hello,world. 123', '  Hello   World  ', 'Café naïve résumé', 'ǅungla İstanbul ΣΑΣ',
  'tab\there\nnew\r\nline', 'ﬁ ① ｆｕｌｌ x²', 'e\u0301 a\u0323\u0302 \u1e69', '中文 字 한국어', 'emoji 😀 👍🏻 🇩🇪', 'unaffable',
  "don't stop-it", 'a\u00a0b\u2028c\u3000d\u200be', '\u0000\u0001 ctrl \u007f', 'x' .repeat(20), 'the[MASK]world', '<|endoftext|>hello', 'ab abab a b'];
const pairs = [['Hello', 'world!'], ['', 'x'], ['a b', '']];

const configs = [];
const add = (name, json, inputs = textInputs, pairInputs = pairs) => configs.push({ name, json, inputs, pairs: pairInputs });

const bertNorm = (o) => Object.assign({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true }, o);
add('wordpiece-bert', base(wordPiece, { normalizer: bertNorm(), pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: { type: 'BertProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1] }, decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  added_tokens: [added(0, '[UNK]', { special: true }), added(1, '[CLS]', { special: true }), added(2, '[SEP]', { special: true }), added(4, '[MASK]', { special: true })] }));
add('wordpiece-bert-cased', base(wordPiece, { normalizer: bertNorm({ lowercase: false, strip_accents: true, clean_text: false, handle_chinese_chars: false }), pre_tokenizer: { type: 'BertPreTokenizer' }, decoder: { type: 'WordPiece', prefix: '##', cleanup: false } }));
for (const f of ['NFC', 'NFD', 'NFKC', 'NFKD']) add('norm-' + f, base(wordPiece, { normalizer: { type: f }, pre_tokenizer: { type: 'Whitespace' } }));
add('norm-seq', base(wordPiece, { normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' }, { type: 'Strip', strip_left: true, strip_right: false }] }, pre_tokenizer: { type: 'WhitespaceSplit' } }));
add('norm-replace-prepend', base(wordPiece, { normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { String: 'l' }, content: 'LL' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Prepend', prepend: '##' }, { type: 'Strip', strip_left: false, strip_right: true }] }, pre_tokenizer: { type: 'WhitespaceSplit' } }));
add('norm-nmt-bytelevel', base(byteBPE, { normalizer: { type: 'Sequence', normalizers: [{ type: 'Nmt' }, { type: 'ByteLevel' }] }, decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true } }));
add('wordlevel-punct', base(wordLevel, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior: 'Isolated' }, { type: 'Digits', individual_digits: true }] } }));
for (const b of ['Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) add('wordlevel-punct-' + b, base(wordLevel, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }, { type: 'Punctuation', behavior: b }, { type: 'Digits', individual_digits: false }] } }));
add('wordlevel-chardelim', base(wordLevel, { pre_tokenizer: { type: 'CharDelimiterSplit', delimiter: 'o' } }));
for (const [pat, inv] of [[{ String: ' ' }, false], [{ String: 'll' }, true], [{ Regex: '\\p{L}+|\\p{N}+' }, true], [{ Regex: "'s|'t|\\s+(?!\\S)|\\s+|[^\\s\\w]+" }, false], [{ Regex: '(?i:he)|\\d{2,3}|\\b' }, false]]) {
  for (const b of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
    add(`split-${JSON.stringify(pat)}-${b}-${inv}`, base(wordLevel, { pre_tokenizer: { type: 'Split', pattern: pat, behavior: b, invert: inv } }), textInputs.slice(0, 14), []);
  }
}
add('bytelevel-gpt2', base(byteBPE, { pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }, decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  added_tokens: [added(blVocab['<|endoftext|>'], '<|endoftext|>', { special: true })] }));
add('bytelevel-roberta', base(byteBPE, { pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: true }, decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  added_tokens: [added(300, '<mask>', { special: true, lstrip: true, normalized: true })] }));
add('bytelevel-noregex', base(byteBPE, { pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: false },
  post_processor: { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true }, tpl([S('<|endoftext|>'), Q('A')], [Q('A'), S('<|endoftext|>', 1), Q('B', 1)], { '<|endoftext|>': { id: '<|endoftext|>', ids: [blVocab['<|endoftext|>']], tokens: ['<|endoftext|>'] } })] },
  decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false } }));
add('bpe-classic', base(classicBPE({}), { pre_tokenizer: { type: 'Whitespace' }, decoder: { type: 'BPEDecoder', suffix: '</w>' } }));
add('bpe-fuse-unk', base(classicBPE({ fuse_unk: true, merges: cMerges.map((m) => m.split(' ')) }), { pre_tokenizer: { type: 'WhitespaceSplit' }, decoder: { type: 'BPEDecoder', suffix: '</w>' } }));
add('bpe-bytefallback', base(classicBPE({ byte_fallback: true, continuing_subword_prefix: null, end_of_word_suffix: null, merges: [] }), { pre_tokenizer: { type: 'WhitespaceSplit' },
  decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: 'h', start: 1, stop: 0 }] } }));
add('bpe-ignore-merges', base(classicBPE({ ignore_merges: true, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, merges: [['h', 'e'], ['he', 'l']] }), { pre_tokenizer: { type: 'WhitespaceSplit' } }));
add('unigram-metaspace', base(unigram({}), { pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }, decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  post_processor: tpl([Q('A'), S('</s>')], [S('<s>'), Q('A'), S('</s>'), Q('B', 1), S('</s>', 1)], { '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] }, '<s>': { id: '<s>', ids: [1, 1], tokens: ['<s>', '<s>'] } }) }));
add('unigram-first-bytefallback', base(unigram({ byte_fallback: true }), { pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
  decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  added_tokens: [added(21, 'ab', { single_word: true }), added(1, '<s>', { special: true, rstrip: true })] }));
add('unigram-never-ctc', base(unigram({ unk_id: null }), { pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true }, decoder: { type: 'CTC', pad_token: '<unk>', word_delimiter_token: '▁', cleanup: true } }), ['hello world', 'ab ab', 'abba', 'he llo']);
add('added-tokens', base(wordPiece, { normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'WhitespaceSplit' }, decoder: { type: 'Replace', pattern: { Regex: '#+' }, content: '' },
  added_tokens: [added(1, '[CLS]', { special: true }), added(200, 'HeLLo', { normalized: true, single_word: true }), added(201, 'World', { normalized: false, lstrip: true, rstrip: true }), added(202, ' ab', { special: true }), added(203, 'x')] }),
  ['Hello world', 'HeLLo World!', 'xHelloWorld', 'a World b', '[CLS] ab abx', 'xxx', 'hello-hello hello_', 'World  World'], [['hello', 'World']]);

// Regular expressions (Oniguruma, as the Split pre-tokenizer uses them): the kept pieces are
// the matches.
const regexInputs = ['Hello  world!! 123 4567 x', "I'm here—they've GONE. ²³ ½ ①", 'aaa bbb aaab abab', '  \t\n x  \n\n', 'ΣΑΣ σας ǅ ß ẞ', 'e\u0301 \u0915\u093f x_y a‿b', '中文 かな 한국 😀👍🏻'];
const regexes = ['\\w+', '[\\w]+', '[^\\w\\s]+', '\\d+|\\p{N}+', '\\s+(?!\\S)|\\s+', '\\p{L}+(?=\\s)', '(?<=\\s)\\p{L}+', '(?<!a)b', 'a+?b', 'a*+b', '(?>a+)b', '(?i)hello|gone', '(?i:ΣΑΣ|ß)', '[a-z&&[^aeiou]]+',
  '[[:alpha:]]+', '[[:punct:]]+', '\\b\\w', '^\\s*\\S', '\\S+$', '\\A.', '.\\z', '\\h+', '[\\p{Lu}\\p{Lt}]+', '\\P{L}+', '\\p{^L}+', 'x{2,}|a{1,2}', '[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+',
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", '(?:ab)+', '[\\x{4e00}-\\x{9fff}]+', '\\p{Han}+|\\p{Hiragana}+|\\p{Hangul}+', '.', '(?m:.+)', '\\u00e9|e\\x{301}'];
regexes.forEach((re, i) => add(`regex-${i}-${re}`, base(wordLevel, { pre_tokenizer: { type: 'Split', pattern: { Regex: re }, behavior: 'Removed', invert: true } }), regexInputs, []));

async function run(t, text, pair, add) {
  try {
    const e = await t.encode(text, pair, { addSpecialTokens: add });
    const ids = e.getIds();
    return { text, pair, add, ids, tokens: e.getTokens(), offsets: e.getOffsets(), type_ids: e.getTypeIds(),
      special: e.getSpecialTokensMask(), words: e.getWordIds().map((x) => (x === undefined ? null : x)),
      decoded: await t.decode(ids, true), decoded_keep: await t.decode(ids, false) };
  } catch (err) {
    return { text, pair, add, error: String(err) };
  }
}

(async () => {
  const out = [];
  for (const c of configs) {
    const json = JSON.stringify(c.json);
    const t = Tokenizer.fromString(json);
    const cases = [];
    for (const text of c.inputs) {
      cases.push(await run(t, text, null, true));
      cases.push(await run(t, text, null, false));
    }
    for (const [a, b] of c.pairs) cases.push(await run(t, a, b, true));
    out.push({ name: c.name, json, cases });
  }
  // Truncation (stride 0, direction right) through setTruncation.
  for (const strategy of ['LongestFirst', 'OnlyFirst', 'OnlySecond']) {
    for (const max of [1, 3, 5, 8]) {
      const c = configs.find((x) => x.name === 'wordpiece-bert');
      const json = JSON.stringify(c.json);
      const t = Tokenizer.fromString(json);
      t.setTruncation(max, { strategy });
      const cases = [];
      for (const [a, b] of [['hello world the unaffable', 'hello'], ['a b', 'c d e f g h i'], ['hello world', null], ['a b c d e f g', 'h']]) {
        for (const add of [true, false]) {
          const r = await run(t, a, b, add);
          r.trunc = { max, strategy };
          cases.push(r);
        }
      }
      out.push({ name: `truncation-${strategy}-${max}`, json, cases });
    }
  }
  fs.writeFileSync('../components.json.gz', zlib.gzipSync(Buffer.from(JSON.stringify(out)), { level: 9 }));
  console.log(out.length, 'configs,', out.reduce((a, c) => a + c.cases.length, 0), 'cases');
})();
