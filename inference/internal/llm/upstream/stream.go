package upstream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/inference/internal/llm"
)

// chunk is the part of a chat or completion chunk (or whole answer) the
// generator reads. Parsing is lenient, as servers differ: choices may be
// null on the usage chunk, and text arrives in delta.content (chat),
// message.content (a whole chat answer) or text (completions).
type chunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *openai.Usage `json:"usage"`
	Error *openai.Error `json:"error"`
}

// stream accumulates what one answer said.
type stream struct {
	emit   func(string) error
	finish string
	usage  *openai.Usage
	pieces int // content deltas emitted
	bytes  int // bytes of text emitted
	done   bool
}

// errMidStream is the status of an *llm.UpstreamError raised after the
// upstream had answered 200: the failure came inside the stream.
const errMidStream = http.StatusOK

// events reads server-sent events until [DONE]. Only data lines matter;
// comments (keep-alives), event names and ids are skipped, and a data
// line's single leading space is optional, as the SSE format allows.
func (s *stream) events(r io.Reader) error {
	sc := scanner(r)
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		data = bytes.TrimPrefix(data, []byte(" "))
		if string(bytes.TrimSpace(data)) == openai.Done {
			s.done = true
			return nil
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		if err := s.chunk(data); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return readError(err)
	}
	// Some servers close the stream without [DONE]; a finish reason
	// proves the answer is complete.
	if s.finish == "" {
		return &llm.UpstreamError{Status: errMidStream, Detail: "the stream ended before the answer was complete"}
	}
	return nil
}

// whole reads a non-streamed answer and emits its text in one piece.
func (s *stream) whole(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return readError(err)
	}
	if err := s.chunk(b); err != nil {
		return err
	}
	if s.finish == "" {
		s.finish = llm.FinishStop
	}
	return nil
}

// chunk applies one chunk: its text is emitted, its finish reason and
// usage kept, its error returned.
func (s *stream) chunk(data []byte) error {
	var c chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return &llm.UpstreamError{Status: errMidStream, Detail: "unreadable chunk: " + cut(err.Error())}
	}
	if c.Error != nil {
		return &llm.UpstreamError{Status: errMidStream, Detail: cut(c.Error.Message)}
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	for _, ch := range c.Choices {
		text := ch.Delta.Content + ch.Message.Content + ch.Text
		if text != "" {
			if err := s.emit(text); err != nil {
				return err
			}
			s.pieces++
			s.bytes += len(text)
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finish = finishReason(*ch.FinishReason)
		}
	}
	return nil
}

// finishReason keeps the reasons the API serves; others (tool_calls,
// content_filter) end the text as stop.
func finishReason(r string) string {
	if r == llm.FinishLength {
		return r
	}
	return llm.FinishStop
}

// readError reports a failed read of the answer; a context error is left
// for Generate to classify.
func readError(err error) error {
	if errors.Is(err, errTooLarge) {
		return &llm.UpstreamError{Status: errMidStream, Detail: err.Error()}
	}
	if errors.Is(err, bufio.ErrTooLong) {
		return &llm.UpstreamError{Status: errMidStream, Detail: "an event line over 1 MiB"}
	}
	return &llm.UpstreamError{Status: errMidStream, Detail: "read: " + cut(err.Error())}
}
