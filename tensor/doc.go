// Package tensor holds Tensor, the n-dimensional array the rest of optiformer (ops, autograd,
// nn, models) is built on: a dtype, a shape, strides and an element offset over typed storage
// ([]float32, []float64, []int32 or []int8). Execution is eager, on the CPU, in row-major
// (C) order, as in PyTorch.
//
// A Tensor's header (dtype, shape, strides, offset) never changes after creation. Views
// (View, Reshape when possible, Transpose, Permute, Slice, Squeeze, Unsqueeze, Expand) return
// new headers over the same storage, so writing through a view changes every tensor that
// shares it, as in PyTorch. Strides count elements, not bytes, and are never negative; Expand
// produces zero strides.
//
// Fast code reads contiguous data directly through F32, F64, I32 and I8, which return the
// backing slice (no copy); call Contiguous first when a tensor may be a strided view. At and
// Set address single elements through float64 and are meant for tests and small jobs.
//
// Misuse (a bad shape, axis, index or dtype) is a programmer error: it panics with a message
// that starts with "tensor: ", names the operation and shows the offending shape or axis.
package tensor
