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
// that starts it successfully, with env added to the environment. When init is not nil it is
// sent as the first line, before the peer answers ready.
func StartPython(name, script string, init any, env ...string) (*Peer, error) {
	var errs []string
	for _, py := range pythonCandidates() {
		if _, err := exec.LookPath(py); err != nil {
			errs = append(errs, fmt.Sprintf("%s: not found", py))
			continue
		}
		p, err := startScript(name, py, script, ".py", init, env)
		if err == nil {
			return p, nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", py, err))
	}
	return nil, fmt.Errorf("bench: peer %s unavailable (%s)", name, strings.Join(errs, "; "))
}

// NodeModules is where the Node peers find their packages (onnxruntime-node, tokenizers):
// $OPTIFORMER_NODE_MODULES, else ~/.cache/optiformer/node/node_modules, where
// bench/install-peers.sh puts them.
func NodeModules() string {
	if d := os.Getenv("OPTIFORMER_NODE_MODULES"); d != "" {
		return d
	}
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "optiformer", "node", "node_modules")
	}
	return ""
}

// StartNode runs script (a bench/*.js file) with node, resolving packages from NodeModules.
func StartNode(name, script string, init any, env ...string) (*Peer, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("bench: peer %s unavailable: node not found", name)
	}
	env = append(env, "NODE_PATH="+NodeModules())
	p, err := startScript(name, "node", script, ".js", init, env)
	if err != nil {
		return nil, fmt.Errorf("bench: peer %s unavailable: %v", name, err)
	}
	return p, nil
}

// StartSelf runs this program's own `bench worker` in a child process, so that what it
// measures (peak RSS above all) is its own.
func StartSelf(name string, init any, env ...string) (*Peer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startProc(name, []string{exe, "bench", "worker"}, "", init, env)
}

func startScript(name, interp, script, ext string, init any, env []string) (*Peer, error) {
	dir, err := os.MkdirTemp("", "optiformer-peer-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+ext)
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p, err := startProc(name, []string{interp, path}, dir, init, env)
	if err != nil {
		os.RemoveAll(dir)
	}
	return p, err
}

// startProc starts argv, sends init (when not nil) and waits for the ready line. dir, when
// not empty, is removed on Close.
func startProc(name string, argv []string, dir string, init any, env []string) (*Peer, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Peer{Name: name, cmd: cmd, in: in, out: bufio.NewReader(outPipe), dir: dir}
	if init != nil {
		b, err := json.Marshal(init)
		if err == nil {
			_, err = in.Write(append(b, '\n'))
		}
		if err != nil {
			p.Close()
			return nil, err
		}
	}
	var ready map[string]any
	if err := p.read(&ready, 10*time.Minute); err != nil {
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
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}
