package openai_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/internal/rawjson"
)

func pointers(t *testing.T, err error) []string {
	t.Helper()
	var re *openai.RequestError
	require.ErrorAs(t, err, &re)
	out := make([]string, len(re.Violations))
	for i, v := range re.Violations {
		out[i] = v.Pointer
	}
	return out
}

func TestDecodeChatRequest(t *testing.T) {
	t.Parallel()
	body := `{"model":"scribe:1","messages":[{"role":"system","content":"be brief"},
		{"role":"user","content":[{"type":"text","text":"in the "},{"type":"text","text":"beginning"}]}],
		"max_tokens":50,"max_completion_tokens":20,"temperature":0.7,"top_p":0.9,"n":1,"seed":42,
		"stream":true,"stream_options":{"include_usage":true},"stop":["\n\n","Amen"],
		"user":"someone","metadata":{"x":1},"TOP_K":9}`
	req, err := openai.DecodeChatRequest([]byte(body), openai.Limits{})
	require.NoError(t, err)
	require.Equal(t, "scribe:1", req.Model)
	require.Equal(t, []openai.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "in the beginning"}}, req.Messages)
	require.Equal(t, 20, req.Limit(), "max_completion_tokens wins over max_tokens")
	require.InDelta(t, 0.7, *req.Temperature, 0)
	require.InDelta(t, 0.9, *req.TopP, 0)
	require.Equal(t, int64(42), *req.Seed)
	require.True(t, req.Stream)
	require.True(t, req.IncludeUsage())
	require.Equal(t, []string{"\n\n", "Amen"}, req.Stop)
}

func TestDecodeChatRequest_defaults(t *testing.T) {
	t.Parallel()
	req, err := openai.DecodeChatRequest([]byte(`{"model":"scribe","messages":[{"role":"user","content":"hi"}],"stop":"x","temperature":null}`), openai.Limits{})
	require.NoError(t, err)
	require.Equal(t, 0, req.Limit())
	require.Nil(t, req.Temperature)
	require.False(t, req.Stream)
	require.False(t, req.IncludeUsage())
	require.Equal(t, []string{"x"}, req.Stop, "a single stop string becomes a list")

	req, err = openai.DecodeChatRequest([]byte(`{"model":"scribe","messages":[{"role":"user","content":"hi"}],"MAX_TOKENS":9}`), openai.Limits{})
	require.NoError(t, err)
	require.Equal(t, 0, req.Limit(), "members match by exact name, as the gateway reads them")
}

func TestDecodeChatRequest_violations(t *testing.T) {
	t.Parallel()
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name         string
		body         string
		wantPointers []string
	}{
		{name: "rejects a body that is not an object", body: `[1]`, wantPointers: []string{""}},
		{name: "requires model and messages", body: `{}`, wantPointers: []string{"/model", "/messages"}},
		{name: "rejects n other than 1", body: `{"model":"m",` + msgs + `,"n":2}`, wantPointers: []string{"/n"}},
		{name: "rejects temperature above 2", body: `{"model":"m",` + msgs + `,"temperature":2.5}`, wantPointers: []string{"/temperature"}},
		{name: "rejects top_p of 0", body: `{"model":"m",` + msgs + `,"top_p":0}`, wantPointers: []string{"/top_p"}},
		{name: "rejects max_tokens of 0", body: `{"model":"m",` + msgs + `,"max_tokens":0}`, wantPointers: []string{"/max_tokens"}},
		{name: "rejects fractional max_completion_tokens", body: `{"model":"m",` + msgs + `,"max_completion_tokens":1.5}`, wantPointers: []string{"/max_completion_tokens"}},
		{name: "rejects more than four stop strings", body: `{"model":"m",` + msgs + `,"stop":["a","b","c","d","e"]}`, wantPointers: []string{"/stop"}},
		{name: "rejects a long stop string", body: `{"model":"m",` + msgs + `,"stop":["` + strings.Repeat("x", 65) + `"]}`, wantPointers: []string{"/stop/0"}},
		{name: "rejects an empty stop string", body: `{"model":"m",` + msgs + `,"stop":""}`, wantPointers: []string{"/stop"}},
		{name: "rejects unknown roles", body: `{"model":"m","messages":[{"role":"tool","content":"x"}]}`, wantPointers: []string{"/messages/0/role"}},
		{name: "rejects image parts", body: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, wantPointers: []string{"/messages/0/content/0/type"}},
		{name: "rejects missing content", body: `{"model":"m","messages":[{"role":"user"}]}`, wantPointers: []string{"/messages/0/content"}},
		{name: "rejects empty messages", body: `{"model":"m","messages":[]}`, wantPointers: []string{"/messages"}},
		{name: "rejects tools", body: `{"model":"m",` + msgs + `,"tools":[{"type":"function"}]}`, wantPointers: []string{"/tools"}},
		{name: "rejects a non-boolean include_usage", body: `{"model":"m",` + msgs + `,"stream_options":{"include_usage":1}}`, wantPointers: []string{"/stream_options/include_usage"}},
		{name: "rejects case-variant duplicates", body: `{"model":"m","MODEL":"x",` + msgs + `}`, wantPointers: []string{"/MODEL"}},
		{name: "rejects exact duplicates", body: `{"model":"m",` + msgs + `,"max_tokens":1,"max_tokens":9}`, wantPointers: []string{"/max_tokens"}},
		{name: "reports every violation at once", body: `{"model":7,"messages":"x","seed":"s","stream":"yes"}`, wantPointers: []string{"/model", "/messages", "/seed", "/stream"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := openai.DecodeChatRequest([]byte(tc.body), openai.Limits{})
			require.Equal(t, tc.wantPointers, pointers(t, err))
		})
	}
}

func TestDecodeChatRequest_limits(t *testing.T) {
	t.Parallel()
	lim := openai.Limits{MaxMessages: 2, MaxContentBytes: 10}
	_, err := openai.DecodeChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":"c"}]}`), lim)
	require.Equal(t, []string{"/messages"}, pointers(t, err))
	_, err = openai.DecodeChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"123456"},{"role":"user","content":"123456"}]}`), lim)
	require.Equal(t, []string{"/messages"}, pointers(t, err))
}

func TestDecodeChatRequest_malformed(t *testing.T) {
	t.Parallel()
	_, err := openai.DecodeChatRequest([]byte(`{"model":`), openai.Limits{})
	var se *rawjson.SyntaxError
	require.ErrorAs(t, err, &se)
}

func TestDecodeCompletionRequest(t *testing.T) {
	t.Parallel()
	req, err := openai.DecodeCompletionRequest([]byte(`{"model":"scribe","prompt":["And God said"],"max_tokens":8,"echo":false}`), openai.Limits{})
	require.NoError(t, err)
	require.Equal(t, "And God said", req.Prompt)
	require.Equal(t, 8, req.Limit())

	for _, body := range []string{
		`{"model":"m","prompt":["a","b"]}`, `{"model":"m","prompt":[1,2]}`, `{"model":"m"}`,
	} {
		_, err := openai.DecodeCompletionRequest([]byte(body), openai.Limits{})
		require.Equal(t, []string{"/prompt"}, pointers(t, err), body)
	}
	_, err = openai.DecodeCompletionRequest([]byte(`{"model":"m","prompt":"x","echo":true}`), openai.Limits{})
	require.Equal(t, []string{"/echo"}, pointers(t, err))
}

func TestErrorFor(t *testing.T) {
	t.Parallel()
	p := &problem.Problem{Type: problem.TypeValidation, Status: 400, Title: "Request validation failed", Detail: "1 violation(s)",
		Errors: []problem.Violation{{Pointer: "/messages/0/content", Detail: "missing"}}}
	e := openai.ErrorFor(p)
	require.Equal(t, "invalid_request_error", e.Type)
	require.Equal(t, "messages[0].content", *e.Param)
	require.Equal(t, "validation_failed", *e.Code)

	e = openai.ErrorFor(&problem.Problem{Type: problem.TypeUnknownModel, Status: 404, Title: "Unknown model"})
	require.Equal(t, openai.CodeModelNotFound, *e.Code)
	require.Equal(t, "model", *e.Param)
	require.Equal(t, "Unknown model", e.Message)

	b, err := json.Marshal(openai.ProblemBody{Problem: &problem.Problem{Type: problem.TypeInternal, Status: 500, Title: "x", OIPError: "shadowed"}, Error: openai.Error{Message: "x", Type: "server_error"}})
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"`+problem.TypeInternal+`","title":"x","status":500,"error":{"message":"x","type":"server_error","param":null,"code":null}}`, string(b))
	require.Empty(t, openai.Param(""))
	require.Equal(t, "a/b.c", openai.Param("/a~1b/c"))
	require.False(t, errors.Is(nil, &openai.RequestError{}))
}
