package testutil

import "unsafe"

func uintptrOf(s []float32, i int) uintptr { return uintptr(unsafe.Pointer(&s[i])) }
