// Package safetensors reads and writes the Hugging Face safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N, N bytes
// of UTF-8 JSON, then the data buffer. The JSON maps each tensor name to
// {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, offsets relative to the
// data buffer, plus an optional "__metadata__" object of strings.
//
// Checkpoints arrive from users, so the reader treats every file as hostile. It enforces the
// rules of the Rust reference library (huggingface/safetensors, SafeTensors::read_metadata and
// Metadata::validate) and a little more: a bounded header length, valid UTF-8 and JSON, no
// duplicate keys, known dtypes, non-negative integer shapes and offsets, element counts that
// neither overflow nor disagree with the offsets, and tensors that tile the data buffer
// exactly, with no overlap, hole or trailing byte. Nothing sized by the file is allocated
// before it is checked against the file's real size, and no input makes it panic (FuzzRead).
// Every error starts with "safetensors: ", names the tensor at fault, and wraps one of the
// Err variables for errors.Is.
//
// The writer produces what the Rust library's serialize produces, byte for byte (see
// Writer), so files written here load everywhere safetensors does; Save replaces a file
// atomically.
//
// Typed accessors decode little-endian data: Float32s widens F16 and BF16 (F16ToFloat32,
// BF16ToFloat32, implemented here, exact for every bit pattern) and narrows F64; Int64s,
// Int32s and Int8s convert any integer dtype with range checks.
package safetensors
