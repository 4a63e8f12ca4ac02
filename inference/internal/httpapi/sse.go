package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/modelgate/modelgate/api/header"
)

// sse writes a server-sent event stream: each event one "data: <json>"
// line and a blank line, flushed at once so every chunk leaves as it is
// made (Envoy passes STREAMED bodies chunk by chunk). The first write error
// (the client went away) sticks: later events are dropped and the error is
// returned, which stops generation.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	err     error
}

func newSSE(w http.ResponseWriter) *sse {
	return &sse{w: w, rc: http.NewResponseController(w)}
}

// start sends the status and the stream headers once.
func (e *sse) start() {
	if e.started {
		return
	}
	e.started = true
	h := e.w.Header()
	h.Set(header.ContentType, header.MediaEventStream)
	h.Set(header.CacheControl, "no-cache")
	// Proxies that buffer by default (nginx) pass the stream through.
	h.Set("X-Accel-Buffering", "no")
	e.w.WriteHeader(http.StatusOK)
}

// event sends v as one JSON event.
func (e *sse) event(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	return e.data(b)
}

// data sends one event whose data is b (one line: JSON never holds a raw
// newline).
func (e *sse) data(b []byte) error {
	if e.err != nil {
		return e.err
	}
	e.start()
	buf := make([]byte, 0, len(b)+8)
	buf = append(append(append(buf, "data: "...), b...), "\n\n"...)
	if _, err := e.w.Write(buf); err != nil {
		e.err = fmt.Errorf("write event: %w", err)
		return e.err
	}
	if err := e.rc.Flush(); err != nil {
		e.err = fmt.Errorf("flush event: %w", err)
	}
	return e.err
}
