//go:build !unix

package hf

import "time"

func cpuTime() time.Duration { return 0 }
