package safetensors

import (
	"errors"
	"fmt"
)

// The classes of failure. Every error this package returns starts with "safetensors: ",
// names the tensor when one is at fault, and wraps one of these, so callers can test with
// errors.Is. The comment after each names the Rust library's SafeTensorError for the same
// condition, where it has one.
var (
	ErrTooSmall       = errors.New("file shorter than the 8-byte header length")  // HeaderTooSmall
	ErrHeaderTooLarge = errors.New("header length exceeds limit")                 // HeaderTooLarge
	ErrHeaderLength   = errors.New("header length exceeds file size")             // InvalidHeaderLength
	ErrTruncated      = errors.New("file shorter than its stated size")           // (I/O)
	ErrHeaderUTF8     = errors.New("header is not valid UTF-8")                   // InvalidHeader
	ErrSyntax         = errors.New("invalid header JSON")                         // InvalidHeaderDeserialization
	ErrSchema         = errors.New("header does not follow the format")           // InvalidHeaderDeserialization
	ErrDuplicate      = errors.New("duplicate key")                               // (serde keeps the last)
	ErrDType          = errors.New("unknown dtype")                               // InvalidHeaderDeserialization
	ErrShape          = errors.New("invalid shape")                               // InvalidHeaderDeserialization
	ErrOffsets        = errors.New("invalid data_offsets")                        // InvalidOffset
	ErrOverflow       = errors.New("size overflows")                              // ValidationOverflow
	ErrMisaligned     = errors.New("sub-byte tensor does not fill whole bytes")   // MisalignedSlice
	ErrSizeMismatch   = errors.New("data_offsets do not match shape and dtype")   // TensorInvalidInfo
	ErrOutOfBounds    = errors.New("tensor data outside the data buffer")         // MetadataIncompleteBuffer
	ErrOverlap        = errors.New("tensors overlap")                             // InvalidOffset
	ErrGap            = errors.New("gap in the data buffer")                      // InvalidOffset
	ErrTrailing       = errors.New("data buffer has bytes after the last tensor") // MetadataIncompleteBuffer
	ErrMetadata       = errors.New("invalid __metadata__")                        // InvalidHeaderDeserialization
	ErrNotFound       = errors.New("tensor not found")                            // TensorNotFound
	ErrConvert        = errors.New("dtype cannot be converted")                   // (no equivalent)
	ErrRange          = errors.New("value out of range for the requested type")   // (no equivalent)
	ErrInvalid        = errors.New("invalid tensor to write")                     // InvalidTensorView
)

// errorf formats an error with the package prefix.
func errorf(format string, args ...any) error {
	return fmt.Errorf("safetensors: "+format, args...)
}

// tensorErrorf formats an error about the named tensor.
func tensorErrorf(name, format string, args ...any) error {
	return fmt.Errorf("safetensors: tensor %q: %w", name, fmt.Errorf(format, args...))
}
