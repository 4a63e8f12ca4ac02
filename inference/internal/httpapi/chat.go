package httpapi

import (
	"net/http"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/inference/internal/llm"
)

// chatCompletions serves POST /v1/chat/completions.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSON(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := openai.DecodeChatRequest(body, openai.DefaultLimits)
	if err != nil {
		return err
	}
	return s.generate(w, r, &generation{
		op: "chat", model: req.Model,
		req:   llm.ChatRequest(req),
		limit: req.Limit(), promptPointer: "/messages",
		stream: req.Stream, includeUsage: req.IncludeUsage(),
		shape: chatShape,
	})
}

// completions serves POST /v1/completions.
func (s *Server) completions(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSON(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := openai.DecodeCompletionRequest(body, openai.DefaultLimits)
	if err != nil {
		return err
	}
	return s.generate(w, r, &generation{
		op: "text_completion", model: req.Model,
		req:   llm.Request{Prompt: req.Prompt, Params: llm.ParamsOf(&req.Sampling)},
		limit: req.Limit(), promptPointer: "/prompt",
		stream: req.Stream, includeUsage: req.IncludeUsage(),
		shape: completionShape,
	})
}

// chatShape builds chat.completion and chat.completion.chunk objects. A
// stream opens with the assistant role and empty content, as OpenAI's does.
var chatShape = shape{
	open: func(m meta) any {
		empty := ""
		return chatChunk(m, openai.ChunkChoice{Delta: openai.Delta{Role: openai.RoleAssistant, Content: &empty}})
	},
	piece: func(m meta, text string) any {
		return chatChunk(m, openai.ChunkChoice{Delta: openai.Delta{Content: &text}})
	},
	finish: func(m meta, reason string) any {
		return chatChunk(m, openai.ChunkChoice{FinishReason: &reason})
	},
	usage: func(m meta, u *openai.Usage) any {
		c := chatChunk(m)
		c.Usage = u
		return c
	},
	whole: func(m meta, text, reason string, u *openai.Usage) any {
		return openai.NewChatCompletion("chatcmpl-"+m.id, m.created, m.model, text, reason, u)
	},
}

func chatChunk(m meta, choices ...openai.ChunkChoice) openai.ChatCompletionChunk {
	if choices == nil {
		choices = []openai.ChunkChoice{}
	}
	return openai.ChatCompletionChunk{
		ID: "chatcmpl-" + m.id, Object: openai.ObjectChatCompletionChunk, Created: m.created, Model: m.model, Choices: choices,
	}
}

// completionShape builds text_completion objects; a stream has no opening
// event.
var completionShape = shape{
	piece: func(m meta, text string) any {
		return textCompletion(m, openai.CompletionChoice{Text: text})
	},
	finish: func(m meta, reason string) any {
		return textCompletion(m, openai.CompletionChoice{FinishReason: &reason})
	},
	usage: func(m meta, u *openai.Usage) any {
		c := textCompletion(m)
		c.Usage = u
		return c
	},
	whole: func(m meta, text, reason string, u *openai.Usage) any {
		c := textCompletion(m, openai.CompletionChoice{Text: text, FinishReason: &reason})
		c.Usage = u
		return c
	},
}

func textCompletion(m meta, choices ...openai.CompletionChoice) openai.Completion {
	if choices == nil {
		choices = []openai.CompletionChoice{}
	}
	return openai.Completion{
		ID: "cmpl-" + m.id, Object: openai.ObjectTextCompletion, Created: m.created, Model: m.model, Choices: choices,
	}
}
