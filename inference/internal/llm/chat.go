package llm

import (
	"errors"
	"fmt"
)

// ErrBadRequest is wrapped by errors for a Request the generator cannot
// run: neither or both of Messages and Prompt.
var ErrBadRequest = errors.New("invalid generation request")

// appendPrompt appends req's prompt tokens (the chat template applied) to
// dst, leaving out the first skip of them (left truncation, without ever
// building the dropped part).
func appendPrompt(dst []int32, req Request, skip int) ([]int32, error) {
	if len(req.Messages) > 0 && req.Prompt != "" {
		return dst, fmt.Errorf("%w: set messages or prompt, not both", ErrBadRequest)
	}
	if len(req.Messages) == 0 {
		if req.Prompt == "" {
			return append(dst, EndOfText), nil
		}
		for i := min(skip, len(req.Prompt)); i < len(req.Prompt); i++ {
			dst = append(dst, int32(req.Prompt[i]))
		}
		return dst, nil
	}
	for _, msg := range req.Messages {
		if skip > len(msg.Content) {
			skip -= len(msg.Content) + 1
			continue
		}
		for i := skip; i < len(msg.Content); i++ {
			dst = append(dst, int32(msg.Content[i]))
		}
		skip = 0
		dst = append(dst, EndOfText)
	}
	return dst, nil
}

// promptLen is the untruncated token count of req's prompt.
func promptLen(req Request) (int, error) {
	if len(req.Messages) > 0 && req.Prompt != "" {
		return 0, fmt.Errorf("%w: set messages or prompt, not both", ErrBadRequest)
	}
	if len(req.Messages) == 0 {
		return max(1, len(req.Prompt)), nil
	}
	n := 0
	for _, msg := range req.Messages {
		n += len(msg.Content) + 1
	}
	return n, nil
}

// maxTokens is the completion length a request gets: its MaxTokens, or
// the model's limit when it is unset or larger.
func (m *Model) maxTokens(p Params) int {
	if p.MaxTokens < 1 || p.MaxTokens > m.maxOut {
		return m.maxOut
	}
	return p.MaxTokens
}

// promptRoom is how many prompt tokens fit beside the completion.
func (m *Model) promptRoom(p Params) int {
	return max(1, m.cfg.ctx-m.maxTokens(p))
}

// CountPromptTokens implements [Generator.CountPromptTokens]: the chat
// template's tokens after left truncation, exactly what Generate
// evaluates and reports.
//
// The chat template: scribe was trained on plain text, verse after verse,
// each verse's UTF-8 bytes followed by the end-of-text id. It has never
// seen roles, so the template does not invent markers it would not
// understand: a chat becomes the messages' contents in order, each as its
// UTF-8 bytes followed by one end-of-text id,
//
//	content(1) <eot> content(2) <eot> ... content(n) <eot>
//
// and the reply is the next "verse", which the model ends with its own
// end-of-text. Roles (system, developer, user, assistant, tool) are
// accepted and do not change the tokens. A chat therefore costs
// sum(len(content) + 1) tokens, len counted in bytes.
//
// A plain completion's prompt is its UTF-8 bytes with nothing added, so
// the model continues the text; an empty prompt becomes one end-of-text id
// (the start of a new verse).
//
// Prompts longer than the window are truncated from the left: a request
// for max_tokens completion tokens keeps the last
// max(1, context_length - max_tokens) prompt tokens (max_tokens unset or
// above max_output_tokens counts as max_output_tokens), so the whole
// completion fits; scribe's max_output_tokens is half its context. Only a
// model whose max_output_tokens is its whole context can run out of window
// first, and then the completion ends there with FinishLength.
// The dropped tokens are neither evaluated nor charged, and
// CountPromptTokens reports what is kept. The built-in model therefore
// never returns ErrPromptTooLong.
func (m *Model) CountPromptTokens(req Request) (int, error) {
	n, err := promptLen(req)
	if err != nil {
		return 0, err
	}
	return min(n, m.promptRoom(req.Params)), nil
}
