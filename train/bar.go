package train

import (
	"fmt"
	"io"
	"time"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/tensor"
	"github.com/schollz/progressbar/v3"
)

// bar is the progress bar of a run: steps done, the loss, tokens per second, the learning
// rate and the time left.
type bar struct {
	pb *progressbar.ProgressBar
}

func newBar(w io.Writer, total, done int) *bar {
	if w == nil {
		return &bar{}
	}
	pb := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("training"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(500*time.Millisecond),
		progressbar.OptionSetWidth(24),
		progressbar.OptionClearOnFinish(),
	)
	if done > 0 {
		pb.Set(done)
	}
	return &bar{pb: pb}
}

// update shows the state after step; left, when ≥ 0, is the time budget remaining (the bar's
// own estimate counts steps, which a budget may cut short).
func (b *bar) update(step int, loss, tokPerSec, lr float64, left time.Duration) {
	if b.pb == nil {
		return
	}
	d := fmt.Sprintf("loss %.3f  %.0f tok/s  lr %.2e", loss, tokPerSec, lr)
	if left >= 0 {
		d += fmt.Sprintf("  budget %v left", left.Round(time.Second))
	}
	b.pb.Describe(d)
	b.pb.Set(step)
}

func (b *bar) done() {
	if b.pb != nil {
		b.pb.Finish()
	}
}

// scalarLike is a tensor of v with loss's dtype and shape.
func scalarLike(loss *ag.Var, v float64) *tensor.Tensor {
	return tensor.Full(loss.Value.DType(), v, loss.Value.Shape()...)
}

// scaleGrads multiplies every gradient by f.
func scaleGrads(ps []nn.NamedParam, f float64) {
	for _, p := range ps {
		g := p.Param.Grad
		if g == nil {
			continue
		}
		if g.DType() == tensor.F32 {
			s := g.F32()
			for i := range s {
				s[i] *= float32(f)
			}
		} else {
			s := g.F64()
			for i := range s {
				s[i] *= f
			}
		}
	}
}
