package processor_test

import (
	"strings"
	"testing"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/quota"
)

// blank is what a usage chunk the client did not ask for becomes: a
// comment of its length, line ends kept.
func blank(ev string) string {
	var b strings.Builder
	for line := range strings.SplitAfterSeq(ev, "\n") {
		text := strings.TrimRight(line, "\r\n")
		if text != "" {
			b.WriteString(":" + strings.Repeat(" ", len(text)-1))
		}
		b.WriteString(line[len(text):])
	}
	return b.String()
}

// leanStart sends the request phases of a lean stream and returns the
// request and the request-body answer; the request-headers answer must
// skip the response headers and stream the body.
func leanStart(t *testing.T, e *llmEnv, path, reqBody string) (*processor.Request, processor.Processor, *extprocv3.ProcessingResponse) {
	t.Helper()
	h := post(path, "key-acme")
	r := processor.NewRequest(e.clock.Now())
	require.NoError(t, e.adm.ReadHeaders(t.Context(), r, h))
	f := e.chat
	if path == "/v1/completions" {
		f = e.completions
	}
	p := f(r)
	t.Cleanup(p.Close)
	hr, err := p.RequestHeaders(t.Context(), h)
	require.NoError(t, err)
	mo := hr.GetModeOverride()
	require.NotNil(t, mo, "a lean stream overrides the response modes")
	require.Equal(t, extprocfilterv3.ProcessingMode_SKIP, mo.GetResponseHeaderMode())
	require.Equal(t, extprocfilterv3.ProcessingMode_STREAMED, mo.GetResponseBodyMode())
	require.Equal(t, extprocfilterv3.ProcessingMode_SEND, mo.GetRequestHeaderMode())
	resp, err := p.RequestBody(t.Context(), body(reqBody))
	require.NoError(t, err)
	return r, p, resp
}

// withStatus gives r the status Envoy sends as a response attribute with
// the first response body message of a lean stream.
func withStatus(r *processor.Request, status int) {
	r.ReadAttributes(map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: map[string]*structpb.Value{
		"response.code": structpb.NewNumberValue(float64(status)),
	}}})
}

// metadataHeaders are the response headers a request-body answer leaves
// for the version route to add.
func metadataHeaders(resp *extprocv3.ProcessingResponse) map[string]string {
	out := map[string]string{}
	for k, v := range resp.GetDynamicMetadata().GetFields()[header.MetadataNamespace].GetStructValue().GetFields() {
		out[k] = v.GetStringValue()
	}
	return out
}

func TestChat_leanStreamReadsTheBodyAlone(t *testing.T) {
	t.Parallel()
	e := newLLMEnvWith(t, scopes{"k-acme": "*"}, true)
	e.quota.answer = quota.Decision{Tightest: &quota.Limit{Requests: 100, Remaining: 99, Window: time.Minute, Reset: 30 * time.Second}}
	r, p, resp := leanStart(t, e, "/v1/chat/completions", `{"model":"scribe:stable","stream":true,"messages":[{"role":"user","content":"Who made the light?"}]}`)
	left := metadataHeaders(resp)
	require.Equal(t, "1", left[header.ModelVersion], "the version the route adds to the answer")
	require.Equal(t, "100, 100;w=60", left[header.RateLimitLimit], "the quota headers too")
	require.Equal(t, "99", left[header.RateLimitRemaining])

	withStatus(r, 200)
	sent := roleChunk + textChunk + stopChunk + usageChunk + doneChunk
	var got strings.Builder
	var last *extprocv3.ProcessingResponse
	for i, part := range []string{sent[:30], sent[30:200], sent[200:]} {
		resp, err := p.ResponseBody(t.Context(), chunk(part, i == 2))
		require.NoError(t, err)
		if mut := resp.GetResponseBody().GetResponse().GetBodyMutation(); mut != nil {
			got.WriteString(string(mut.GetBody()))
		} else {
			got.WriteString(part)
		}
		last = resp
	}
	require.Equal(t, roleChunk+textChunk+stopChunk+blank(usageChunk)+doneChunk, got.String())
	require.Len(t, got.String(), len(sent), "the length the upstream may have announced holds")
	c, ok := charge(last)
	require.True(t, ok)
	require.Equal(t, "27", c)
	require.Equal(t, 200, r.Status)
}

func TestChat_leanStreamJSONAnswerInParts(t *testing.T) {
	t.Parallel()
	e := newLLMEnvWith(t, scopes{"k-acme": "*"}, true)
	r, p, _ := leanStart(t, e, "/v1/completions", `{"model":"scribe","prompt":"Let there be","max_tokens":8}`)
	withStatus(r, 200)
	answer := `  {"id":"x","object":"text_completion","choices":[{"index":0,"text":" light"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}`
	first, err := p.ResponseBody(t.Context(), chunk(answer[:50], false))
	require.NoError(t, err)
	require.Nil(t, first.GetResponseBody().GetResponse().GetBodyMutation(), "JSON passes unchanged")
	last, err := p.ResponseBody(t.Context(), chunk(answer[50:], true))
	require.NoError(t, err)
	require.Nil(t, last.GetResponseBody().GetResponse().GetBodyMutation())
	c, _ := charge(last)
	require.Equal(t, "6", c, "the usage of the assembled answer")
}

func TestChat_leanStreamLeavesErrorsAlone(t *testing.T) {
	t.Parallel()
	e := newLLMEnvWith(t, scopes{"k-acme": "*"}, true)
	r, p, _ := leanStart(t, e, "/v1/chat/completions", `{"model":"scribe","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	withStatus(r, 503)
	resp, err := p.ResponseBody(t.Context(), chunk(usageChunk, true))
	require.NoError(t, err)
	require.Nil(t, resp.GetResponseBody().GetResponse().GetBodyMutation(), "an error answer is not read as a stream")
	_, ok := charge(resp)
	require.False(t, ok)
	require.Equal(t, 503, r.Status)
}

func TestChat_notLeanWithoutTheSetting(t *testing.T) {
	t.Parallel()
	e := newLLMEnv(t)
	h := post("/v1/chat/completions", "key-acme")
	r := processor.NewRequest(e.clock.Now())
	require.NoError(t, e.adm.ReadHeaders(t.Context(), r, h))
	p := e.chat(r)
	t.Cleanup(p.Close)
	hr, err := p.RequestHeaders(t.Context(), h)
	require.NoError(t, err)
	require.Nil(t, hr.GetModeOverride(), "the response headers are sent as configured")
	resp, err := p.RequestBody(t.Context(), body(`{"model":"scribe","messages":[{"role":"user","content":"x"}]}`))
	require.NoError(t, err)
	require.Empty(t, metadataHeaders(resp))
}
