package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Peer is a long-lived peer process (a Python or Node script under bench/) that answers one
// JSON request per line with one JSON line. Its first line describes it: {"ready": true, ...}
// or {"error": "..."} when what it needs is missing.
type Peer struct {
	Name string         // e.g. "openblas"
	Info map[string]any // the ready line: versions, configuration
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	dir  string
}

// pythonCandidates are tried in order; Debian's interpreter first because the peers
// (python3-numpy, python3-torch) are Debian packages, and a pyenv shim on PATH may lack them.
func pythonCandidates() []string {
	if p := os.Getenv("OPTIFORMER_PYTHON"); p != "" {
		return []string{p}
	}
	return []string{"/usr/bin/python3", "python3"}
}

// StartPython runs script (the text of a bench/*.py file) with the first Python interpreter
// that starts it successfully, with env added to the environment.
func StartPython(name, script string, env ...string) (*Peer, error) {
	var errs []string
	for _, py := range pythonCandidates() {
		if _, err := exec.LookPath(py); err != nil {
			errs = append(errs, fmt.Sprintf("%s: not found", py))
			continue
		}
		p, err := start(name, py, script, ".py", env)
		if err == nil {
			return p, nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", py, err))
	}
	return nil, fmt.Errorf("bench: peer %s unavailable (%s)", name, strings.Join(errs, "; "))
}

func start(name, interp, script, ext string, env []string) (*Peer, error) {
	dir, err := os.MkdirTemp("", "optiformer-peer-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+ext)
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(interp, path)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &Peer{Name: name, cmd: cmd, in: in, out: bufio.NewReader(outPipe), dir: dir}
	var ready map[string]any
	if err := p.read(&ready, 2*time.Minute); err != nil {
		p.Close()
		return nil, err
	}
	if msg, ok := ready["error"]; ok {
		p.Close()
		return nil, fmt.Errorf("%v", msg)
	}
	p.Info = ready
	return p, nil
}

// Call sends req and decodes the answer into resp. An answer with an "error" field is an error.
func (p *Peer) Call(req, resp any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("bench: peer %s: %w", p.Name, err)
	}
	var raw json.RawMessage
	if err := p.read(&raw, 10*time.Minute); err != nil {
		return err
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return fmt.Errorf("bench: peer %s: %s", p.Name, e.Error)
	}
	return json.Unmarshal(raw, resp)
}

func (p *Peer) read(v any, timeout time.Duration) error {
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		s, err := p.out.ReadString('\n')
		ch <- line{s, err}
	}()
	select {
	case l := <-ch:
		if l.err != nil {
			if errors.Is(l.err, io.EOF) {
				return fmt.Errorf("bench: peer %s exited", p.Name)
			}
			return fmt.Errorf("bench: peer %s: %w", p.Name, l.err)
		}
		if err := json.Unmarshal([]byte(l.s), v); err != nil {
			return fmt.Errorf("bench: peer %s: bad answer %q: %w", p.Name, strings.TrimSpace(l.s), err)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("bench: peer %s: no answer in %v", p.Name, timeout)
	}
}

// Close stops the peer process and removes its files.
func (p *Peer) Close() {
	if p == nil {
		return
	}
	p.in.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(p.dir)
}
