package llm

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkGenerate measures the built-in model end to end (chat template,
// prefill, sampling, stop handling) for one stream and for four streams
// generating at once. Each op is one completion per stream; tokens/s is
// completion tokens over wall time for all streams together, ttft-ms the
// mean time from the call to the first emitted text.
func BenchmarkGenerate(b *testing.B) {
	m := loadScribe(b)
	req := Request{
		Messages: []Message{{Role: "user", Content: "And the LORD spake unto Moses, saying, Speak unto the children of Israel"}},
		Params:   Params{MaxTokens: 64, Temperature: 0.8, TopP: 0.95, Seed: 1, HasSeed: true, Stop: []string{"Amen."}},
	}
	for _, streams := range []int{1, 4} {
		b.Run("streams="+strconv.Itoa(streams), func(b *testing.B) {
			var (
				mu     sync.Mutex
				tokens int
				ttft   time.Duration
				firsts int
			)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				var wg sync.WaitGroup
				for range streams {
					wg.Go(func() {
						t0 := time.Now()
						var first time.Duration
						res, err := m.Generate(context.Background(), req, func(string) error {
							if first == 0 {
								first = time.Since(t0)
							}
							return nil
						})
						if err != nil {
							b.Error(err)
						}
						mu.Lock()
						tokens += res.CompletionTokens
						if first > 0 {
							ttft += first
							firsts++
						}
						mu.Unlock()
					})
				}
				wg.Wait()
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(tokens)/elapsed.Seconds(), "tokens/s")
			if firsts > 0 {
				b.ReportMetric(float64(ttft.Microseconds())/1000/float64(firsts), "ttft-ms")
			}
		})
	}
}

// BenchmarkStep is one decoding step at position 128: the forward pass
// of one token with half the context cached.
func BenchmarkStep(b *testing.B) {
	m := loadScribe(b)
	s := m.newState()
	for p := range 128 {
		m.step(s, 'a', p)
	}
	for b.Loop() {
		m.step(s, 'a', 128)
	}
}

// BenchmarkPrefill is the forward pass of a 128-token prompt.
func BenchmarkPrefill(b *testing.B) {
	m := loadScribe(b)
	s := m.newState()
	prompt := make([]int32, 128)
	for i := range prompt {
		prompt[i] = int32('a' + i%26)
	}
	for b.Loop() {
		if err := m.prefill(context.Background(), s, prompt); err != nil {
			b.Fatal(err)
		}
	}
}
