package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/catalog"
)

// fakeGen is a Generator that emits fixed pieces, then fails with err or,
// when forever is set, keeps emitting until its context ends.
type fakeGen struct {
	pieces  []string
	finish  string
	err     error
	forever bool
	ctxLen  int
	maxOut  int
	// prompt is what CountPromptTokens answers; 0 counts content bytes.
	prompt int
	// wrapped, when set, does the generating instead.
	wrapped llm.Generator
	// delay is slept before each piece.
	delay time.Duration

	mu     sync.Mutex
	got    []llm.Request
	ctxErr chan error // receives ctx.Err() when a forever run ends
}

var _ llm.Generator = (*fakeGen)(nil)

func (f *fakeGen) ContextLength() int   { return f.ctxLen }
func (f *fakeGen) MaxOutputTokens() int { return f.maxOut }

func (f *fakeGen) CountPromptTokens(req llm.Request) (int, error) {
	if f.prompt != 0 {
		return f.prompt, nil
	}
	n := len(req.Prompt)
	for _, m := range req.Messages {
		n += len(m.Content)
	}
	return n, nil
}

func (f *fakeGen) Generate(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
	f.mu.Lock()
	f.got = append(f.got, req)
	f.mu.Unlock()
	if f.wrapped != nil {
		return f.wrapped.Generate(ctx, req, emit)
	}
	prompt, _ := f.CountPromptTokens(req)
	res := llm.Result{PromptTokens: prompt, Finish: f.finish}
	for _, p := range f.pieces {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(f.delay):
		}
		if err := emit(p); err != nil {
			return res, err
		}
		res.CompletionTokens += len(p)
	}
	if f.forever {
		for {
			select {
			case <-ctx.Done():
				f.ctxErr <- ctx.Err()
				return res, ctx.Err()
			case <-time.After(time.Millisecond):
			}
			if err := emit("x"); err != nil {
				f.ctxErr <- ctx.Err()
				return res, err
			}
		}
	}
	return res, f.err
}

func (f *fakeGen) last(t *testing.T) llm.Request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(t, f.got, "the generator ran")
	return f.got[len(f.got)-1]
}

const llmCatalog = `
default_model: iris
models:
  iris:
    versions: ["1", "2"]
    aliases: {latest: "2", stable: "1"}
  scribe:
    kind: llm
    versions: ["1", "2"]
    aliases: {latest: "2", stable: "1"}
`

// newLLMServer serves the committed iris versions and the text model
// scribe, whose versions 1 and 2 are the given generators. The clock stands
// still at testNow.
func newLLMServer(t testing.TB, g1, g2 *fakeGen, meter metric.Meter, metricsHandler http.Handler) *Server {
	t.Helper()
	disk, err := registry.Load(catalogPath, nil)
	require.NoError(t, err)
	cat, err := catalog.Parse([]byte(llmCatalog))
	require.NoError(t, err)
	var versions []*registry.Version
	for _, v := range disk.Versions() {
		if v.Name() == "iris" {
			versions = append(versions, v)
		}
	}
	text := func(version string, g *fakeGen) *registry.Version {
		return &registry.Version{Generator: g, Manifest: &catalog.Manifest{
			Name: "scribe", Version: version, Format: "fake", Created: "2026-12-03",
			Output:     catalog.Output{Kind: catalog.KindText, Name: "text"},
			Generation: &catalog.Generation{ContextLength: g.ctxLen, VocabSize: 256, Tokenizer: catalog.TokenizerBytes, MaxOutputTokens: g.maxOut},
		}}
	}
	versions = append(versions, text("1", g1), text("2", g2))
	var p atomic.Pointer[registry.Registry]
	p.Store(registry.New(cat, versions...))
	var ready atomic.Bool
	ready.Store(true)
	if meter == nil {
		meter = noop.NewMeterProvider().Meter("test")
	}
	cfg := Config{MaxBatchRows: 1000, MaxBodyBytes: 1 << 20, BuildVersion: "test", Now: func() time.Time { return testNow }}
	s, err := New(cfg, &p, &ready, slog.New(slog.NewTextHandler(io.Discard, nil)), meter, metricsHandler)
	require.NoError(t, err)
	return s
}

var testNow = time.Unix(1_790_000_000, 0)

func newGen(pieces ...string) *fakeGen {
	return &fakeGen{pieces: pieces, finish: llm.FinishStop, ctxLen: 256, maxOut: 64, ctxErr: make(chan error, 1)}
}
