// Package llm generates text: the built-in byte-level transformer evaluated
// in pure Go and, behind the same interface, OpenAI-compatible upstreams.
// It knows nothing of HTTP; the chat and completions handlers and a job
// worker drive a Generator the same way.
package llm

import (
	"context"
	"errors"
)

// Message is one chat turn.
type Message struct {
	Role    string // system, user, assistant (developer is treated as system)
	Content string
}

// Request is one generation: Messages for a chat completion, or Prompt for
// a plain completion (exactly one is set).
type Request struct {
	Messages []Message
	Prompt   string
	Params   Params
}

// Params are the sampling settings one request may choose.
type Params struct {
	// MaxTokens is the most completion tokens to generate (>= 1; the
	// handler has already capped it at the model's limit).
	MaxTokens int
	// Temperature 0 means greedy decoding.
	Temperature float64
	// TopP in (0, 1]; 0 or 1 means no nucleus truncation.
	TopP float64
	// Stop ends the completion before the first occurrence of any of these
	// strings; the stop string itself is not emitted.
	Stop []string
	// Seed makes sampling reproducible when HasSeed is set.
	Seed    uint64
	HasSeed bool
}

// Finish reasons, as the OpenAI API names them.
const (
	FinishStop   = "stop"   // the model ended the text or a stop string matched
	FinishLength = "length" // MaxTokens or the context length was reached
)

// Result is what a finished generation reports.
type Result struct {
	PromptTokens     int
	CompletionTokens int
	Finish           string
}

// Generator produces text for one model version. Implementations are safe
// for concurrent use.
type Generator interface {
	// ContextLength is the most tokens prompt and completion may hold.
	ContextLength() int
	// MaxOutputTokens is the default and largest completion length.
	MaxOutputTokens() int
	// CountPromptTokens is the exact number of prompt tokens req costs
	// (chat template included), computed without generating.
	CountPromptTokens(req Request) (int, error)
	// Generate runs req and calls emit with each piece of text as it is
	// produced, in order. It returns when the text ends, MaxTokens is
	// reached, emit returns an error (that error is returned) or ctx is
	// done (ctx.Err() is returned): a client that disconnects stops the
	// work.
	Generate(ctx context.Context, req Request, emit func(text string) error) (Result, error)
}

// ErrPromptTooLong reports a prompt that leaves no room for one completion
// token in the context window.
var ErrPromptTooLong = errors.New("the prompt does not fit the model's context window")

// UpstreamError reports a failure of an OpenAI-compatible upstream; Status is
// its HTTP status (0 when it could not be reached).
type UpstreamError struct {
	Status int
	Detail string
	// RetryAfter is the upstream's Retry-After in seconds (429 and 503).
	RetryAfter int
}

func (e *UpstreamError) Error() string { return "upstream: " + e.Detail }
