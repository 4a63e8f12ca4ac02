//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
)

// llmModel is the built-in text-generation model.
const llmModel = "scribe"

// tokensPerHour is the e2e token client's token limit, per hour so that a
// window boundary cannot fall inside the test.
const tokensPerHour = 400

// event is one server-sent event's data, decoded.
type event struct {
	raw     string
	Choices []struct {
		Delta struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

// stream posts a chat completion with stream on and reads every event.
func (e *env) stream(t *testing.T, client, body string) (*http.Response, []event) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.s.URL()+"/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("content-type", "application/json")
	req.Header.Set("x-api-key", e.keys[client].Secret)
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body = nil
		t.Logf("status %d: %s", resp.StatusCode, b.String())
		return resp, []event{{raw: b.String()}}
	}
	var evs []event
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		ev := event{raw: data}
		if data != "[DONE]" {
			require.NoError(t, json.Unmarshal([]byte(data), &ev), data)
		}
		evs = append(evs, ev)
	}
	require.NoError(t, sc.Err())
	return resp, evs
}

func chatBody(content string, extra string) string {
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%q}]%s}`, llmModel, content, extra)
}

func testLLM(t *testing.T, e *env) {
	t.Run("a stream goes through Envoy event by event and ends with [DONE]", func(t *testing.T) {
		resp, evs := e.stream(t, clientPro, chatBody("In the beginning", `,"stream":true,"max_tokens":16`))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, resp.Header.Get("content-type"), "text/event-stream")
		require.NotEmpty(t, resp.Header.Get("x-model-version"))
		require.NotEmpty(t, resp.Header.Get("x-ratelimit-limit"), "the quota headers of the pro tier")
		require.GreaterOrEqual(t, len(evs), 3)
		require.Equal(t, "assistant", evs[0].Choices[0].Delta.Role)
		require.Equal(t, "[DONE]", evs[len(evs)-1].raw)
		for _, ev := range evs[:len(evs)-1] {
			require.Nil(t, ev.Usage, "the client did not ask for usage: the gateway's own usage chunk is removed")
		}
		require.NotNil(t, evs[len(evs)-2].Choices[0].FinishReason)
	})

	t.Run("a stream asking for usage gets it in its last chunk", func(t *testing.T) {
		_, evs := e.stream(t, clientPro, chatBody("In the beginning", `,"stream":true,"max_tokens":16,"stream_options":{"include_usage":true}`))
		last := evs[len(evs)-2]
		require.NotNil(t, last.Usage)
		require.Empty(t, last.Choices)
		require.LessOrEqual(t, last.Usage.CompletionTokens, 16)
	})

	t.Run("the model list is scoped to the key", func(t *testing.T) {
		a := e.do(t, call{method: http.MethodGet, path: "/v1/models", client: clientPro})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
		require.Contains(t, string(a.body), `"`+llmModel+`"`)
		a = e.do(t, call{method: http.MethodGet, path: "/v1/models", client: clientIrisOnly})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
		require.NotContains(t, string(a.body), llmModel)
		a = e.do(t, call{path: "/v1/chat/completions", client: clientIrisOnly, body: chatBody("x", "")})
		p := requireOpenAIProblem(t, a, http.StatusForbidden, problem.TypeForbidden)
		require.Equal(t, "permission_error", p.Error.Type, "the OpenAI clients raise PermissionDeniedError")
	})

	t.Run("a tabular model is refused on the chat route", func(t *testing.T) {
		a := e.do(t, call{path: "/v1/chat/completions", client: clientPro, body: `{"model":"iris","messages":[{"role":"user","content":"x"}]}`})
		p := requireOpenAIProblem(t, a, http.StatusBadRequest, problem.TypeValidation)
		require.Equal(t, "invalid_request_error", p.Error.Type)
		require.Equal(t, "model", *p.Error.Param)
	})

	t.Run("a stream the client cuts is charged for the text it got", func(t *testing.T) {
		before := e.tokenCounter(t, clientCut)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.s.URL()+"/v1/chat/completions",
			strings.NewReader(chatBody("In the beginning", `,"stream":true,"max_tokens":64,"temperature":1,"seed":3`)))
		require.NoError(t, err)
		req.Header.Set("content-type", "application/json")
		req.Header.Set("x-api-key", e.keys[clientCut].Secret)
		resp, err := e.client.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		sc := bufio.NewScanner(resp.Body)
		texts := 0
		for texts < 3 && sc.Scan() {
			if strings.Contains(sc.Text(), `"content":"`) {
				texts++
			}
		}
		require.NoError(t, resp.Body.Close(), "the client goes away after three pieces of text")
		// The prompt was reserved on admission (ext_proc chain) or is
		// charged with the text (ext_authz chain); either way more than the
		// prompt's bytes once the text passed is charged.
		deadline := time.Now().Add(5 * time.Second)
		for e.tokenCounter(t, clientCut)-before <= len("In the beginning") && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		require.Greater(t, e.tokenCounter(t, clientCut)-before, len("In the beginning"), "the cut stream's text was charged")
	})

	t.Run("completions are charged to the token quota when the stream ends", func(t *testing.T) {
		prompt := "Blessed are the meek"
		used, ok := 0, 0
		for i := 0; i < 20; i++ {
			resp, evs := e.stream(t, clientTokens, chatBody(prompt, `,"stream":true,"max_tokens":48,"stream_options":{"include_usage":true}`))
			if resp.StatusCode == http.StatusTooManyRequests {
				require.NotEmpty(t, resp.Header.Get("retry-after"))
				require.Contains(t, evs[0].raw, problem.TypeQuotaExceeded)
				require.Greater(t, used+len(prompt), tokensPerHour, "refused only once the tokens used (and this prompt) pass the limit")
				require.LessOrEqual(t, (ok+1)*len(prompt), tokensPerHour, "the prompts alone were within it: the completions were charged")
				return
			}
			require.Equal(t, http.StatusOK, resp.StatusCode)
			used += evs[len(evs)-2].Usage.TotalTokens
			ok++
		}
		t.Fatalf("never refused after %d tokens in %d requests", used, ok)
	})
}

// requireOpenAIProblem asserts a problem+json answer of an OpenAI-compatible
// route: the problem, and the OpenAI error object in its error member.
func requireOpenAIProblem(t *testing.T, a answer, status int, typ string) openai.ProblemBody {
	t.Helper()
	require.Equal(t, status, a.status, "%s", a)
	require.Equal(t, "application/problem+json", a.header.Get("content-type"), "%s", a)
	p := openai.ProblemBody{Problem: &problem.Problem{}}
	require.NoError(t, json.Unmarshal(a.body, &p), "%s", a.body)
	require.Equal(t, typ, p.Type, "%s", a.body)
	require.NotEmpty(t, p.Error.Message, "%s", a.body)
	return p
}

// tokenCounter reads the client's tokens_minute counter from the ratelimit
// service's Redis: the sum over its windows (there is one per minute).
func (e *env) tokenCounter(t *testing.T, client string) int {
	t.Helper()
	out, err := exec.Command("redis-cli", "-s", e.s.RedisSocket(), "--scan", "--pattern", "*_tokens_minute_*"+client+"*").Output()
	if err != nil {
		t.Logf("redis-cli: %v", err)
		return -1
	}
	sum := 0
	for _, k := range strings.Fields(string(out)) {
		if strings.Contains(k, "model_tokens") {
			continue
		}
		v, err := exec.Command("redis-cli", "-s", e.s.RedisSocket(), "GET", k).Output()
		if err != nil {
			t.Logf("redis-cli: %v", err)
			return -1
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(v)))
		sum += n
	}
	return sum
}
