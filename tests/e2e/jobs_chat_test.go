//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
)

// chatJob is the job object of a chat completion job.
type chatJob struct {
	ID, Status, Model, Version string
	Result                     json.RawMessage
	Usage                      struct {
		Rows             int  `json:"rows"`
		PromptTokens     *int `json:"prompt_tokens"`
		CompletionTokens *int `json:"completion_tokens"`
		TotalTokens      *int `json:"total_tokens"`
	}
	Metadata map[string]string
}

func decodeChatJob(t *testing.T, a answer) chatJob {
	t.Helper()
	var j chatJob
	require.NoError(t, json.Unmarshal(a.body, &j), "%s", a)
	return j
}

// testChatJobs submits chat completion jobs through Envoy: the gateway
// resolves scribe as the chat route does and charges the prompt and
// max_tokens to the token quota; scribe's worker runs the completion; the
// result is the chat.completion object, the usage the tokens; a webhook
// announces it. rcv receives the webhooks of clientPro.
func testChatJobs(t *testing.T, e *env, rcv *webhookReceiver, hook, secret string) {
	const prompt = "In the beginning"
	body := `{"model":"` + llmModel + `","messages":[{"role":"user","content":"` + prompt + `"}],` +
		`"max_tokens":8,"temperature":0,"webhook":"` + hook + `","metadata":{"batch":"chat"}}`
	before := e.tokenCounter(t, clientPro)
	a := e.do(t, call{path: "/v2/jobs", client: clientPro, body: body, headers: map[string]string{"prefer": "wait=20"}})
	require.Equal(t, http.StatusOK, a.status, "%s", a)
	j := decodeChatJob(t, a)
	require.Equal(t, "succeeded", j.Status, "%s", a)
	require.Equal(t, llmModel, j.Model)
	require.NotEmpty(t, j.Version, "the gateway resolved the latest version")
	require.Equal(t, "chat", j.Metadata["batch"])

	var cc openai.ChatCompletion
	require.NoError(t, json.Unmarshal(j.Result, &cc), "%s", j.Result)
	require.Equal(t, openai.ObjectChatCompletion, cc.Object)
	require.Equal(t, llmModel+":"+j.Version, cc.Model)
	require.True(t, strings.HasPrefix(cc.ID, "chatcmpl-"), cc.ID)
	require.Len(t, cc.Choices, 1)
	require.Equal(t, openai.RoleAssistant, cc.Choices[0].Message.Role)
	require.Contains(t, []string{"stop", "length"}, cc.Choices[0].FinishReason)
	require.NotNil(t, cc.Usage)
	require.Positive(t, cc.Usage.PromptTokens)
	require.LessOrEqual(t, cc.Usage.CompletionTokens, 8)
	require.NotNil(t, j.Usage.PromptTokens, "%s", a)
	require.Equal(t, cc.Usage.PromptTokens, *j.Usage.PromptTokens)
	require.Equal(t, cc.Usage.CompletionTokens, *j.Usage.CompletionTokens)
	require.Equal(t, cc.Usage.TotalTokens, *j.Usage.TotalTokens)

	t.Run("the prompt and max_tokens are charged on submission, once", func(t *testing.T) {
		// The ext_proc chain reserves them in the plugin's quota call;
		// the ext_authz chain's stream-done call charges them when the
		// submission's answer ends. Nothing is read from the job's answer.
		want := before + len(prompt) + 8
		eventually(t, 5*time.Second, func() error {
			if got := e.tokenCounter(t, clientPro); got != want {
				return fmt.Errorf("tokens_minute is %d, want %d", got, want)
			}
			return nil
		})
		time.Sleep(time.Second)
		require.Equal(t, want, e.tokenCounter(t, clientPro), "charged once")
	})
	t.Run("the job's text is the chat route's", func(t *testing.T) {
		a := e.do(t, call{path: "/v1/chat/completions", client: clientPro,
			body: `{"model":"` + llmModel + `:` + j.Version + `","messages":[{"role":"user","content":"` + prompt + `"}],"max_tokens":8,"temperature":0}`})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
		var sync openai.ChatCompletion
		require.NoError(t, json.Unmarshal(a.body, &sync))
		require.Equal(t, sync.Choices[0].Message.Content, cc.Choices[0].Message.Content)
		require.Equal(t, sync.Usage, cc.Usage)
	})
	t.Run("the webhook announces the chat job", func(t *testing.T) {
		var d delivery
		eventually(t, 10*time.Second, func() error {
			for _, got := range rcv.got() {
				if strings.Contains(string(got.body), j.ID) {
					d = got
					return nil
				}
			}
			return fmt.Errorf("no delivery for %s yet", j.ID)
		})
		verifyStandardWebhook(t, secret, d)
		require.Contains(t, string(d.body), `"object":"chat.completion"`)
	})
	t.Run("a queued chat job is polled to its end", func(t *testing.T) {
		a := e.do(t, call{path: "/v2/jobs", client: clientPro,
			body: `{"model":"` + llmModel + `:stable","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":4}`})
		require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, a.status, "%s", a)
		id := decodeChatJob(t, a).ID
		e.waitJob(t, clientPro, id, "succeeded", 20*time.Second)
		got := decodeChatJob(t, e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + id, client: clientPro}))
		require.NotNil(t, got.Usage.CompletionTokens)
		require.LessOrEqual(t, *got.Usage.CompletionTokens, 4)
	})
	t.Run("the mixed forms and stream are refused", func(t *testing.T) {
		for _, c := range []struct{ name, body, pointer, detail string }{
			{"messages for a tabular model", `{"model":"iris","messages":[{"role":"user","content":"hi"}]}`, "/model", "does not generate text"},
			{"inputs for a text-generation model", `{"model":"` + llmModel + `","inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`, "/model", "generates text"},
			// The schema names the object whose members are refused.
			{"inputs beside messages", `{"model":"` + llmModel + `","messages":[{"role":"user","content":"hi"}],"inputs":[]}`, "", "'inputs'"},
			{"stream", `{"model":"` + llmModel + `","messages":[{"role":"user","content":"hi"}],"stream":true}`, "/stream", "not streamed"},
		} {
			p := requireProblem(t, e.do(t, call{path: "/v2/jobs", client: clientPro, body: c.body}), http.StatusBadRequest, problem.TypeValidation)
			found := false
			for _, v := range p.Errors {
				found = found || v.Pointer == c.pointer && strings.Contains(v.Detail, c.detail)
			}
			require.True(t, found, "%s: no violation at %q saying %q: %+v", c.name, c.pointer, c.detail, p.Errors)
		}
	})
}
