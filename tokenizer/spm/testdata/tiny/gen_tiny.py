#!/usr/bin/python3
"""Builds the tiny hand-made SentencePiece models of this folder and records what
SentencePiece 0.1.97 (Debian python3-sentencepiece 0.1.97-3+b1, with python3-protobuf)
does with them: tiny_cases.json.gz. Run from this folder with /usr/bin/python3.

The models are written piece by piece (ModelProto through sentencepiece_model_pb2), so
that ties, user-defined symbols, UNUSED pieces, byte fallback, suffix whitespace, WORD and
CHAR models and odd normalizer settings are all exercised. The charsmap "rules" is built
by SentencePiece's own trainer from rules.tsv (normalization_rule_tsv) and
denorm_rules.tsv (denormalization_rule_tsv).
"""
import base64
import gzip
import json
import os
import random
import tempfile

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb
from sentencepiece import sentencepiece_pb2 as spb

NORMAL, UNKNOWN, CONTROL, USER, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
WS = "\u2581"


def trained_charsmaps():
    """Trains a throw-away model to compile rules.tsv and denorm_rules.tsv."""
    with tempfile.TemporaryDirectory() as d:
        corpus = os.path.join(d, "corpus.txt")
        with open(corpus, "w") as f:
            for i in range(200):
                f.write("a b c ab abc bca cab d dd x %d\n" % i)
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=os.path.join(d, "m"), vocab_size=40,
            hard_vocab_limit=False, normalization_rule_tsv="rules.tsv",
            denormalization_rule_tsv="denorm_rules.tsv", minloglevel=2)
        m = pb.ModelProto()
        m.ParseFromString(open(os.path.join(d, "m.model"), "rb").read())
        return m.normalizer_spec.precompiled_charsmap, m.denormalizer_spec.precompiled_charsmap


CHARSMAP, DENORM = trained_charsmaps()


def build(pieces, model_type=1, byte_fallback=False, user=(), norm=None, trainer=None,
          charsmap=b"", denorm=b""):
    m = pb.ModelProto()
    all_pieces = list(pieces)
    if byte_fallback:
        all_pieces += [("<0x%02X>" % b, 0.0, BYTE) for b in range(256)]
    for text, score, typ in all_pieces:
        p = m.pieces.add()
        p.piece, p.score, p.type = text, score, typ
    t = m.trainer_spec
    t.model_type = model_type
    t.byte_fallback = byte_fallback
    for k, v in (trainer or {}).items():
        setattr(t, k, v)
    n = m.normalizer_spec
    n.name = "rules" if charsmap else "identity"
    if charsmap:
        n.precompiled_charsmap = charsmap
    for k, v in (norm or {}).items():
        setattr(n, k, v)
    if denorm:
        m.denormalizer_spec.precompiled_charsmap = denorm
        m.denormalizer_spec.add_dummy_prefix = False
        m.denormalizer_spec.remove_extra_whitespaces = False
        m.denormalizer_spec.escape_whitespaces = False
    return m.SerializeToString()


SPECIAL = [("<unk>", 0.0, UNKNOWN), ("<s>", 0.0, CONTROL), ("</s>", 0.0, CONTROL)]
USERSYM = [("<sep>", 0.0, USER), ("[x]", 0.0, USER), ("[xx]", 0.0, USER)]

# Scores repeat on purpose: ties decide between equally good segmentations.
UNI = [(WS, -2.0, NORMAL), ("a", -3.0, NORMAL), ("b", -3.0, NORMAL), ("c", -3.0, NORMAL),
       ("d", -4.0, NORMAL), ("x", -4.0, NORMAL), ("e", -4.0, NORMAL),
       (WS + "a", -3.0, NORMAL), ("ab", -4.0, NORMAL), ("bc", -4.0, NORMAL),
       ("abc", -6.0, NORMAL), (WS + "ab", -5.0, NORMAL), ("ca", -5.0, NORMAL),
       ("cab", -7.0, NORMAL), ("dd", -8.0, NORMAL), (WS + "d", -6.0, NORMAL),
       ("aa", -6.0, UNUSED), ("bcd", -1.0, UNUSED), ("e\u0301", -5.0, NORMAL),
       ("日本", -5.0, NORMAL), (WS + WS, -5.0, NORMAL)]

BPE_PIECES = [(WS, -1.0, NORMAL), ("a", -2.0, NORMAL), ("b", -2.0, NORMAL),
              ("c", -2.0, NORMAL), ("d", -2.0, NORMAL), ("x", -2.0, NORMAL),
              ("ab", -1.0, NORMAL), ("bc", -1.0, NORMAL), ("ca", -1.5, NORMAL),
              (WS + "a", -1.5, NORMAL), (WS + "ab", -2.5, NORMAL), ("abc", -3.0, NORMAL),
              ("bca", -3.0, NORMAL), ("cd", -0.5, UNUSED), ("bcd", -0.2, NORMAL),
              ("dd", -4.0, UNUSED), ("ddd", -4.5, NORMAL), ("dddd", -4.6, UNUSED),
              ("ddddd", -4.7, NORMAL), ("e", -3.0, NORMAL), (WS + WS, -2.0, NORMAL),
              ("<s", -2.0, NORMAL)]

MODELS = {
    "uni_basic": build(SPECIAL + USERSYM + UNI),
    "uni_rules_bytes": build(SPECIAL + USERSYM + UNI, byte_fallback=True,
                             charsmap=CHARSMAP, denorm=DENORM),
    "uni_positive": build(SPECIAL + USERSYM + [(p, -s, t) for p, s, t in UNI]),
    "uni_suffix": build(SPECIAL + USERSYM + [(p[1:] + WS if p.startswith(WS) else p, s, t) for p, s, t in UNI],
                        trainer={"treat_whitespace_as_suffix": True},
                        norm={"remove_extra_whitespaces": False}, charsmap=CHARSMAP),
    "uni_noescape": build(SPECIAL + [(p.replace(WS, " "), s, t) for p, s, t in UNI],
                          norm={"escape_whitespaces": False, "add_dummy_prefix": False},
                          charsmap=CHARSMAP),
    "uni_keepspace": build(SPECIAL + USERSYM + UNI,
                           norm={"remove_extra_whitespaces": False}, charsmap=CHARSMAP),
    "bpe_basic": build(SPECIAL + USERSYM + BPE_PIECES, model_type=2),
    "bpe_rules_bytes": build(SPECIAL + USERSYM + BPE_PIECES, model_type=2, byte_fallback=True,
                             charsmap=CHARSMAP, denorm=DENORM),
    "bpe_ties": build(SPECIAL + [(p, -1.0, t) for p, s, t in BPE_PIECES], model_type=2),
    "word": build(SPECIAL + [(WS + "a", -1.0, NORMAL), (WS + "ab", -1.0, NORMAL),
                             (WS + "abc", -1.0, NORMAL), ("a", -1.0, NORMAL), (WS, -1.0, NORMAL)],
                  model_type=3),
    "char": build(SPECIAL + USERSYM + [(WS, -1.0, NORMAL), ("a", -1.0, NORMAL), ("b", -1.0, NORMAL),
                                       ("c", -1.0, NORMAL), ("日", -1.0, NORMAL)],
                  model_type=4, charsmap=CHARSMAP),
    # "a" is both a control symbol and a normal piece; "d" is only a control symbol, so
    # BPE cannot encode a text with "d" (SentencePiece reports an error).
    "bpe_dup": build([("<unk>", 0.0, UNKNOWN), ("a", 0.0, CONTROL), ("d", 0.0, CONTROL),
                      (WS, -1.0, NORMAL), ("a", -1.0, NORMAL), ("b", -1.0, NORMAL),
                      (WS + "a", -0.5, NORMAL)], model_type=2,
                     trainer={"bos_piece": "a", "unk_surface": "<?>"}),
}

ALPHABET = ["a", "b", "c", "d", "x", "e", "A", "B", "C", "z", "é", "\u0301", " ", "  ", "\t",
            "\uff58", WS, "<sep>", "[x]", "[xx]", "[x", "<s>", "</s>", "日", "日本", "😀",
            "\u00a0", "\u3000", "ab", "abc", "bcd", "dddd", "ca", "\n", "<0x41>", "<unk>"]

FIXED = ["", " ", "  ", "\t", "a", " a", "a ", "  a  b  ", "abc", "ab ab", "abcd", "bcd",
         "dddd", "ddddd", "ddddddd", "cabca", "aaa", "A", "AB", "ABC", "Ab", "aB", "zz", "z a z",
         "é", "e\u0301", "x\uff58x", "\uff58a\uff58", "a\tb", "\tab\t", "<sep>", "a<sep>b",
         " <sep> ", "[x][xx][x", "日本", "日本日", "😀", "a😀b😀😀", "▁", "▁a", "a▁", "▁▁a",
         "<s>", "a<s>b", "</s>", "d", "ad", "da", "x", "<unk>", "\u00a0a\u3000", "\n"]


def texts():
    rnd = random.Random(20240611)
    out = list(FIXED)
    for _ in range(250):
        out.append("".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 10))))
    return out


def encode(sp, text):
    try:
        spt = spb.SentencePieceText()
        spt.ParseFromString(sp.encode(text, out_type="serialized_proto"))
        rec = {
            "ids": [p.id for p in spt.pieces],
            "pieces": [p.piece for p in spt.pieces],
            "surfaces": [p.surface for p in spt.pieces],
            "offsets": [[p.begin, p.end] for p in spt.pieces],
        }
        if rec["ids"] != sp.encode(text):
            # PopulateSentencePieceText failed: the ids API returns [] (the status is
            # dropped), the proto API the pieces made so far. Go's Encode reports an error.
            return {"error": "SentencePiece encode(text) returns %r" % sp.encode(text)}
        rec["decoded"] = sp.decode(rec["ids"])
        return rec
    except Exception as e:  # SentencePiece refuses the text
        return {"error": str(e)}


def main():
    rnd = random.Random(7)
    out = {"generator": "gen_tiny.py", "sentencepiece": spm.__version__, "models": []}
    for name, data in MODELS.items():
        with open(name + ".model", "wb") as f:
            f.write(data)
        sp = spm.SentencePieceProcessor(model_proto=data)
        n = sp.get_piece_size()
        cases = [dict(text=t, **encode(sp, t)) for t in texts()]
        decodes = []
        for _ in range(60):
            ids = [rnd.randrange(n) for _ in range(rnd.randint(0, 8))]
            decodes.append({"ids": ids, "decoded": sp.decode(ids)})
        out["models"].append({"name": name, "file": name + ".model", "vocab_size": n,
                              "unk": sp.unk_id(), "bos": sp.bos_id(), "eos": sp.eos_id(),
                              "pad": sp.pad_id(), "cases": cases, "decodes": decodes})
    with gzip.GzipFile("tiny_cases.json.gz", "wb", 9, mtime=0) as f:
        f.write(json.dumps(out, ensure_ascii=False, indent=0).encode())


if __name__ == "__main__":
    main()
