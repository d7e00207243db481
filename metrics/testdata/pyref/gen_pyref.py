#!/usr/bin/python3
"""Generates the Python-semantics fixtures of the metrics package (run by hand, never by tests).

Run from this directory with Debian bookworm's Python and packages:
    apt-get install python3-nltk        # NLTK 3.8, pulls in python3-regex 2.5.123
    /usr/bin/python3 gen_pyref.py /path/to/shared

It writes
  strings.jsonl.gz  one record per input string: Python's str.lower(), str.split(), sacreBLEU's
                    13a and intl tokenizers, rouge-score's tokenizer (with and without the
                    Porter stemmer) and SQuAD's normalize_answer;
  porter.tsv.gz     word, then NLTK PorterStemmer stems in NLTK_EXTENSIONS, MARTIN_EXTENSIONS and
                    ORIGINAL_ALGORITHM modes, for every distinct [a-z0-9]+ token of the project's
                    English evaluation texts.

The tokenizer and normalizer functions below are transcribed verbatim (regexes, replacements
and order) from sacreBLEU 2.6.0 (tokenizers/tokenizer_13a.py, tokenizer_re.py,
tokenizer_intl.py), rouge-score 0.1.2 (tokenize.py) and SQuAD's evaluate-v1.1.py, because those
packages are not installable here; the Porter stemmer is NLTK's own code.
"""
import gzip
import json
import os
import re
import string
import sys

import nltk
import regex
from nltk.stem import porter

SHARED = sys.argv[1] if len(sys.argv) > 1 else "../../../../shared"


# --- sacreBLEU 2.6.0 tokenizer_re.TokenizerRegexp + tokenizer_13a.Tokenizer13a
_RE13A = [
    (re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),
    (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
    (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),
    (re.compile(r'([0-9])(-)'), r'\1 \2 '),
]


def tok13a(line):
    line = line.replace('<skipped>', '')
    line = line.replace('-\n', '')
    line = line.replace('\n', ' ')
    line = line.replace('&quot;', '"')
    line = line.replace('&amp;', '&')
    line = line.replace('&lt;', '<')
    line = line.replace('&gt;', '>')
    line = " {} ".format(line)
    for (_re, repl) in _RE13A:
        line = _re.sub(repl, line)
    return ' '.join(line.strip().split())


# --- sacreBLEU 2.6.0 tokenizer_intl.TokenizerV14International
_REINTL = [
    (regex.compile(r'(\P{N})(\p{P})'), r'\1 \2 '),
    (regex.compile(r'(\p{P})(\P{N})'), r' \1 \2'),
    (regex.compile(r'(\p{S})'), r' \1 '),
]


def tokintl(line):
    for (_re, repl) in _REINTL:
        line = _re.sub(repl, line)
    return ' '.join(line.split())


# --- rouge-score 0.1.2 tokenize.tokenize
NON_ALPHANUM_RE = re.compile(r"[^a-z0-9]+")
SPACES_RE = re.compile(r"\s+")
VALID_TOKEN_RE = re.compile(r"^[a-z0-9]+$")


def rouge_tokenize(text, stemmer):
    text = text.lower()
    text = NON_ALPHANUM_RE.sub(" ", text)
    tokens = SPACES_RE.split(text)
    if stemmer:
        tokens = [stemmer.stem(x) if len(x) > 3 else x for x in tokens]
    tokens = [x for x in tokens if VALID_TOKEN_RE.match(x)]
    return tokens


# --- SQuAD evaluate-v1.1.py normalize_answer
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


EXTRA = [
    "ΟΔΟΣ ΟΔΟΣ. ΣΑΣ, Σ Α.Σ ΑΣ' ΑΣ\u0301",
    "İstanbul İİ KELVIN \u212a 1\u212aB",
    "a.b,c 1,000.5 3-4 x-y 5. .5 a. ,a (hi) [x] {y} ~z `q` 'apos'",
    "&quot;quoted&quot; &amp; &lt;tag&gt; <skipped> hy-\nphen\nnext",
    "\x1c\x1d\x1e\x1fseparators\x1f",
    "the an a théa the_the an-a A THE An",
    "“smart quotes” — em dash … ellipsis «guillemets» ¿qué? ¡sí!",
    "$100 €5 ±3 a+b=c 50% #tag @user ^caret |pipe| \\back/slash",
    "generalizations oscillators happily skies dying succeeded relational",
]


def strings_records(inputs):
    stemmer = porter.PorterStemmer()
    for s in inputs:
        yield {
            "input": s,
            "lower": s.lower(),
            "split": s.split(),
            "rstrip": s.rstrip(),
            "tok13a": tok13a(s.rstrip()),
            "tok13a_lc": tok13a(s.lower().rstrip()),
            "intl": tokintl(s.rstrip()),
            "rouge": rouge_tokenize(s, None),
            "rouge_stem": rouge_tokenize(s, stemmer),
            "squad": normalize_answer(s),
        }


def vocabulary():
    words = set()

    def add(text):
        words.update(re.findall(r"[a-z0-9]+", text.lower()))

    squad = json.load(open(os.path.join(SHARED, "data/squad-v1.1-dev-rebuilt/dev.json")))
    for a in squad["data"]:
        for p in a["paragraphs"]:
            add(p["context"])
            for qa in p["qas"]:
                add(qa["question"])
    for name in ("scitldr-a-dev", "aeslc-dev-first200"):
        for line in open(os.path.join(SHARED, "refvectors/rouge", name + ".items.jsonl")):
            it = json.loads(line)
            for r in it["references"]:
                add(r)
            for s in it["systems"].values():
                add(s["prediction"])
    m = json.load(open(os.path.join(SHARED, "refvectors/bleu_chrf/multi30k-val-en-de.json")))
    for s in m["sources"]:
        add(s)
    return sorted(words)


def main():
    inputs = json.load(open(os.path.join(SHARED, "refvectors/tokenizers/inputs.json"))) + EXTRA
    m = json.load(open(os.path.join(SHARED, "refvectors/bleu_chrf/multi30k-val-en-de.json")))
    inputs += m["sources"][:100] + m["references"][:100]
    with gzip.GzipFile("strings.jsonl.gz", "wb", mtime=0) as f:
        meta = {"meta": {"python": sys.version.split()[0], "unicodedata": __import__("unicodedata").unidata_version,
                         "regex": regex.__version__, "nltk": nltk.__version__, "n": len(inputs)}}
        f.write((json.dumps(meta) + "\n").encode())
        for r in strings_records(inputs):
            f.write((json.dumps(r, ensure_ascii=False) + "\n").encode())
    modes = [porter.PorterStemmer(m) for m in (porter.PorterStemmer.NLTK_EXTENSIONS,
                                                 porter.PorterStemmer.MARTIN_EXTENSIONS,
                                                 porter.PorterStemmer.ORIGINAL_ALGORITHM)]
    with gzip.GzipFile("porter.tsv.gz", "wb", mtime=0) as f:
        f.write(("# word\tNLTK_EXTENSIONS\tMARTIN_EXTENSIONS\tORIGINAL_ALGORITHM (NLTK %s)\n" % nltk.__version__).encode())
        for w in vocabulary():
            f.write(("\t".join([w] + [s.stem(w) for s in modes]) + "\n").encode())


if __name__ == "__main__":
    main()
