package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/inference/internal/llm/upstream"
	"github.com/modelgate/modelgate/internal/catalog"
)

// TestUpstreamIsOurOwnServer chains two inference servers: the front one
// serves scribe:1 from an upstream generator whose upstream is the back
// one, where a fake generator runs. Our server is OpenAI-compatible, so
// the stream, its usage and a 429's Retry-After pass through unchanged.
func TestUpstreamIsOurOwnServer(t *testing.T) {
	t.Parallel()
	back := newGen("In the ", "beginning")
	limited := newGen()
	limited.err = &llm.UpstreamError{Status: http.StatusTooManyRequests, RetryAfter: 9}
	backend := httptest.NewServer(newLLMServer(t, limited, back, nil, nil))
	t.Cleanup(backend.Close)

	client := upstream.NewClient(upstream.Config{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	viaUpstream := func(model string) *fakeGen {
		g, err := client.Generator(&catalog.Manifest{
			Generation: &catalog.Generation{ContextLength: 256, MaxOutputTokens: 64, Tokenizer: catalog.TokenizerBytes, VocabSize: 256},
			Upstream:   &catalog.Upstream{BaseURL: backend.URL + "/v1", Model: model},
		})
		require.NoError(t, err)
		return &fakeGen{ctxLen: 256, maxOut: 64, wrapped: g}
	}
	front := newLLMServer(t, viaUpstream("scribe:1"), viaUpstream("scribe:2"), nil, nil)

	res := postLLM(t, front, "/v1/chat/completions", chatHi+`,"stream":true,"stream_options":{"include_usage":true}}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Equal(t, chunkPrefix+`[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`+"\n\n"+
		chunkPrefix+`[{"index":0,"delta":{"content":"In the "},"logprobs":null,"finish_reason":null}]}`+"\n\n"+
		chunkPrefix+`[{"index":0,"delta":{"content":"beginning"},"logprobs":null,"finish_reason":null}]}`+"\n\n"+
		chunkPrefix+`[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`+"\n\n"+
		chunkPrefix+`[],"usage":{"prompt_tokens":2,"completion_tokens":16,"total_tokens":18}}`+"\n\n"+
		"data: [DONE]\n\n", string(res.body))
	require.Equal(t, 64, back.last(t).Params.MaxTokens)

	res = postLLM(t, front, "/v1/completions", `{"model":"scribe:2","prompt":"x"}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Contains(t, string(res.body), `"text":"In the beginning"`)

	res = postLLM(t, front, "/v1/chat/completions", `{"model":"scribe:1","messages":[{"role":"user","content":"x"}]}`)
	e := requireOpenAIProblem(t, res, http.StatusTooManyRequests, problem.TypeUpstreamRateLimited)
	require.Equal(t, "9", res.header.Get(header.RetryAfter))
	require.Equal(t, openai.TypeRateLimit, e.Type)
	require.False(t, strings.Contains(string(res.body), backend.URL), "the upstream's address stays internal")
}
