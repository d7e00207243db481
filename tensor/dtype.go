package tensor

import "fmt"

// DType is the element type of a Tensor. The zero DType is invalid, so a zero Tensor or a
// forgotten field is caught rather than silently taken for float32.
//
// Quantized block types (Q8_0, Q4) will be added after I8. Their elements are stored in
// blocks with a shared scale (ggml's layout), so for them Size will not be a whole number of
// bytes per element; code that needs storage sizes should go through this type's methods
// rather than assume Size()·Len().
type DType uint8

// The element types. F32 is the working type; F64 serves as an oracle in tests; I32 holds
// token ids and indices; I8 holds quantized values.
const (
	F32 DType = iota + 1 // float32, torch.float32
	F64                  // float64, torch.float64
	I32                  // int32, torch.int32
	I8                   // int8, torch.int8
)

// String returns the Go name of the element type ("float32", "float64", "int32", "int8"),
// which is also the PyTorch name without the "torch." prefix, or "DType(n)" when invalid.
func (dt DType) String() string {
	switch dt {
	case F32:
		return "float32"
	case F64:
		return "float64"
	case I32:
		return "int32"
	case I8:
		return "int8"
	}
	return fmt.Sprintf("DType(%d)", uint8(dt))
}

// Size returns the number of bytes per element (torch.Tensor.element_size). It panics for
// an invalid DType.
func (dt DType) Size() int {
	switch dt {
	case F32, I32:
		return 4
	case F64:
		return 8
	case I8:
		return 1
	}
	panic(fmt.Sprintf("tensor: Size of invalid %v", dt))
}

// IsFloat reports whether dt is a floating-point type (torch.dtype.is_floating_point).
func (dt DType) IsFloat() bool { return dt == F32 || dt == F64 }

// valid reports whether dt is one of the implemented element types.
func (dt DType) valid() bool { return dt >= F32 && dt <= I8 }
