#!/usr/bin/env python3
"""Writes golden.safetensors beside this script, laid out by hand from the format spec.

No reference writer is installable here (Debian has no python3-safetensors, PyPI is not
reachable), so this script is a second, independent implementation of what the Rust library's
safetensors::serialize produces (huggingface/safetensors, safetensors/src/tensor.rs):

  * tensors sorted by descending Dtype rank (the Rust enum's declaration order), then name;
  * header = compact JSON (serde_json escaping, which json.dumps with ensure_ascii=False and
    compact separators matches): "__metadata__" first, then the tensors in layout order;
  * header padded with spaces to a multiple of 8 bytes; 8-byte little-endian length prefix;
  * data: the tensors' little-endian bytes back to back.

Run: python3 golden.py   (stdlib only; any Python 3.7+ gives the same bytes)
"""
import json
import os
import struct

RANK = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
        "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64",
        "F64", "I64", "U64"]

TENSORS = {
    "ids": ("I64", [2], struct.pack("<2q", 1, -1)),
    "scale": ("F64", [], struct.pack("<d", 0.25)),
    "embed.weight": ("F32", [2, 3], struct.pack("<6f", 0.0, 1.0, -2.0, 0.5, 3.25, 65504.0)),
    "empty": ("I32", [0, 4], b""),
    "h.bf16": ("BF16", [2], struct.pack("<2H", 0x3F80, 0xC040)),         # 1.0, -3.0
    "h.f16": ("F16", [3], struct.pack("<3H", 0x3C00, 0xC000, 0x0001)),   # 1.0, -2.0, 2^-24
    'esc"\\/\u00e9\x1f\n': ("U16", [1], struct.pack("<H", 513)),
    "q": ("I8", [4], struct.pack("<4b", -128, -1, 0, 127)),
    "u": ("U8", [1], bytes([255])),
    "f4": ("F4", [4], bytes([0x21, 0x43])),
    "mask": ("BOOL", [3], bytes([1, 0, 1])),
}
METADATA = {"format": "pt"}


def main():
    order = sorted(TENSORS, key=lambda n: (-RANK.index(TENSORS[n][0]), n.encode("utf-8")))
    header = {"__metadata__": METADATA}
    data = b""
    for name in order:
        dtype, shape, raw = TENSORS[name]
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    out = struct.pack("<Q", len(h)) + h + data
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.safetensors")
    with open(path, "wb") as f:
        f.write(out)
    print(path, len(out), "bytes")


if __name__ == "__main__":
    main()
