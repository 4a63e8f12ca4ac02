package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/policy"
)

// The OpenAI operations of the document describe what the api/openai wire
// types marshal to, and its request schemas accept what the decoder
// accepts and refuse some of what it refuses.
func TestOpenAPI_matchesTheOpenAIWireTypes(t *testing.T) {
	t.Parallel()
	schemas := []string{"ChatCompletionRequest", "CompletionRequest", "ChatCompletion", "ChatCompletionChunk",
		"Completion", "OpenAIModelList", "OpenAIModel", "ErrorBody", "OpenAIProblem"}
	v, err := policy.Load(openapiPath, schemas...)
	require.NoError(t, err)
	seven, half, stop := 7, 0.5, "stop"
	text := "In the"
	p := &problem.Problem{Type: problem.TypeValidation, Title: "t", Status: 400, Detail: "d", Errors: []problem.Violation{{Pointer: "/messages/0", Detail: "d"}}}
	valid := []struct {
		schema string
		value  any
	}{
		{"ChatCompletionRequest", openai.ChatCompletionRequest{Model: "scribe:1", Messages: []openai.Message{{Role: "user", Content: "hi"}},
			MaxCompletionTokens: &seven, Sampling: openai.Sampling{Temperature: &half, Stop: []string{"\n"}, Stream: true, StreamOptions: &openai.StreamOptions{IncludeUsage: true}}}},
		{"CompletionRequest", openai.CompletionRequest{Model: "scribe", Prompt: "x", Sampling: openai.Sampling{MaxTokens: &seven}}},
		{"ChatCompletion", openai.ChatCompletion{ID: "c", Object: openai.ObjectChatCompletion, Created: 1, Model: "scribe:1",
			Choices: []openai.ChatChoice{{Message: openai.Message{Role: openai.RoleAssistant, Content: "x"}, FinishReason: stop}}, Usage: openai.NewUsage(1, 2)}},
		{"ChatCompletionChunk", openai.ChatCompletionChunk{ID: "c", Object: openai.ObjectChatCompletionChunk, Created: 1, Model: "m",
			Choices: []openai.ChunkChoice{{Delta: openai.Delta{Role: openai.RoleAssistant, Content: &text}}}}},
		{"ChatCompletionChunk", openai.ChatCompletionChunk{ID: "c", Object: openai.ObjectChatCompletionChunk, Created: 1, Model: "m",
			Choices: []openai.ChunkChoice{{FinishReason: &stop}}}},
		{"ChatCompletionChunk", openai.ChatCompletionChunk{ID: "c", Object: openai.ObjectChatCompletionChunk, Created: 1, Model: "m",
			Choices: []openai.ChunkChoice{}, Usage: openai.NewUsage(1, 2)}},
		{"Completion", openai.Completion{ID: "c", Object: openai.ObjectTextCompletion, Created: 1, Model: "m",
			Choices: []openai.CompletionChoice{{Text: "x", FinishReason: &stop}}, Usage: openai.NewUsage(1, 2)}},
		{"OpenAIModelList", openai.ModelList{Object: openai.ObjectList, Data: []openai.Model{{ID: "scribe", Object: openai.ObjectModel, Created: 1, OwnedBy: "modelgate"}}}},
		{"ErrorBody", openai.ErrorBody{Error: openai.ErrorFor(p)}},
		{"OpenAIProblem", openai.ProblemBody{Problem: p, Error: openai.ErrorFor(p)}},
	}
	for _, tt := range valid {
		b, err := json.Marshal(tt.value)
		require.NoError(t, err)
		_, err = v.Validate(tt.schema, b)
		require.NoError(t, err, "%s: %s", tt.schema, b)
	}
	// Bodies the schema refuses, the decoder refuses too (schemathesis'
	// negative-data check relies on it).
	for _, body := range []string{
		`{"model":"m","messages":[]}`, `{"model":"","messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","messages":[{"role":"tool","content":"x"}]}`, `{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"top_p":0}`,
	} {
		_, err := v.Validate("ChatCompletionRequest", []byte(body))
		require.Error(t, err, body)
		_, derr := openai.DecodeChatRequest([]byte(body), openai.DefaultLimits)
		require.Error(t, derr, body)
	}
}
