package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestResultJSON(t *testing.T) {
	r := Result{Name: "gemm/1x2x3", Threads: 1, Value: 97.12345, Unit: "GFLOP/s", HigherIsBetter: true, Samples: 3}
	noPeer := r
	r.SetPeer("openblas", 88)
	lat := Result{Name: "infer/x", Threads: 2, Value: 50, Unit: "ms"}
	lat.SetPeer("pytorch", 100)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, []Result{r, noPeer, lat}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"name": "gemm/1x2x3", "threads": 1.0, "value": 97.123, "unit": "GFLOP/s",
		"higher_is_better": true, "peer": "openblas", "peer_value": 88.0, "ratio": 1.104} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if !strings.Contains(lines[1], `"peer":null`) || !strings.Contains(lines[1], `"ratio":null`) || !strings.Contains(lines[1], `"peer_value":null`) {
		t.Errorf("a missing peer must print null: %s", lines[1])
	}
	if !strings.Contains(lines[2], `"ratio":2`) {
		t.Errorf("a latency half the peer's must have ratio 2: %s", lines[2])
	}
}

func TestMedianAndRate(t *testing.T) {
	if Median([]float64{3, 1, 2}) != 2 || Median([]float64{4, 1, 2, 3}) != 2.5 || !math.IsNaN(Median(nil)) {
		t.Fatal("Median is wrong")
	}
	calls := 0
	start := time.Now()
	rate := Rate(20*time.Millisecond, func() { calls++; time.Sleep(time.Millisecond) })
	el := time.Since(start)
	if rate <= 100 || rate > 1100 || el > time.Second {
		t.Fatalf("Rate of a 1ms call = %.0f/s after %v", rate, el)
	}
}

func TestWriteTable(t *testing.T) {
	r := Result{Name: "gemm/a", Threads: 1, Value: 10, Unit: "GFLOP/s", HigherIsBetter: true, Note: "a note"}
	r.SetPeer("openblas", 5)
	var buf bytes.Buffer
	if err := WriteTable(&buf, []Result{r}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"gemm/a", "openblas", "2.00×", "a note"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, buf.String())
		}
	}
}

// A peer that reports an error on start is unavailable, with the reason.
func TestPeerUnavailable(t *testing.T) {
	t.Setenv("OPTIFORMER_PYTHON", "/nonexistent/python3")
	if _, err := StartPython("x", "print(1)", nil); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("err = %v", err)
	}
}

// The peer protocol, with a shell script standing in for Python.
func TestPeerProtocol(t *testing.T) {
	script := `echo '{"ready": true, "who": "sh"}'
while read -r line; do
  case "$line" in
    *bad*) echo '{"error": "no such op"}' ;;
    *) echo '{"gflops": 42.5, "calls": 3}' ;;
  esac
done`
	p, err := startScript("shpeer", "/bin/sh", script, ".sh", nil, nil)
	if err != nil {
		t.Skipf("no /bin/sh: %v", err)
	}
	defer p.Close()
	if p.Info["who"] != "sh" {
		t.Fatalf("ready line %v", p.Info)
	}
	var resp struct{ Gflops float64 }
	if err := p.Call(map[string]any{"op": "gemm"}, &resp); err != nil || resp.Gflops != 42.5 {
		t.Fatalf("Call: %v, %v", resp, err)
	}
	if err := p.Call(map[string]any{"op": "bad"}, &resp); err == nil || !strings.Contains(err.Error(), "no such op") {
		t.Fatalf("error answer gave %v", err)
	}
}

func TestSetPeerPaired(t *testing.T) {
	// The machine halves its speed half-way: the paired ratio still sees 2×.
	r := Result{HigherIsBetter: true}
	r.SetPeerPaired("p", []float64{20, 20, 10, 10, 10}, []float64{10, 10, 5, 5, 5})
	if *r.Ratio != 2 || *r.PeerValue != 5 {
		t.Fatalf("ratio %v peer %v", *r.Ratio, *r.PeerValue)
	}
	lat := Result{}
	lat.SetPeerPaired("p", []float64{1, 2, 4}, []float64{2, 4, 8})
	if *lat.Ratio != 2 {
		t.Fatalf("latency ratio %v", *lat.Ratio)
	}
}

// TestTokenizeNoPeer runs the tokenizer benchmark briefly without the peer: one figure per
// tokenizer and thread count, all positive, none with a made-up peer value.
func TestTokenizeNoPeer(t *testing.T) {
	rs, err := Tokenize(TokenizeOptions{Threads: []int{1, 2}, Samples: 1, Sample: time.Millisecond, NoPeer: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2*len(TokenizeCases) {
		t.Fatalf("%d results, want %d", len(rs), 2*len(TokenizeCases))
	}
	for _, r := range rs {
		if !(r.Value > 0) || r.Unit != "MB/s" || r.Peer != nil || r.Ratio != nil || !strings.HasPrefix(r.Name, "tokenize/") {
			t.Errorf("bad result %+v", r)
		}
	}
}
