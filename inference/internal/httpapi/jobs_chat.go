package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/inference/internal/jobs"
	"github.com/modelgate/modelgate/inference/internal/llm"
)

// chatJobMembers are the members a chat completion job body may have: the
// chat completion members served (a job is stricter than the route, which
// ignores unknown members) and the job's own.
var chatJobMembers = []string{
	"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "seed", "stop",
	"stream", "webhook", "webhook_events_filter", "metadata",
}

// decodeChatJob checks a chat completion job body (one with a messages
// member; obj is it parsed) as /v1/chat/completions
// checks its body (and refuses stream: the completion is the job's
// result), resolves the text-generation version and checks the prompt
// against its context window, so that a job that cannot run is refused
// now rather than failed later.
func (s *Server) decodeChatJob(w http.ResponseWriter, r *http.Request, who string, body []byte, obj *object) (jobs.NewJob, error) {
	obj.refuseUnknown(chatJobMembers...)
	var req api.CreateRequest
	s.jobMembers(obj, r, who, &req)
	chat, err := openai.DecodeChatRequest(body, openai.DefaultLimits)
	var re *openai.RequestError
	switch {
	case errors.As(err, &re):
		obj.violations = append(obj.violations, re.Violations...)
	case err != nil:
		return jobs.NewJob{}, err
	}
	if chat != nil && chat.Stream {
		obj.add("/stream", "a job is not streamed: its result is the whole chat.completion; "+
			"stream with POST /v1/chat/completions, or leave stream out")
	}
	if chat == nil || chat.Model == "" || len(obj.violations) > 0 {
		return jobs.NewJob{}, validationProblem(obj.violations)
	}
	v, err := s.llmVersion(w, r, infoFrom(r.Context()), chat.Model)
	if err != nil {
		return jobs.NewJob{}, err
	}
	lr := llm.ChatRequest(chat)
	if _, err := llm.Prepare(v.Generator, &lr, chat.Limit()); err != nil {
		var ce *llm.ContextError
		if errors.As(err, &ce) {
			return jobs.NewJob{}, contextProblem("/messages", ce.Detail)
		}
		return jobs.NewJob{}, err
	}
	input, err := json.Marshal(jobs.ChatInput{RequestID: infoFrom(r.Context()).id, Body: body})
	if err != nil {
		return jobs.NewJob{}, fmt.Errorf("encode job input: %w", err)
	}
	return newJob(r, body, v.Name(), v.ID(), input, 0, req), nil
}
