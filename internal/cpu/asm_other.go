//go:build purego || !amd64

package cpu

const asm = false
