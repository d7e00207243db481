// Command asmgen writes the amd64 assembly of package kernels (and its Go declarations) with
// avo. It lives in its own module so that the library does not depend on avo.
//
// Each generator writes <name>_amd64.s and <name>_stubs_amd64.go into -out. Run it through
// `go generate ./kernels/...` from the repository root; CI checks that the committed files match.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
)

// generator fills one avo context: one .s file and its stubs.
type generator struct {
	name string // output file stem, e.g. "gemm" for gemm_amd64.s
	pkg  string // Go package name of the output
	fn   func(ctx *build.Context)
}

var generators []generator

func register(name, pkg string, fn func(ctx *build.Context)) {
	generators = append(generators, generator{name: name, pkg: pkg, fn: fn})
}

func main() {
	// avo's build package registers its own flags on flag.CommandLine: use a set of our own.
	fs := flag.NewFlagSet("asmgen", flag.ExitOnError)
	out := fs.String("out", ".", "directory to write into")
	pkg := fs.String("pkg", "kernels", "only run the generators of this Go package")
	fs.Parse(os.Args[1:])
	sort.Slice(generators, func(i, j int) bool { return generators[i].name < generators[j].name })
	n := 0
	for _, g := range generators {
		if g.pkg != *pkg {
			continue
		}
		if err := run(g, *out); err != nil {
			fmt.Fprintf(os.Stderr, "asmgen: %s: %v\n", g.name, err)
			os.Exit(1)
		}
		n++
	}
	if n == 0 {
		fmt.Fprintf(os.Stderr, "asmgen: no generators for package %q\n", *pkg)
		os.Exit(1)
	}
}

func run(g generator, dir string) error {
	ctx := build.NewContext()
	ctx.ConstraintExpr("!purego")
	g.fn(ctx)
	f, err := ctx.Result()
	if err != nil {
		return err
	}
	cfg := printer.Config{Argv: []string{"asmgen", "-pkg", g.pkg}, Pkg: g.pkg}
	asmPath := filepath.Join(dir, g.name+"_amd64.s")
	stubPath := filepath.Join(dir, g.name+"_stubs_amd64.go")
	asm, err := os.Create(asmPath)
	if err != nil {
		return err
	}
	stubs, err := os.Create(stubPath)
	if err != nil {
		asm.Close()
		return err
	}
	p := pass.Concat(pass.Compile,
		&pass.Output{Writer: asm, Printer: printer.NewGoAsm(cfg)},
		&pass.Output{Writer: stubs, Printer: printer.NewStubs(cfg)})
	return p.Execute(f)
}

// laneMaskTable emits a read-only table of `ones` all-ones int32 lanes followed by as many zero
// lanes, and returns its address. The AVX2 kernels take the mask for their first t lanes of a
// w-lane vector from table[ones-t : ones-t+w] (VMASKMOVPS, VPGATHERDD masks).
func laneMaskTable(ctx *build.Context, name string, ones int) Mem {
	m := ctx.StaticGlobal(name)
	ctx.DataAttributes(attr.RODATA | attr.NOPTR)
	for i := 0; i < 2*ones; i++ {
		v := U32(0)
		if i < ones {
			v = U32(0xffffffff)
		}
		ctx.AppendDatum(v)
	}
	return m
}
