package llm

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// samplerState is a state with only what sample uses.
func samplerState(logits []float32) *state {
	m := &Model{cfg: config{vocab: len(logits), ctx: 1, layers: 1, dim: 2, heads: 1, hidden: 1}}
	s := m.newState()
	copy(s.logits, logits)
	return s
}

func TestSample_greedy(t *testing.T) {
	t.Parallel()
	s := samplerState([]float32{0.5, 2, -1, 2, 1.5})
	for _, seed := range []uint64{1, 2, 3} {
		s.seed(Params{Seed: seed, HasSeed: true})
		require.Equal(t, int32(1), s.sample(Params{}), "the lowest id among equal maxima")
	}
}

func TestSample_seedReproducible(t *testing.T) {
	t.Parallel()
	logits := make([]float32, 64)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)))
	}
	draw := func(seed uint64) []int32 {
		s := samplerState(logits)
		p := Params{Temperature: 1, TopP: 0.95, Seed: seed, HasSeed: true}
		s.seed(p)
		out := make([]int32, 50)
		for i := range out {
			out[i] = s.sample(p)
		}
		return out
	}
	require.Equal(t, draw(7), draw(7))
	require.NotEqual(t, draw(7), draw(8))
}

func TestSample_topPRestrictsSupport(t *testing.T) {
	t.Parallel()
	// Probabilities 0.5, 0.25, 0.125, 0.125: top_p 0.7 keeps ids 0 and 1.
	l2 := float32(math.Ln2)
	s := samplerState([]float32{3 * l2, 2 * l2, l2, l2})
	p := Params{Temperature: 1, TopP: 0.7, Seed: 42, HasSeed: true}
	s.seed(p)
	counts := map[int32]int{}
	for range 4000 {
		counts[s.sample(p)]++
	}
	require.Len(t, counts, 2, "only the nucleus is sampled: %v", counts)
	require.InDelta(t, 2.0/3, float64(counts[0])/4000, 0.04, "renormalised inside the nucleus")

	// Without top_p every id appears.
	p.TopP = 1
	counts = map[int32]int{}
	for range 4000 {
		counts[s.sample(p)]++
	}
	require.Len(t, counts, 4)
}

func TestSample_temperatureSharpens(t *testing.T) {
	t.Parallel()
	s := samplerState([]float32{1, 0})
	frac := func(temp float64) float64 {
		p := Params{Temperature: temp, Seed: 1, HasSeed: true}
		s.seed(p)
		n := 0
		for range 4000 {
			if s.sample(p) == 0 {
				n++
			}
		}
		return float64(n) / 4000
	}
	require.InDelta(t, 1/(1+math.Exp(-1)), frac(1), 0.03)
	require.Greater(t, frac(0.1), 0.99)
}
