package llm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/catalog"
)

// generate runs req and returns the emitted text.
func generate(t *testing.T, g Generator, req Request) (string, Result) {
	t.Helper()
	var b strings.Builder
	res, err := g.Generate(t.Context(), req, func(s string) error {
		require.True(t, utf8.ValidString(s), "piece %q", s)
		b.WriteString(s)
		return nil
	})
	require.NoError(t, err)
	return b.String(), res
}

func TestGenerate_seededSamplingIsReproducible(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	req := Request{Prompt: "And the LORD said", Params: Params{MaxTokens: 40, Temperature: 1, TopP: 0.9, Seed: 3, HasSeed: true}}
	a, ra := generate(t, m, req)
	b, rb := generate(t, m, req)
	require.Equal(t, a, b)
	require.Equal(t, ra, rb)
	req.Params.Seed = 4
	c, _ := generate(t, m, req)
	require.NotEqual(t, a, c, "another seed, another text")
}

func TestGenerate_greedyIgnoresTheSeed(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	req := Request{Messages: []Message{{Role: "user", Content: "Who made the heaven and the earth?"}}, Params: Params{MaxTokens: 30}}
	a, _ := generate(t, m, req)
	req.Params.Seed, req.Params.HasSeed = 99, true
	b, _ := generate(t, m, req)
	require.Equal(t, a, b)
	require.NotEmpty(t, a)
}

func TestGenerate_maxTokensEndsWithLength(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	// Mid-word, the next three bytes cannot end the verse.
	text, res := generate(t, m, Request{Prompt: "In the begi", Params: Params{MaxTokens: 3}})
	require.Equal(t, FinishLength, res.Finish)
	require.Equal(t, 3, res.CompletionTokens)
	require.Len(t, text, 3)
	require.Equal(t, len("In the begi"), res.PromptTokens)
}

func TestGenerate_endOfTextEndsWithStop(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	// Sampled replies end with the model's own end-of-text (greedy
	// decoding of so small a model tends to loop instead).
	for seed := range uint64(8) {
		req := Request{
			Messages: []Message{{Role: "user", Content: "The LORD is my shepherd"}},
			Params:   Params{MaxTokens: 64, Temperature: 0.8, TopP: 0.95, Seed: seed, HasSeed: true},
		}
		text, res := generate(t, m, req)
		if res.Finish == FinishStop {
			require.Less(t, res.CompletionTokens, 64)
			require.Equal(t, len(text)+1, res.CompletionTokens, "the end-of-text id is counted, not emitted")
			return
		}
	}
	t.Fatal("no sampled reply ended by itself")
}

func TestGenerate_stopString(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	req := Request{Prompt: "And the LORD spake unto Moses, saying,", Params: Params{MaxTokens: 60}}
	full, _ := generate(t, m, req)
	require.Greater(t, len(full), 12)
	stop := full[8:11]
	want := full[:strings.Index(full, stop)]
	req.Params.Stop = []string{"never in the text \x00", stop}
	text, res := generate(t, m, req)
	require.Equal(t, want, text)
	require.Equal(t, FinishStop, res.Finish)
	require.Equal(t, len(want)+len(stop), res.CompletionTokens, "the stop string's tokens were generated")
}

func TestGenerate_cancelStopsGeneration(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pieces := 0
	res, err := m.Generate(ctx, Request{Prompt: "And", Params: Params{MaxTokens: 100, Temperature: 1, Seed: 1, HasSeed: true}},
		func(string) error {
			pieces++
			if pieces == 2 {
				cancel() // the client went away
			}
			return nil
		})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 2, pieces)
	require.Equal(t, 2, res.CompletionTokens, "no token after the cancel")

	// A context done before the start evaluates nothing.
	res, err = m.Generate(ctx, Request{Prompt: "And"}, func(string) error { return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, res.CompletionTokens)
}

func TestGenerate_emitErrorIsReturned(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	boom := errors.New("write failed")
	_, err := m.Generate(t.Context(), Request{Prompt: "And"}, func(string) error { return boom })
	require.ErrorIs(t, err, boom)
}

func TestGenerate_truncatesLongPromptsFromTheLeft(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	long := strings.Repeat("and it came to pass, ", 40)
	for _, maxTokens := range []int{0, 1, 10, m.MaxOutputTokens()} {
		req := Request{Prompt: long, Params: Params{MaxTokens: maxTokens}}
		n, err := m.CountPromptTokens(req)
		require.NoError(t, err)
		want := m.ContextLength() - m.MaxOutputTokens()
		if maxTokens > 0 {
			want = m.ContextLength() - maxTokens
		}
		require.Equal(t, want, n)
		_, res := generate(t, m, req)
		require.Equal(t, n, res.PromptTokens, "what is counted is what is evaluated")
		require.LessOrEqual(t, res.PromptTokens+res.CompletionTokens, m.ContextLength())
	}
}

func TestGenerate_concurrentStreamsAgree(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	req := Request{Prompt: "Blessed are", Params: Params{MaxTokens: 30, Temperature: 0.8, Seed: 11, HasSeed: true}}
	want, _ := generate(t, m, req)
	var wg sync.WaitGroup
	got := make([]string, 4)
	for i := range got {
		wg.Go(func() {
			var b strings.Builder
			_, err := m.Generate(t.Context(), req, func(s string) error { b.WriteString(s); return nil })
			if err == nil {
				got[i] = b.String()
			}
		})
	}
	wg.Wait()
	for _, g := range got {
		require.Equal(t, want, g)
	}
}

func TestGenerate_allocatesPerGenerationNotPerToken(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := loadScribe(t)
	allocs := func(n int) float64 {
		req := Request{Prompt: "In the begi", Params: Params{MaxTokens: n, Temperature: 1, Seed: 5, HasSeed: true}}
		return testing.AllocsPerRun(5, func() {
			_, _ = m.Generate(context.Background(), req, func(string) error { return nil })
		})
	}
	few, many := allocs(2), allocs(100)
	t.Logf("allocs: %.0f for 2 tokens, %.0f for 100", few, many)
	require.LessOrEqual(t, many, few+2)
}

func TestGenerate_fullContextEndsWithLength(t *testing.T) {
	t.Parallel()
	man, err := catalog.LoadManifest(scribeDir, "scribe", "1")
	require.NoError(t, err)
	g := *man.Generation
	g.MaxOutputTokens = g.ContextLength // max_tokens may ask for the whole window
	man.Generation = &g
	m, err := loadModel(scribeDir, man)
	require.NoError(t, err)
	req := Request{Prompt: strings.Repeat("and ", 100), Params: Params{MaxTokens: m.ContextLength()}}
	n, err := m.CountPromptTokens(req)
	require.NoError(t, err)
	require.Equal(t, 1, n, "one prompt token is always kept")
	// Greedy decoding of "and" loops and never ends the verse by itself.
	_, res := generate(t, m, req)
	require.Equal(t, FinishLength, res.Finish)
	require.Equal(t, m.ContextLength(), res.PromptTokens+res.CompletionTokens, "prompt and completion fill the window")
}
