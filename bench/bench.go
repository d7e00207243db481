// Package bench measures optiformer against its peers (OpenBLAS through numpy, PyTorch, ONNX
// Runtime, Hugging Face tokenizers) in the same run, and prints the results as DESIGN.md
// defines: one JSON object per line, or a table.
//
// The machine is shared and noisy, so every figure is a median over samples, and the samples
// of optiformer and of the peer are taken in turn (ours, theirs, ours, …) so both see the same
// conditions; ratios compare those medians.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one benchmark line. Peer, PeerValue and Ratio are nil when no peer ran
// (printed as null, never guessed). Ratio > 1 means optiformer is better: value/peer for
// throughputs, peer/value for latencies; with paired samples (SetPeerPaired) it is the median
// of the per-sample ratios, which can differ a little from the ratio of the medians.
type Result struct {
	Name           string   `json:"name"`
	Threads        int      `json:"threads"`
	Value          float64  `json:"value"`
	Unit           string   `json:"unit"`
	HigherIsBetter bool     `json:"higher_is_better"`
	Peer           *string  `json:"peer"`
	PeerValue      *float64 `json:"peer_value"`
	Ratio          *float64 `json:"ratio"`
	Samples        int      `json:"samples"`
	Note           string   `json:"note,omitempty"`
}

// SetPeer fills in the peer's figure and the ratio.
func (r *Result) SetPeer(name string, value float64) {
	r.Peer = &name
	r.PeerValue = &value
	var ratio float64
	if r.HigherIsBetter {
		ratio = r.Value / value
	} else {
		ratio = value / r.Value
	}
	if !math.IsNaN(ratio) && !math.IsInf(ratio, 0) {
		ratio = math.Round(ratio*1000) / 1000
		r.Ratio = &ratio
	}
}

// SetPeerPaired fills in the peer's median and, as the ratio, the median of the per-sample
// ratios: sample i of ours and sample i of the peer were taken one right after the other, so
// their ratio cancels most of the drift of a shared machine, which a ratio of medians keeps.
// ours and peer must be the same length.
func (r *Result) SetPeerPaired(name string, ours, peer []float64) {
	r.SetPeer(name, Median(peer))
	var rs []float64
	for i := range min(len(ours), len(peer)) {
		if r.HigherIsBetter {
			rs = append(rs, ours[i]/peer[i])
		} else {
			rs = append(rs, peer[i]/ours[i])
		}
	}
	ratio := math.Round(Median(rs)*1000) / 1000
	if !math.IsNaN(ratio) && !math.IsInf(ratio, 0) {
		r.Ratio = &ratio
	}
}

// WriteJSON prints one JSON object per line.
func WriteJSON(w io.Writer, rs []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range rs {
		r.Value = round3(r.Value)
		if r.PeerValue != nil {
			v := round3(*r.PeerValue)
			r.PeerValue = &v
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func round3(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	// three significant decimals after the point are plenty for noisy figures
	return math.Round(v*1000) / 1000
}

// WriteTable prints the results as an aligned table.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "name\tthreads\toptiformer\tpeer\tpeer value\tratio\t")
	for _, r := range rs {
		peer, pv, ratio := "-", "-", "-"
		if r.Peer != nil {
			peer = *r.Peer
			pv = fmt.Sprintf("%.4g", *r.PeerValue)
		}
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.2f×", *r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.4g %s\t%s\t%s\t%s\t\n", r.Name, r.Threads, r.Value, r.Unit, peer, pv, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, r := range rs {
		if r.Note != "" && !slices.Contains(notes, r.Note) {
			notes = append(notes, r.Note)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\n"+strings.Join(notes, "\n"))
	}
	return nil
}

// Median of xs (NaN when empty).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Rate runs fn repeatedly for about d and returns calls per second. It first calibrates the
// number of calls so that the clock is read rarely.
func Rate(d time.Duration, fn func()) float64 {
	n := 1
	for {
		t0 := time.Now()
		for i := 0; i < n; i++ {
			fn()
		}
		el := time.Since(t0)
		if el >= d || n >= 1<<30 {
			return float64(n) / el.Seconds()
		}
		if el <= 0 {
			n *= 100
			continue
		}
		// aim just past d
		next := int(float64(n) * 1.2 * float64(d) / float64(el))
		n = max(n+1, min(next, 100*n))
	}
}
