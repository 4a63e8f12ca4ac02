// Package openai holds the wire types of the OpenAI-compatible API that
// modelgate serves (chat completions, completions, models) and speaks to
// OpenAI-compatible upstreams, the bounded decoder for its request bodies,
// and the OpenAI error object that problem bodies on these routes carry so
// the official clients raise the right exception.
package openai

// Object names, as the OpenAI API spells the object member.
const (
	ObjectChatCompletion      = "chat.completion"
	ObjectChatCompletionChunk = "chat.completion.chunk"
	ObjectTextCompletion      = "text_completion"
	ObjectList                = "list"
	ObjectModel               = "model"
)

// RoleAssistant is the role of generated messages.
const RoleAssistant = "assistant"

// Done is the data of the server-sent event that ends a stream.
const Done = "[DONE]"

// Message is one chat turn. Content arrives as a string or an array of text
// parts; the decoder joins the parts, so Content is always the text.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// StreamOptions tunes a streamed answer.
type StreamOptions struct {
	// IncludeUsage asks for one last chunk, before [DONE], with empty
	// choices and the usage of the whole request.
	IncludeUsage bool `json:"include_usage"`
}

// Sampling holds the settings chat and plain completions share. Pointers
// are nil when the client did not send the member (or sent null).
type Sampling struct {
	// MaxTokens bounds the completion; for chat, MaxCompletionTokens wins
	// when both are sent (see [ChatCompletionRequest.Limit]).
	MaxTokens   *int     `json:"max_tokens,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	// N is always 1 when set: one choice per request is all that is served.
	N    *int   `json:"n,omitempty"`
	Seed *int64 `json:"seed,omitempty"`
	// Stop is normalised to a list whether it arrived as a string or an
	// array.
	Stop          []string       `json:"stop,omitempty"`
	Stream        bool           `json:"stream,omitempty"`
	StreamOptions *StreamOptions `json:"stream_options,omitempty"`
}

// IncludeUsage reports whether a stream must end with the usage chunk.
func (s *Sampling) IncludeUsage() bool { return s.StreamOptions != nil && s.StreamOptions.IncludeUsage }

// ChatCompletionRequest is the body of POST /v1/chat/completions.
type ChatCompletionRequest struct {
	// Model is "<name>" (the latest alias) or "<name>:<version-or-alias>".
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	// MaxCompletionTokens is the newer name of max_tokens; it wins.
	MaxCompletionTokens *int `json:"max_completion_tokens,omitempty"`
	Sampling
}

// Limit is the completion length the client asked for: max_completion_tokens,
// else max_tokens, else 0 (the model's default).
func (r *ChatCompletionRequest) Limit() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// CompletionRequest is the body of POST /v1/completions. Prompt arrives as
// a string or an array of one string.
type CompletionRequest struct {
	Model  string `json:"model"`
	Prompt string `json:"prompt"`
	Sampling
}

// Limit is the completion length the client asked for, 0 for the default.
func (r *CompletionRequest) Limit() int {
	if r.MaxTokens != nil {
		return *r.MaxTokens
	}
	return 0
}

// Usage counts the tokens of one request.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// NewUsage fills TotalTokens.
func NewUsage(prompt, completion int) *Usage {
	return &Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// ChatCompletion is the non-streamed answer of a chat completion.
type ChatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint,omitempty"`
	Choices           []ChatChoice `json:"choices"`
	Usage             *Usage       `json:"usage,omitempty"`
}

// ChatChoice is one choice of a [ChatCompletion].
type ChatChoice struct {
	Index        int       `json:"index"`
	Message      Message   `json:"message"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"`
}

// NewChatCompletion is the chat.completion object of one whole
// completion: the route's non-streamed answer and a chat job's result.
func NewChatCompletion(id string, created int64, model, text, finish string, u *Usage) ChatCompletion {
	return ChatCompletion{
		ID: id, Object: ObjectChatCompletion, Created: created, Model: model,
		Choices: []ChatChoice{{Message: Message{Role: RoleAssistant, Content: text}, FinishReason: finish}},
		Usage:   u,
	}
}

// ChatCompletionChunk is one event of a streamed chat completion. The
// usage chunk has empty (never null) choices.
type ChatCompletionChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
}

// ChunkChoice is one choice of a [ChatCompletionChunk].
type ChunkChoice struct {
	Index    int       `json:"index"`
	Delta    Delta     `json:"delta"`
	Logprobs *struct{} `json:"logprobs"`
	// FinishReason is null until the choice's last chunk.
	FinishReason *string `json:"finish_reason"`
}

// Delta is what one chunk adds to the message.
type Delta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// Completion is the answer of a plain completion, and also each event of
// a streamed one (object text_completion in both).
type Completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint,omitempty"`
	Choices           []CompletionChoice `json:"choices"`
	Usage             *Usage             `json:"usage,omitempty"`
}

// CompletionChoice is one choice of a [Completion]. In a stream,
// FinishReason is null until the last chunk.
type CompletionChoice struct {
	Index        int       `json:"index"`
	Text         string    `json:"text"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the answer of GET /v1/models.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}
