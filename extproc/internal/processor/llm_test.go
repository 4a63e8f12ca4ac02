package processor_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/testutil"
)

const llmCatalog = `default_model: iris
models:
  iris: {versions: ["1"]}
  scribe: {kind: llm, versions: ["1", "2"], aliases: {latest: "2", stable: "1"}}
`

// generations gives every scribe version the byte tokenizer and a
// 200-token completion limit.
type generations struct{}

func (generations) Generation(_ *catalog.Catalog, model, _ string) *catalog.Generation {
	if model != "scribe" {
		return nil
	}
	return &catalog.Generation{ContextLength: 256, VocabSize: 257, Tokenizer: catalog.TokenizerBytes, MaxOutputTokens: 200}
}

type llmEnv struct {
	chat, completions, models, jobs processor.Factory
	adm                             *processor.Admission
	quota                           *quotaCalls
	clock                           *testutil.Clock
}

func newLLMEnv(t *testing.T) *llmEnv {
	return newLLMEnvScoped(t, scopes{"k-acme": "*", "k-iris": "iris"})
}

func newLLMEnvScoped(t *testing.T, sc scopes) *llmEnv { return newLLMEnvWith(t, sc, false) }

// newLLMEnvWith is newLLMEnvScoped with LLMConfig.LeanStream set to lean.
func newLLMEnvWith(t *testing.T, sc scopes, lean bool) *llmEnv {
	t.Helper()
	c, err := catalog.Parse([]byte(llmCatalog))
	require.NoError(t, err)
	clock := testutil.NewClock(epoch)
	q := &quotaCalls{}
	adm := processor.NewAdmission(processor.AdmissionConfig{Keys: keys{}, Scopes: sc, Quota: q, Now: clock.Now})
	cfg := processor.LLMConfig{
		Catalog: staticCatalog{c}, Generations: generations{}, Validator: newValidator(t),
		MaxTokens: map[string]int{"free": 16, "pro": 512}, MaxBodyBytes: 4096, Now: clock.Now, LeanStream: lean,
	}
	jobs := processor.NewJobs(processor.PredictConfig{Catalog: staticCatalog{c}, Validator: newValidator(t), Now: clock.Now},
		processor.Limits{MaxBodyBytes: 8192, MaxRows: 10}, cfg, adm)
	return &llmEnv{chat: processor.NewChatCompletions(cfg, adm), completions: processor.NewCompletions(cfg, adm),
		models: processor.NewModels(adm), jobs: jobs, adm: adm, quota: q, clock: clock}
}

func (e *llmEnv) start(t *testing.T, f processor.Factory, h *extprocv3.HttpHeaders) (*processor.Request, processor.Processor) {
	t.Helper()
	r := processor.NewRequest(e.clock.Now())
	require.NoError(t, e.adm.ReadHeaders(t.Context(), r, h))
	p := f(r)
	t.Cleanup(p.Close)
	resp, err := p.RequestHeaders(t.Context(), h)
	require.NoError(t, err)
	require.NotNil(t, resp.GetRequestHeaders())
	return r, p
}

// sentBody is the body Envoy forwards after a request_body answer.
func sentBody(t *testing.T, resp *extprocv3.ProcessingResponse) map[string]any {
	t.Helper()
	b := resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()
	require.NotNil(t, b, "the gateway rewrote the body")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	l, ok := headerValue(resp.GetRequestBody().GetResponse().GetHeaderMutation(), header.ContentLength)
	require.True(t, ok)
	require.Equal(t, len(b), atoi(t, l), "content-length follows the new body")
	return doc
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	require.NoError(t, json.Unmarshal([]byte(s), &n))
	return n
}

// sse answers response headers of a 200 event stream.
func sse() *extprocv3.HttpHeaders {
	return headers(false, header.Status, "200", header.ContentType, "text/event-stream; charset=utf-8")
}

func chunk(s string, eos bool) *extprocv3.HttpBody {
	return &extprocv3.HttpBody{Body: []byte(s), EndOfStream: eos}
}

func charge(resp *extprocv3.ProcessingResponse) (string, bool) {
	ns := resp.GetDynamicMetadata().GetFields()[processor.TokensNamespace].GetStructValue()
	v, ok := ns.GetFields()[processor.TokensCharge]
	return v.GetStringValue(), ok
}

const (
	roleChunk  = `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]}` + "\n\n"
	textChunk  = `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"In the beginning"}}]}` + "\n\n"
	stopChunk  = `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	usageChunk = `data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":16,"total_tokens":46}}` + "\n\n"
	doneChunk  = "data: [DONE]\n\n"
)

func TestChat_streamAdmitsShapesAndCharges(t *testing.T) {
	t.Parallel()
	e := newLLMEnv(t)
	r, p := e.start(t, e.chat, post("/v1/chat/completions", "key-acme"))
	resp, err := p.RequestBody(t.Context(), body(`{"model":"scribe:stable","stream":true,"messages":[{"role":"user","content":"Who made the light?"}]}`))
	require.NoError(t, err)

	// One quota call: the request quotas and the prompt's 19 bytes of the
	// token quotas.
	calls := e.quota.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, quota.Descriptors(quota.Subject{Client: "acme", Tier: "pro", Model: "scribe", Version: "1", Tokens: 19}), calls[0])
	require.Equal(t, 19, r.Tokens.Reserved)

	doc := sentBody(t, resp)
	require.EqualValues(t, 200, doc["max_tokens"], "no length asked: the model's limit (below the pro cap)")
	require.Equal(t, map[string]any{"include_usage": true}, doc["stream_options"], "the gateway asks for usage")
	m := resp.GetRequestBody().GetResponse()
	require.True(t, m.GetClearRouteCache())
	v, _ := headerValue(m.GetHeaderMutation(), header.ModelVersion)
	require.Equal(t, "1", v)

	hr, err := p.ResponseHeaders(t.Context(), sse())
	require.NoError(t, err)
	require.Equal(t, extprocfilterv3.ProcessingMode_STREAMED, hr.GetModeOverride().GetResponseBodyMode())

	// Events pass whole: a split event is held until its end arrives,
	// and the usage chunk the client did not ask for is blanked (a
	// comment of its length).
	var got strings.Builder
	pass := func(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
		resp, err := p.ResponseBody(t.Context(), b)
		require.NoError(t, err)
		if mut := resp.GetResponseBody().GetResponse().GetBodyMutation(); mut != nil {
			got.Write(mut.GetBody())
		} else {
			got.Write(b.GetBody())
		}
		return resp
	}
	pass(chunk(roleChunk+textChunk[:40], false))
	require.Equal(t, roleChunk, got.String(), "the split event is held")
	pass(chunk(textChunk[40:]+stopChunk, false))
	last := pass(chunk(usageChunk+doneChunk, true))
	require.Equal(t, roleChunk+textChunk+stopChunk+blank(usageChunk)+doneChunk, got.String())

	c, ok := charge(last)
	require.True(t, ok)
	require.Equal(t, "27", c, "16 completion tokens and the 11 prompt tokens (chat template) beyond the 19 reserved")
	require.Equal(t, processor.Tokens{Reserved: 19, Prompt: 30, Completion: 16}, r.Tokens)
}

func TestChat_clientUsagePassesThrough(t *testing.T) {
	t.Parallel()
	e := newLLMEnv(t)
	_, p := e.start(t, e.chat, post("/v1/chat/completions", "key-acme"))
	resp, err := p.RequestBody(t.Context(), body(`{"model":"scribe","stream":true,"stream_options":{"include_usage":true},"max_tokens":20,"messages":[{"role":"user","content":[{"type":"text","text":"abc"}]}]}`))
	require.NoError(t, err)
	require.Nil(t, resp.GetRequestBody().GetResponse().GetBodyMutation(), "nothing to change: the body goes as sent")
	_, err = p.ResponseHeaders(t.Context(), sse())
	require.NoError(t, err)
	for _, c := range []string{roleChunk, textChunk + stopChunk} {
		resp, err := p.ResponseBody(t.Context(), chunk(c, false))
		require.NoError(t, err)
		require.Nil(t, resp.GetResponseBody().GetResponse().GetBodyMutation())
	}
	last, err := p.ResponseBody(t.Context(), chunk(usageChunk+doneChunk, true))
	require.NoError(t, err)
	require.Nil(t, last.GetResponseBody().GetResponse().GetBodyMutation(), "the client asked for the usage chunk: it stays")
	c, _ := charge(last)
	require.Equal(t, "43", c, "16 + (30 - 3 reserved)")
}

func TestChat_tierCapAndJSONAnswer(t *testing.T) {
	t.Parallel()
	e := newLLMEnv(t)
	r, p := e.start(t, e.completions, post("/v1/completions", "key-acme"))
	resp, err := p.RequestBody(t.Context(), body(`{"model":"scribe","prompt":"Let there be","max_completion_tokens":5000}`))
	require.NoError(t, err)
	doc := sentBody(t, resp)
	require.EqualValues(t, 200, doc["max_completion_tokens"], "asked above the limit: capped, in the member the client used")
	require.NotContains(t, doc, "max_tokens")
	require.Equal(t, 12, r.Tokens.Reserved)

	hr, err := p.ResponseHeaders(t.Context(), headers(false, header.Status, "200", header.ContentType, header.MediaJSON))
	require.NoError(t, err)
	require.Equal(t, extprocfilterv3.ProcessingMode_BUFFERED, hr.GetModeOverride().GetResponseBodyMode())
	last, err := p.ResponseBody(t.Context(), body(`{"id":"x","object":"text_completion","choices":[{"index":0,"text":" light"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}`))
	require.NoError(t, err)
	c, _ := charge(last)
	require.Equal(t, "6", c)

	// key-iris is a free key, capped at 16 tokens; a request naming no
	// length is given the cap.
	free := newLLMEnvScoped(t, scopes{"k-iris": "scribe"})
	_, p = free.start(t, free.chat, post("/v1/chat/completions", "key-iris"))
	resp, err = p.RequestBody(t.Context(), body(`{"model":"scribe","messages":[{"role":"user","content":"x"}]}`))
	require.NoError(t, err)
	require.EqualValues(t, 16, sentBody(t, resp)["max_tokens"])
}

func TestChat_refusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, body string
		want            any
		pointer         string
	}{
		{"tabular model", "key-acme", `{"model":"iris","messages":[{"role":"user","content":"x"}]}`, &policy.ViolationsError{}, "/model"},
		{"no model", "key-acme", `{"messages":[{"role":"user","content":"x"}]}`, &policy.ViolationsError{}, "/model"},
		{"unknown model", "key-acme", `{"model":"tulip","messages":[]}`, &catalog.UnknownModelError{}, ""},
		{"unknown version", "key-acme", `{"model":"scribe:9","messages":[]}`, &catalog.UnknownVersionError{}, ""},
		{"scope before anything about the model", "key-iris", `{"model":"scribe:9","messages":[]}`, &processor.ForbiddenError{}, ""},
		{"no messages", "key-acme", `{"model":"scribe","messages":[]}`, &policy.ViolationsError{}, "/messages"},
		{"bad part", "key-acme", `{"model":"scribe","messages":[{"role":"user","content":[1]}]}`, &policy.ViolationsError{}, "/messages/0/content/0"},
		{"bad max_tokens", "key-acme", `{"model":"scribe","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, &policy.ViolationsError{}, "/max_tokens"},
		{"case-variant members", "key-acme", `{"model":"scribe","Model":"iris","messages":[{"role":"user","content":"x"}]}`, &policy.ViolationsError{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newLLMEnv(t)
			_, p := e.start(t, e.chat, post("/v1/chat/completions", tt.key))
			_, err := p.RequestBody(t.Context(), body(tt.body))
			require.Error(t, err)
			// errors.As into a new variable of want's own type (want is
			// an any, which every error would match).
			target := reflect.New(reflect.TypeOf(tt.want))
			require.True(t, errors.As(err, target.Interface()), "got %T %v, want %T", err, err, tt.want)
			if v, ok := target.Elem().Interface().(*policy.ViolationsError); ok && tt.pointer != "" {
				require.Equal(t, tt.pointer, v.Violations[0].Pointer)
			}
			// Refused by the decoder or for a missing model: the stream
			// loop's error answer counts those; the rest are counted here.
			if !strings.Contains(tt.name, "case-variant") && tt.name != "no model" {
				require.Len(t, e.quota.Calls(), 1, "counted once, refused or not")
			}
		})
	}
}

func TestModels_scopedToTheKey(t *testing.T) {
	t.Parallel()
	e := newLLMEnv(t)
	get := func(path, key string) *extprocv3.HttpHeaders {
		return headers(true, header.Method, "GET", header.Path, path, header.APIKey, key, header.RequestID, "req-1")
	}
	_, p := e.start(t, e.models, get("/v1/models", "key-iris"))
	hr, err := p.ResponseHeaders(t.Context(), headers(false, header.Status, "200", header.ContentType, header.MediaJSON, header.ContentLength, "120"))
	require.NoError(t, err)
	require.Equal(t, extprocfilterv3.ProcessingMode_BUFFERED, hr.GetModeOverride().GetResponseBodyMode())
	resp, err := p.ResponseBody(t.Context(), body(`{"object":"list","data":[{"id":"scribe","object":"model"},{"id":"scribe:1","object":"model"},{"id":"iris","object":"model"}]}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"object":"list","data":[{"id":"iris","object":"model"}]}`, string(resp.GetResponseBody().GetResponse().GetBodyMutation().GetBody()))

	r := processor.NewRequest(e.clock.Now())
	h := get("/v1/models/scribe:1", "key-iris")
	require.NoError(t, e.adm.ReadHeaders(t.Context(), r, h))
	_, err = e.models(r).RequestHeaders(t.Context(), h)
	var forbidden *processor.ForbiddenError
	require.ErrorAs(t, err, &forbidden)
}

func TestChat_cutStreamIsChargedForTheTextPassed(t *testing.T) {
	t.Parallel()
	e := newLLMEnv(t)
	_, p := e.start(t, e.chat, post("/v1/chat/completions", "key-acme"))
	_, err := p.RequestBody(t.Context(), body(`{"model":"scribe","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	require.NoError(t, err)
	_, err = p.ResponseHeaders(t.Context(), sse())
	require.NoError(t, err)
	first, err := p.ResponseBody(t.Context(), chunk(roleChunk, false))
	require.NoError(t, err)
	_, ok := charge(first)
	require.False(t, ok, "no text yet, nothing to charge")
	resp, err := p.ResponseBody(t.Context(), chunk(textChunk, false))
	require.NoError(t, err)
	c, ok := charge(resp)
	require.True(t, ok, "every chunk with text updates the running charge")
	require.Equal(t, strconv.Itoa(len("In the beginning")), c, "one token a byte until the usage says otherwise")
	// The client goes away here: Envoy's stream-done call charges the last
	// value left.
}

// TestChat_lengthAsJSONSchemaReadsIt: the document's schema takes null and
// integral numbers such as 8.0 for the completion length; so does the
// gateway, and the model server gets a plain integer.
func TestChat_lengthAsJSONSchemaReadsIt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, length string
		want         int
	}{
		{name: "reads null as no length asked", length: "null", want: 200},
		{name: "reads 8.0 as 8", length: "8.0", want: 8},
		{name: "reads 8e0 as 8", length: "8e0", want: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newLLMEnv(t)
			_, p := e.start(t, e.completions, post("/v1/completions", "key-acme"))
			resp, err := p.RequestBody(t.Context(), body(`{"model":"scribe","prompt":"x","max_tokens":`+tt.length+`}`))
			require.NoError(t, err)
			require.EqualValues(t, tt.want, sentBody(t, resp)["max_tokens"])
		})
	}
	e := newLLMEnv(t)
	_, p := e.start(t, e.completions, post("/v1/completions", "key-acme"))
	_, err := p.RequestBody(t.Context(), body(`{"model":"scribe","prompt":"x","max_tokens":8.5}`))
	require.Error(t, err, "a fraction is no integer")
}
