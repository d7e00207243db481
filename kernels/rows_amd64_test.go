//go:build !purego

package kernels

import "github.com/optiformer/optiformer/internal/cpu"

// rowsWantImpls is what every row family should offer on this processor.
func rowsWantImpls() []cpu.Level {
	var ls []cpu.Level
	for l := cpu.Generic; l <= cpu.Detected(); l++ {
		ls = append(ls, l)
	}
	return ls
}
