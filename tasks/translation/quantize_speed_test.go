package translation

import "testing"

// medianSpeed takes each figure's median on its own: the rounds need not agree on which round
// was fastest.
func TestMedianSpeed(t *testing.T) {
	var ms Measure
	ms.BLEU = 30
	medianSpeed(&ms, []Measure{
		{EncoderMs: 3, StepMs: 0.1, TokensPerS: 900},
		{EncoderMs: 1, StepMs: 0.3, TokensPerS: 1100},
		{EncoderMs: 2, StepMs: 0.2, TokensPerS: 1000, BLEU: 99},
	})
	want := Measure{EncoderMs: 2, StepMs: 0.2, TokensPerS: 1000, BLEU: 30}
	if ms != want {
		t.Errorf("got %+v, want %+v", ms, want)
	}
}
