//go:build purego || !amd64

package kernels

import "github.com/optiformer/optiformer/internal/cpu"

// rowsWantImpls is what every row family should offer: the portable Go version only.
func rowsWantImpls() []cpu.Level { return []cpu.Level{cpu.Generic} }
