package lint

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/optiformer/optiformer"

// layers is DESIGN.md's import table, bottom first: a package may import packages of lower
// layers (and its own ancestors, e.g. tokenizer/bpe → tokenizer), never of its own or a
// higher one. A package path matches the longest entry that is it or one of its ancestors.
// A new top-level package must be placed here deliberately: the test fails until it is.
var layers = [][]string{
	{"internal/cpu", "internal/fsutil", "internal/assets"},
	{"kernels"},
	{"tensor"},
	{"ops"},
	{"ag"},
	{"nn"},
	{"models", "loss", "optim", "data"},
	{"ckpt"},
	{"train", "decode"},
	{"distill", "quant", "tune"},
	{"tasks"},
	{"serve", "report"},
	{"bench"},
	{"cmd"},
}

// standalone packages import nothing of ours (but their own subpackages).
var standalone = []string{"safetensors", "tokenizer", "metrics", "tune"}

// testOnly packages may be imported by _test.go files only.
var testOnly = []string{"internal/testutil"}

// exempt packages are not part of the layer table.
var exempt = []string{"internal/lint", "internal/testutil"}

// onlyFromCmdAndTests may be imported by cmd/ and tests only (DESIGN.md: models/all).
var onlyFromCmdAndTests = []string{"models/all"}

func within(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }

// layerOf returns the layer of a package and the entry it matched (-1 when none).
func layerOf(pkg string) (int, string) {
	best, entry := -1, ""
	for i, l := range layers {
		for _, e := range l {
			if within(pkg, e) && len(e) > len(entry) {
				best, entry = i, e
			}
		}
	}
	for _, e := range standalone {
		if within(pkg, e) && len(e) >= len(entry) {
			return -2, e
		}
	}
	return best, entry
}

func matchAny(pkg string, list []string) string {
	for _, e := range list {
		if within(pkg, e) {
			return e
		}
	}
	return ""
}

// checkImport returns why pkg may not import imp, or "".
func checkImport(pkg, imp string, test bool) string {
	if within(pkg, imp) { // an ancestor (or itself, for external tests)
		return ""
	}
	if e := matchAny(imp, testOnly); e != "" {
		if test {
			return ""
		}
		return fmt.Sprintf("%s is for tests only", e)
	}
	if e := matchAny(imp, onlyFromCmdAndTests); e != "" && !test && !within(pkg, "cmd") {
		return fmt.Sprintf("only cmd/ and tests import %s", e)
	}
	if matchAny(pkg, exempt) != "" || test {
		// Tests are not part of the library: they may drive a package from above (a model's
		// parity test trains it with an optimizer); Go still forbids real cycles.
		return ""
	}
	if e := matchAny(pkg, standalone); e != "" {
		if within(imp, e) { // its own tree: tokenizer/hf may use tokenizer/charsmap
			return ""
		}
		return fmt.Sprintf("%s is standalone and imports nothing of ours", e)
	}
	lp, ep := layerOf(pkg)
	li, ei := layerOf(imp)
	if lp == -1 {
		return fmt.Sprintf("%s is not in the layer table of internal/lint (DESIGN.md): place it", pkg)
	}
	if li == -2 { // standalone packages may be imported by anyone above the bottom layers
		return ""
	}
	if li == -1 {
		return fmt.Sprintf("%s is not in the layer table of internal/lint (DESIGN.md): place it", imp)
	}
	if li >= lp {
		return fmt.Sprintf("%s (layer %s) may not import %s (layer %s): imports only go down", pkg, ep, imp, ei)
	}
	return ""
}

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); strings.Contains(string(b), "module "+module+"\n") {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root not found")
		}
		dir = parent
	}
}

// TestImportDirection parses every Go file of the module and checks each import of ours.
func TestImportDirection(t *testing.T) {
	root := repoRoot(t)
	var problems []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a nested module (internal/asmgen)
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		test := strings.HasSuffix(path, "_test.go")
		for _, is := range f.Imports {
			imp, _ := strconv.Unquote(is.Path.Value)
			if !within(imp, module) {
				continue
			}
			imp = strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if why := checkImport(pkg, imp, test); why != "" {
				rp, _ := filepath.Rel(root, path)
				problems = append(problems, fmt.Sprintf("%s imports %s: %s", rp, imp, why))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestCheckImport makes sure the rule itself can fail.
func TestCheckImport(t *testing.T) {
	for _, tc := range []struct {
		pkg, imp string
		test, ok bool
	}{
		{"tensor", "kernels", false, true},
		{"kernels", "tensor", false, false},
		{"kernels", "internal/cpu", false, true},
		{"ops", "ops", true, true},
		{"models/bert", "models", false, true},
		{"models/bert", "nn", false, true},
		{"nn", "models/bert", false, false},
		{"loss", "optim", false, false},
		{"tokenizer/bpe", "tokenizer", false, true},
		{"tokenizer", "kernels", false, false},
		{"tokenizer/hf", "tokenizer/charsmap", false, true},
		{"tokenizer/hf", "metrics", false, false},
		{"tasks/qa", "tokenizer", false, true},
		{"models/transformer", "optim", true, true},
		{"models/transformer", "optim", false, false},
		{"kernels", "internal/testutil", false, false},
		{"kernels", "internal/testutil", true, true},
		{"train", "models/all", false, false},
		{"cmd/optiformer", "models/all", false, true},
		{"newthing", "kernels", false, false},
		{"cmd/optiformer", "bench", false, true},
		{"bench", "cmd/optiformer", false, false},
	} {
		why := checkImport(tc.pkg, tc.imp, tc.test)
		if (why == "") != tc.ok {
			t.Errorf("%s → %s (test %v): got %q, want allowed=%v", tc.pkg, tc.imp, tc.test, why, tc.ok)
		}
	}
}
