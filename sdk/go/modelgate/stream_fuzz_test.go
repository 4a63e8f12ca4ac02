package modelgate

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/modelgate/modelgate/api/openai"
)

// FuzzStream feeds arbitrary bytes to the SSE reader: it must end (at
// [DONE], an error event or EOF) without panicking, and never yield after
// reporting an error.
func FuzzStream(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte(": ping\r\n\r\nevent: error\r\ndata: {\"error\":{\"message\":\"x\"}}\r\n\r\n"))
	f.Add([]byte("data: {\"a\":\ndata: 1}\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp := &http.Response{Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		s := newStream[openai.ChatCompletionChunk](resp, func() {})
		for n := 0; s.Next(); n++ {
			if n > len(body) {
				t.Fatalf("more chunks than bytes")
			}
		}
		if s.Next() {
			t.Fatalf("Next after the end")
		}
	})
}
