package q8

//go:generate go run -C ../../internal/asmgen . -out ../../kernels/q8 -pkg q8
