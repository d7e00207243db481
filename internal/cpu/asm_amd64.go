//go:build !purego

package cpu

// asm is whether this build has the assembly kernels. With -tags purego (or on another
// architecture) Detected is Generic whatever the processor has, so tests do not run
// "avx2" and "avx512" subtests that would all execute the portable code.
const asm = true
