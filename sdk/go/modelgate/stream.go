package modelgate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/modelgate/modelgate/api/openai"
)

// Stream reads the chunks of a streamed completion:
//
//	for s.Next() { use(s.Current()) }
//	if err := s.Err(); err != nil { ... }
//
// Next returns false at [DONE], on an error event (Err is a *StreamError),
// or when the connection breaks (Err is a *ConnectionError). Close drops
// the connection; call it (defer) when stopping early.
type Stream[T any] struct {
	resp    *http.Response
	cancel  context.CancelFunc
	scanner *bufio.Scanner
	cur     T
	err     error
	done    bool
}

func newStream[T any](resp *http.Response, cancel context.CancelFunc) *Stream[T] {
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	return &Stream[T]{resp: resp, cancel: cancel, scanner: sc}
}

// Response is the HTTP answer that carries the stream (headers such as x-request-id).
func (s *Stream[T]) Response() *http.Response { return s.resp }

// Next advances to the next chunk.
func (s *Stream[T]) Next() bool {
	if s.done {
		return false
	}
	var event string
	var data []string
	for s.scanner.Scan() {
		line := strings.TrimSuffix(s.scanner.Text(), "\r")
		if line == "" {
			if len(data) == 0 {
				event = ""
				continue
			}
			if s.dispatch(event, strings.Join(data, "\n")) {
				return true
			}
			return false
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "data":
			data = append(data, value)
		case "event":
			event = value
		}
	}
	if len(data) > 0 && s.dispatch(event, strings.Join(data, "\n")) {
		return true
	}
	if s.done {
		return false
	}
	err := s.scanner.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	s.fail(&ConnectionError{Timeout: errors.Is(err, context.DeadlineExceeded), Err: err})
	return false
}

func (s *Stream[T]) dispatch(event, data string) bool {
	if data == openai.Done {
		s.finish()
		return false
	}
	var probe struct {
		Error   json.RawMessage `json:"error"`
		Choices json.RawMessage `json:"choices"`
	}
	_ = json.Unmarshal([]byte(data), &probe)
	if event == "error" || (len(probe.Error) > 0 && len(probe.Choices) == 0) {
		var e struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		}
		_ = json.Unmarshal(probe.Error, &e)
		s.fail(&StreamError{Message: e.Message, Type: e.Type, Code: e.Code, RequestID: s.resp.Header.Get("x-request-id")})
		return false
	}
	var v T
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		s.fail(&StreamError{Message: "malformed stream event: " + err.Error()})
		return false
	}
	s.cur = v
	return true
}

func (s *Stream[T]) fail(err error) {
	s.err = err
	s.finish()
}

func (s *Stream[T]) finish() {
	s.done = true
	_ = s.Close()
}

// Current is the chunk Next advanced to.
func (s *Stream[T]) Current() T { return s.cur }

// Err is why the stream ended, nil after [DONE].
func (s *Stream[T]) Err() error { return s.err }

// Close drops the connection. It is safe to call more than once.
func (s *Stream[T]) Close() error {
	s.done = true
	err := s.resp.Body.Close()
	s.cancel()
	return err
}
