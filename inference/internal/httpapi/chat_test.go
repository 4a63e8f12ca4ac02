package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/llm"
)

const chatHi = `{"model":"scribe","messages":[{"role":"user","content":"hi"}]`

// chunkPrefix is what every chat chunk of request id req-1 on scribe:2
// starts with.
const chunkPrefix = `data: {"id":"chatcmpl-req-1","object":"chat.completion.chunk","created":1790000000,"model":"scribe:2","choices":`

func postLLM(t *testing.T, s http.Handler, path, body string, hdr ...string) result {
	t.Helper()
	return do(t, s, http.MethodPost, path, header.MediaJSON, body, append([]string{header.RequestID, "req-1"}, hdr...)...)
}

// requireOpenAIProblem checks a problem+json answer that also carries the
// OpenAI error object, and returns that object.
func requireOpenAIProblem(t *testing.T, res result, wantStatus int, wantType string) openai.Error {
	t.Helper()
	e, _ := openAIProblem(t, res, wantStatus, wantType)
	return e
}

// openAIProblem is requireOpenAIProblem that also returns the problem.
func openAIProblem(t *testing.T, res result, wantStatus int, wantType string) (openai.Error, problem.Problem) {
	t.Helper()
	require.Equal(t, wantStatus, res.status, string(res.body))
	require.Equal(t, header.MediaProblemJSON, res.header.Get(header.ContentType))
	body := openai.ProblemBody{Problem: &problem.Problem{}}
	require.NoError(t, json.Unmarshal(res.body, &body), string(res.body))
	p := body.Problem
	require.Equal(t, wantType, p.Type)
	require.Equal(t, wantStatus, p.Status)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.Detail)
	require.Equal(t, res.header.Get(header.RequestID), p.RequestID)
	require.Equal(t, p.Detail, body.Error.Message)
	require.NotEmpty(t, body.Error.Type)
	require.NotNil(t, body.Error.Code)
	return body.Error, *p
}

func TestChatCompletions_whole(t *testing.T) {
	t.Parallel()
	g := newGen("In the ", "beginning")
	s := newLLMServer(t, newGen(), g, nil, nil)
	res := postLLM(t, s, "/v1/chat/completions", chatHi+`,"max_tokens":10,"temperature":0.5,"top_p":0.9,"seed":7,"stop":"\n"}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Equal(t, header.MediaJSON, res.header.Get(header.ContentType))
	require.Equal(t, "2", res.header.Get(header.ModelVersion))
	require.JSONEq(t, `{"id":"chatcmpl-req-1","object":"chat.completion","created":1790000000,"model":"scribe:2",
		"choices":[{"index":0,"message":{"role":"assistant","content":"In the beginning"},"logprobs":null,"finish_reason":"stop"}],
		"usage":{"prompt_tokens":2,"completion_tokens":16,"total_tokens":18}}`, string(res.body))
	require.Equal(t, llm.Request{
		Messages: []llm.Message{{Role: "user", Content: "hi"}},
		Params:   llm.Params{MaxTokens: 10, Temperature: 0.5, TopP: 0.9, Stop: []string{"\n"}, Seed: 7, HasSeed: true},
	}, g.last(t))
}

func TestChatCompletions_stream(t *testing.T) {
	t.Parallel()
	g := newGen("In the ", "beginning")
	s := newLLMServer(t, newGen(), g, nil, nil)
	events := chunkPrefix + `[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
		chunkPrefix + `[{"index":0,"delta":{"content":"In the "},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
		chunkPrefix + `[{"index":0,"delta":{"content":"beginning"},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
		chunkPrefix + `[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}` + "\n\n"
	usage := chunkPrefix + `[],"usage":{"prompt_tokens":2,"completion_tokens":16,"total_tokens":18}}` + "\n\n"
	done := "data: [DONE]\n\n"

	t.Run("sends role, content, finish, usage and DONE when include_usage", func(t *testing.T) {
		t.Parallel()
		res := postLLM(t, s, "/v1/chat/completions", chatHi+`,"stream":true,"stream_options":{"include_usage":true}}`)
		require.Equal(t, http.StatusOK, res.status)
		require.Equal(t, header.MediaEventStream, res.header.Get(header.ContentType))
		require.Equal(t, "no-cache", res.header.Get(header.CacheControl))
		require.Equal(t, "2", res.header.Get(header.ModelVersion))
		require.Equal(t, events+usage+done, string(res.body))
	})
	t.Run("leaves the usage chunk out without include_usage", func(t *testing.T) {
		t.Parallel()
		res := postLLM(t, s, "/v1/chat/completions", chatHi+`,"stream":true}`)
		require.Equal(t, events+done, string(res.body))
	})
}

func TestChatCompletions_errorInStream(t *testing.T) {
	t.Parallel()
	g := newGen("In the ")
	g.err = &llm.UpstreamError{Status: http.StatusInternalServerError, Detail: "boom at 10.0.0.7"}
	s := newLLMServer(t, newGen(), g, nil, nil)
	res := postLLM(t, s, "/v1/chat/completions", chatHi+`,"stream":true,"stream_options":{"include_usage":true}}`)
	require.Equal(t, http.StatusOK, res.status, "the status went out with the first chunk")
	events := strings.Split(strings.TrimSuffix(string(res.body), "\n\n"), "\n\n")
	require.Len(t, events, 3, "role, one piece, then the error; no finish, usage or [DONE]")
	var body openai.ErrorBody
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(events[2], "data: ")), &body))
	require.Equal(t, openai.TypeServer, body.Error.Type)
	require.Equal(t, "upstream_failed", *body.Error.Code)
	require.NotContains(t, body.Error.Message, "10.0.0.7", "upstream internals stay in the logs")
}

func TestChatCompletions_errorBeforeStream(t *testing.T) {
	t.Parallel()
	g := newGen()
	g.err = &llm.UpstreamError{Status: http.StatusTooManyRequests, Detail: "slow down", RetryAfter: 7}
	s := newLLMServer(t, newGen(), g, nil, nil)
	res := postLLM(t, s, "/v1/chat/completions", chatHi+`,"stream":true}`)
	e := requireOpenAIProblem(t, res, http.StatusTooManyRequests, problem.TypeUpstreamRateLimited)
	require.Equal(t, "7", res.header.Get(header.RetryAfter), "a failure before any text gets a real status")
	require.Equal(t, openai.TypeRateLimit, e.Type)
}

// TestChatCompletions_clientGone proves a client that disconnects stops
// generation: the generator sees its context end.
func TestChatCompletions_clientGone(t *testing.T) {
	t.Parallel()
	g := newGen("first")
	g.forever = true
	ts := httptest.NewServer(newLLMServer(t, newGen(), g, nil, nil))
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions",
		strings.NewReader(chatHi+`,"stream":true}`))
	require.NoError(t, err)
	req.Header.Set(header.ContentType, header.MediaJSON)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"content":"first"`) {
			break
		}
	}
	cancel()
	select {
	case err := <-g.ctxErr:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("generation went on after the client left")
	}
}

// TestChatCompletions_outlivesReadTimeout proves a stream may run longer
// than the server's ReadTimeout: net/http's read deadline would otherwise
// fail the connection's background read and cancel the request mid-stream.
func TestChatCompletions_outlivesReadTimeout(t *testing.T) {
	t.Parallel()
	g := newGen("a", "b", "c", "d", "e", "f")
	g.delay = 100 * time.Millisecond
	ts := httptest.NewUnstartedServer(newLLMServer(t, newGen(), g, nil, nil))
	ts.Config.ReadTimeout = 250 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	resp, err := ts.Client().Post(ts.URL+"/v1/chat/completions", header.MediaJSON, strings.NewReader(chatHi+`,"stream":true}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(b), "data: [DONE]\n\n"), string(b))
}

func TestChatCompletions_limits(t *testing.T) {
	t.Parallel()
	t.Run("caps max_tokens at the model's limit", func(t *testing.T) {
		t.Parallel()
		g := newGen("a")
		s := newLLMServer(t, newGen(), g, nil, nil)
		res := postLLM(t, s, "/v1/chat/completions", chatHi+`,"max_completion_tokens":5000,"max_tokens":3}`)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, 64, g.last(t).Params.MaxTokens)
	})
	t.Run("defaults max_tokens to what the context window leaves", func(t *testing.T) {
		t.Parallel()
		g := newGen("a")
		g.prompt = 250
		s := newLLMServer(t, newGen(), g, nil, nil)
		res := postLLM(t, s, "/v1/chat/completions", chatHi+`}`)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, 6, g.last(t).Params.MaxTokens)
	})
	t.Run("refuses a prompt that fills the context window", func(t *testing.T) {
		t.Parallel()
		g := newGen("a")
		g.prompt = 256
		s := newLLMServer(t, newGen(), g, nil, nil)
		res := postLLM(t, s, "/v1/chat/completions", chatHi+`}`)
		e := requireOpenAIProblem(t, res, http.StatusBadRequest, problem.TypeContextLength)
		require.Equal(t, openai.CodeContextLengthExceeded, *e.Code)
		require.Equal(t, "messages", *e.Param)
		res = postLLM(t, s, "/v1/completions", `{"model":"scribe","prompt":"x"}`)
		e = requireOpenAIProblem(t, res, http.StatusBadRequest, problem.TypeContextLength)
		require.Equal(t, "prompt", *e.Param)
	})
}

func TestChatCompletions_models(t *testing.T) {
	t.Parallel()
	g1, g2 := newGen("one"), newGen("two")
	s := newLLMServer(t, g1, g2, nil, nil)
	tests := []struct {
		name, model string
		hdr         []string
		wantVersion string
	}{
		{name: "bare name is latest", model: "scribe", wantVersion: "2"},
		{name: "name:alias", model: "scribe:stable", wantVersion: "1"},
		{name: "name:version", model: "scribe:1", wantVersion: "1"},
		{name: "the version header wins over the body", model: "scribe:2", hdr: []string{header.ModelVersion, "1"}, wantVersion: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := postLLM(t, s, "/v1/chat/completions", `{"model":"`+tc.model+`","messages":[{"role":"user","content":"x"}]}`, tc.hdr...)
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			require.Equal(t, tc.wantVersion, res.header.Get(header.ModelVersion))
			require.Contains(t, string(res.body), `"model":"scribe:`+tc.wantVersion+`"`)
		})
	}
}

func TestLLMRoutes_problems(t *testing.T) {
	t.Parallel()
	s := newLLMServer(t, newGen(), newGen(), nil, nil)
	t.Run("a tabular model on chat is a 400 naming the model param", func(t *testing.T) {
		t.Parallel()
		e := requireOpenAIProblem(t, postLLM(t, s, "/v1/chat/completions", `{"model":"iris","messages":[{"role":"user","content":"x"}]}`),
			http.StatusBadRequest, problem.TypeWrongModelKind)
		require.Equal(t, "model", *e.Param)
		require.Equal(t, openai.TypeInvalidRequest, e.Type)
	})
	t.Run("an unknown model is model_not_found", func(t *testing.T) {
		t.Parallel()
		e := requireOpenAIProblem(t, postLLM(t, s, "/v1/completions", `{"model":"nope","prompt":"x"}`), http.StatusNotFound, problem.TypeUnknownModel)
		require.Equal(t, openai.CodeModelNotFound, *e.Code)
	})
	t.Run("an unknown version is model_not_found", func(t *testing.T) {
		t.Parallel()
		e := requireOpenAIProblem(t, postLLM(t, s, "/v1/chat/completions", `{"model":"scribe:9","messages":[{"role":"user","content":"x"}]}`),
			http.StatusNotFound, problem.TypeUnknownVersion)
		require.Equal(t, openai.CodeModelNotFound, *e.Code)
	})
	t.Run("validation problems carry pointers and the OpenAI param", func(t *testing.T) {
		t.Parallel()
		res := postLLM(t, s, "/v1/chat/completions", chatHi+`,"temperature":3,"n":2}`)
		e, p := openAIProblem(t, res, http.StatusBadRequest, problem.TypeValidation)
		require.Equal(t, "temperature", *e.Param)
		require.Len(t, p.Errors, 2)
	})
	t.Run("malformed JSON", func(t *testing.T) {
		t.Parallel()
		requireOpenAIProblem(t, postLLM(t, s, "/v1/chat/completions", `{"model":`), http.StatusBadRequest, problem.TypeMalformedJSON)
	})
	t.Run("a wrong method", func(t *testing.T) {
		t.Parallel()
		requireOpenAIProblem(t, do(t, s, http.MethodGet, "/v1/chat/completions", "", ""), http.StatusMethodNotAllowed, problem.TypeMethodNotAllowed)
	})
	t.Run("a wrong content type", func(t *testing.T) {
		t.Parallel()
		requireOpenAIProblem(t, do(t, s, http.MethodPost, "/v1/completions", "text/plain", "x"), http.StatusUnsupportedMediaType, problem.TypeUnsupportedMediaType)
	})
	t.Run("a text model on the prediction routes is a 400, not a crash", func(t *testing.T) {
		t.Parallel()
		requireProblem(t, postLLM(t, s, "/v2/predict", `{"model":"scribe","inputs":[{"x":1}]}`), http.StatusBadRequest, problem.TypeWrongModelKind)
		p := requireProblem(t, postLLM(t, s, "/v2/models/scribe/infer", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]}`),
			http.StatusBadRequest, problem.TypeWrongModelKind)
		require.Equal(t, p.Detail, p.OIPError)
		requireProblem(t, do(t, s, http.MethodGet, "/v2/models/scribe", "", ""), http.StatusBadRequest, problem.TypeWrongModelKind)
	})
}

func TestCompletions(t *testing.T) {
	t.Parallel()
	g := newGen("Let there", " be light")
	g.finish = llm.FinishLength
	s := newLLMServer(t, newGen(), g, nil, nil)
	res := postLLM(t, s, "/v1/completions", `{"model":"scribe","prompt":"And God said, ","max_tokens":18}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.JSONEq(t, `{"id":"cmpl-req-1","object":"text_completion","created":1790000000,"model":"scribe:2",
		"choices":[{"index":0,"text":"Let there be light","logprobs":null,"finish_reason":"length"}],
		"usage":{"prompt_tokens":14,"completion_tokens":18,"total_tokens":32}}`, string(res.body))
	require.Equal(t, "And God said, ", g.last(t).Prompt)

	res = postLLM(t, s, "/v1/completions", `{"model":"scribe","prompt":["And God said, "],"stream":true,"stream_options":{"include_usage":true}}`)
	prefix := `data: {"id":"cmpl-req-1","object":"text_completion","created":1790000000,"model":"scribe:2","choices":`
	require.Equal(t,
		prefix+`[{"index":0,"text":"Let there","logprobs":null,"finish_reason":null}]}`+"\n\n"+
			prefix+`[{"index":0,"text":" be light","logprobs":null,"finish_reason":null}]}`+"\n\n"+
			prefix+`[{"index":0,"text":"","logprobs":null,"finish_reason":"length"}]}`+"\n\n"+
			prefix+`[],"usage":{"prompt_tokens":14,"completion_tokens":18,"total_tokens":32}}`+"\n\n"+
			"data: [DONE]\n\n", string(res.body))
}

func TestModelList(t *testing.T) {
	t.Parallel()
	s := newLLMServer(t, newGen(), newGen(), nil, nil)
	res := do(t, s, http.MethodGet, "/v1/models", "", "")
	require.Equal(t, http.StatusOK, res.status)
	created := testCreated(t)
	want := fmt.Sprintf(`{"object":"list","data":[
		{"id":"scribe","object":"model","created":%[1]d,"owned_by":"modelgate"},
		{"id":"scribe:stable","object":"model","created":%[1]d,"owned_by":"modelgate"},
		{"id":"scribe:1","object":"model","created":%[1]d,"owned_by":"modelgate"},
		{"id":"scribe:2","object":"model","created":%[1]d,"owned_by":"modelgate"}]}`, created)
	require.JSONEq(t, want, string(res.body), "only text models, under every id a client may send")

	res = do(t, s, http.MethodGet, "/v1/models/scribe:stable", "", "")
	require.Equal(t, http.StatusOK, res.status)
	require.JSONEq(t, fmt.Sprintf(`{"id":"scribe:stable","object":"model","created":%d,"owned_by":"modelgate"}`, created), string(res.body))
	res = do(t, s, http.MethodGet, "/v1/models/scribe", "", "", header.ModelVersion, "9")
	requireOpenAIProblem(t, res, http.StatusNotFound, problem.TypeUnknownVersion)
	for _, id := range []string{"iris", "nope", "scribe:9"} {
		e := requireOpenAIProblem(t, do(t, s, http.MethodGet, "/v1/models/"+id, "", ""), http.StatusNotFound, map[bool]string{true: problem.TypeUnknownVersion, false: problem.TypeUnknownModel}[id == "scribe:9"])
		require.Equal(t, openai.CodeModelNotFound, *e.Code, id)
	}
}

func testCreated(t *testing.T) int64 {
	t.Helper()
	tm, err := time.Parse(time.DateOnly, "2026-12-03")
	require.NoError(t, err)
	return tm.Unix()
}

func TestGenerationMetrics(t *testing.T) {
	t.Parallel()
	promReg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(promReg), otelprom.WithoutScopeInfo())
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	s := newLLMServer(t, newGen(), newGen("In the ", "beginning"), mp.Meter("test"), promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
	require.Equal(t, http.StatusOK, postLLM(t, s, "/v1/chat/completions", chatHi+`,"stream":true}`).status)
	text := strings.Join(series(t, s), "\n")
	for _, want := range []string{
		`gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="modelgate",gen_ai_request_model="scribe",gen_ai_token_type="input",model_version="2"} 2`,
		`gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="modelgate",gen_ai_request_model="scribe",gen_ai_token_type="output",model_version="2"} 16`,
		`gen_ai_server_time_to_first_token_seconds_count{gen_ai_operation_name="chat"`,
		`gen_ai_server_time_per_output_token_seconds_count{gen_ai_operation_name="chat"`,
		`gen_ai_server_request_duration_seconds_count{gen_ai_operation_name="chat"`,
	} {
		require.Contains(t, text, want)
	}
}

// FuzzLLMRoutes throws arbitrary bodies at the chat and completions
// routes: the answer is a 200 (JSON or an event stream) or a 4xx
// problem+json carrying the OpenAI error object, never a 5xx or a panic.
func FuzzLLMRoutes(f *testing.F) {
	for _, s := range []string{
		chatHi + `}`, chatHi + `,"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"scribe:1","prompt":"x","max_tokens":2}`, `{"model":"iris","prompt":"x"}`,
		`{"model":"scribe","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"stop":["a","b"]}`,
		`{"model":"scribe","MODEL":"x"}`, `[]`, `{`,
	} {
		f.Add(uint8(0), s)
		f.Add(uint8(1), s)
	}
	s := newLLMServer(f, newGen("a", "b"), newGen("c"), nil, nil)
	paths := []string{"/v1/chat/completions", "/v1/completions"}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		res := do(t, s, http.MethodPost, paths[int(route)%len(paths)], header.MediaJSON, body)
		ct := res.header.Get(header.ContentType)
		switch {
		case res.status >= 500:
			t.Fatalf("status %d for %q: %s", res.status, body, res.body)
		case res.status >= 400:
			var b openai.ErrorBody
			if ct != header.MediaProblemJSON || json.Unmarshal(res.body, &b) != nil || b.Error.Type == "" {
				t.Fatalf("error without the OpenAI error object: %d %s %s", res.status, ct, res.body)
			}
		case ct != header.MediaJSON && ct != header.MediaEventStream:
			t.Fatalf("success with content type %q", ct)
		}
	})
}
