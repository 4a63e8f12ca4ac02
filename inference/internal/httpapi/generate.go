package httpapi

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// generation is one chat or plain completion request, decoded.
type generation struct {
	// op is the OpenTelemetry gen_ai.operation.name: chat or
	// text_completion.
	op string
	// model is the body's model member: "<name>" or "<name>:<version>".
	model string
	req   llm.Request
	// limit is the completion length asked for, 0 for the model's default.
	limit int
	// promptPointer locates the prompt in the body, for context problems.
	promptPointer string
	stream        bool
	includeUsage  bool
	shape         shape
}

// shape builds the answer objects of one route; id, created and model are
// the same on every chunk of a stream.
type shape struct {
	// open is the event that starts a stream, nil for none.
	open func(meta) any
	// piece carries one piece of generated text.
	piece func(m meta, text string) any
	// finish carries the finish reason, after the last piece.
	finish func(m meta, reason string) any
	// usage is the include_usage event: empty choices and the usage.
	usage func(m meta, u *openai.Usage) any
	// whole is the non-streamed answer.
	whole func(m meta, text, reason string, u *openai.Usage) any
}

// meta is what every answer object of one request repeats.
type meta struct {
	id      string
	created int64
	model   string
}

// genStats feed the access log and the gen_ai metrics.
type genStats struct {
	start, first, end time.Time
	prompt, output    int
}

// generate resolves the model, checks the prompt against its context
// window, and answers with the whole completion or a stream of events.
//
// Errors before the first piece of text is sent are returned, so the client
// gets a proper status (an upstream's 429 with its Retry-After included). A
// failure after that can only be reported inside the stream, as
// data: {"error": {...}}, after which the stream ends without [DONE].
func (s *Server) generate(w http.ResponseWriter, r *http.Request, g *generation) error {
	info := infoFrom(r.Context())
	v, err := s.llmVersion(w, r, info, g.model)
	if err != nil {
		return err
	}
	gen := v.Generator
	prompt, err := llm.Prepare(gen, &g.req, g.limit)
	var ce *llm.ContextError
	if errors.As(err, &ce) {
		return contextProblem(g.promptPointer, ce.Detail)
	}
	if err != nil {
		return err
	}

	st := genStats{start: s.cfg.Now(), prompt: prompt}
	m := meta{id: info.id, created: st.start.Unix(), model: v.Name() + ":" + v.ID()}
	defer func() {
		st.end = s.cfg.Now()
		info.promptTokens, info.completionTokens = st.prompt, st.output
		s.metrics.recordGeneration(r.Context(), g.op, info, st)
	}()
	if !g.stream {
		return s.generateWhole(w, r, g, gen, m, &st)
	}
	return s.generateStream(w, r, g, gen, m, &st)
}

func (s *Server) generateWhole(w http.ResponseWriter, r *http.Request, g *generation, gen llm.Generator, m meta, st *genStats) error {
	text, res, err := llm.Complete(r.Context(), gen, g.req, func() { st.first = s.cfg.Now() })
	if err != nil {
		return err
	}
	u := usageOf(res, st)
	return writeJSON(w, http.StatusOK, g.shape.whole(m, text, llm.Finish(res), u))
}

func (s *Server) generateStream(w http.ResponseWriter, r *http.Request, g *generation, gen llm.Generator, m meta, st *genStats) error {
	ev := newSSE(w)
	begin := func() error {
		if ev.started {
			return nil
		}
		if g.shape.open == nil {
			ev.start()
			return nil
		}
		return ev.event(g.shape.open(m))
	}
	res, err := gen.Generate(r.Context(), g.req, func(text string) error {
		if text == "" {
			return nil
		}
		if st.first.IsZero() {
			st.first = s.cfg.Now()
		}
		if err := begin(); err != nil {
			return err
		}
		return ev.event(g.shape.piece(m, text))
	})
	switch {
	case err != nil && !ev.started:
		return err
	case err != nil:
		if ev.err == nil && r.Context().Err() == nil {
			_ = ev.data(s.streamProblem(r, err))
		} else {
			// The client went away: nothing can reach it.
			s.problemFor(r, cmp.Or(r.Context().Err(), ev.err))
		}
		return nil
	}
	u := usageOf(res, st)
	_ = begin()
	_ = ev.event(g.shape.finish(m, llm.Finish(res)))
	if g.includeUsage {
		_ = ev.event(g.shape.usage(m, u))
	}
	_ = ev.data([]byte(openai.Done))
	return nil
}

// llmVersion resolves the body's model ("<name>" or "<name>:<version>";
// the x-model-version header wins) to a served text-generation version.
func (s *Server) llmVersion(w http.ResponseWriter, r *http.Request, info *reqInfo, model string) (*registry.Version, error) {
	name, version, _ := strings.Cut(model, ":")
	v, err := s.reg.Load().Resolve(name, versionChoice(r, version))
	if err != nil {
		return nil, err
	}
	resolved(w, info, v)
	if v.Generator == nil {
		return nil, &problem.Problem{
			Type: problem.TypeWrongModelKind, Status: http.StatusBadRequest, Title: "Model does not serve this route",
			Detail:       fmt.Sprintf("model %q version %q does not generate text; use /v2/predict", v.Name(), v.ID()),
			Errors:       []problem.Violation{{Pointer: "/model", Detail: "not a text-generation model"}},
			Model:        v.Name(),
			ModelVersion: v.ID(),
		}
	}
	return v, nil
}

// usageOf takes the generator's counts; a prompt count of 0 (an upstream
// that reports none) falls back to the one counted before generation.
func usageOf(res llm.Result, st *genStats) *openai.Usage {
	if res.PromptTokens > 0 {
		st.prompt = res.PromptTokens
	}
	st.output = res.CompletionTokens
	return openai.NewUsage(st.prompt, st.output)
}
