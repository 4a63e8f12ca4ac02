package llm

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// seedStream is the PCG stream constant; with it a request's seed alone
// fixes the sequence of draws.
const seedStream = 0x5c71be

// seed prepares the state's generator: the request's seed when it has one,
// fresh randomness otherwise.
func (s *state) seed(p Params) {
	seed := p.Seed
	if !p.HasSeed {
		seed = rand.Uint64()
	}
	s.pcg.Seed(seed, seedStream)
}

// sample picks the next token from s.logits. Temperature 0 is greedy (the
// lowest id among equal maxima). Otherwise the logits are divided by the
// temperature and softmaxed; with top_p in (0, 1) only the most probable
// tokens whose probabilities first reach top_p together stay candidates
// (ties broken by lower id), renormalised; one uniform draw picks among
// the candidates in that order. The same seed, logits and settings always
// pick the same token.
func (s *state) sample(p Params) int32 {
	logits := s.logits
	if p.Temperature <= 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	maxv := math.Inf(-1)
	for _, v := range logits {
		maxv = max(maxv, float64(v))
	}
	probs := s.probs[:len(logits)]
	order := s.order[:len(logits)]
	var sum float64
	for i, v := range logits {
		e := math.Exp((float64(v) - maxv) / p.Temperature)
		probs[i] = e
		sum += e
		order[i] = int32(i)
	}
	n := len(order)
	if p.TopP > 0 && p.TopP < 1 {
		slices.SortFunc(order, func(a, b int32) int {
			if c := cmp.Compare(probs[b], probs[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		var acc float64
		want := p.TopP * sum
		for i, id := range order {
			acc += probs[id]
			if acc >= want {
				n = i + 1
				break
			}
		}
		sum = acc
	}
	u := s.rng.Float64() * sum
	var acc float64
	for _, id := range order[:n] {
		acc += probs[id]
		if u < acc {
			return id
		}
	}
	// Rounding can leave u a hair above the last partial sum.
	return order[n-1]
}
