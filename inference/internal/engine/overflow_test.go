package engine

import (
	"math"
	"testing"
)

// TestLinearOverflow: inputs near the float64 range overflow the raw
// scores (Inf, or NaN where Inf-Inf meet); the answer is then the limit
// of the probabilities, finite and summing to one, never NaN.
func TestLinearOverflow(t *testing.T) {
	t.Parallel()
	const big = math.MaxFloat64
	soft, err := Load(testManifest(FormatLinear, "linear-softmax.json", three...), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	logit, err := Load(testManifest(FormatLinear, "linear-logistic.json", "no", "yes"), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		e    Engine
		x    []float64
		want []float64
	}{
		{name: "softmax with overflowing scores picks the largest", e: soft, x: []float64{big, -big, big / 2, 0}, want: []float64{1, 0, 0}},
		{name: "softmax with tied overflowing scores splits", e: soft, x: []float64{big, big, -big, 0}, want: []float64{0.5, 0.5, 0}},
		{name: "softmax where every score overflows negatively", e: soft, x: []float64{-big, -big / 2, -big, 0}, want: []float64{0, 1, 0}},
		// 1*x0 - 1*x1 is Inf-Inf = NaN in plain arithmetic.
		{name: "logistic of Inf-Inf takes the scaled sign", e: logit, x: []float64{big, big / 2, 0, 0}, want: []float64{0, 1}},
		{name: "logistic of a negative overflow", e: logit, x: []float64{-big, big, 0, 0}, want: []float64{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := make([]float64, len(tt.want))
			tt.e.Predict(tt.x, 1, out)
			for i := range out {
				if math.IsNaN(out[i]) || !near(out[i], tt.want[i]) {
					t.Fatalf("got %v, want %v", out, tt.want)
				}
			}
		})
	}
}
