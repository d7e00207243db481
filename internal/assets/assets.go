// Package assets holds the data files built into the binary, so that benchmarks and the
// demo run anywhere with nothing to download: tokenizers and real text (see PROVENANCE.md
// beside this file for where each comes from). Files are stored gzip-compressed.
package assets

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

//go:embed *.gz
var files embed.FS

// Read returns the uncompressed contents of the named file (its name without ".gz").
func Read(name string) ([]byte, error) {
	raw, err := files.ReadFile(name + ".gz")
	if err != nil {
		return nil, fmt.Errorf("assets: %s: %w", name, err)
	}
	z, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("assets: %s: %w", name, err)
	}
	out, err := io.ReadAll(z)
	if err != nil {
		return nil, fmt.Errorf("assets: %s: %w", name, err)
	}
	return out, nil
}

// Lines returns the lines of a text file, without their line ends.
func Lines(name string) ([]string, error) {
	b, err := Read(name)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n"), nil
}

// Names lists the files, without ".gz".
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".gz"))
	}
	return out
}
