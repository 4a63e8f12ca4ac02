package upstream

import (
	"bytes"
	"testing"
)

// FuzzStreamEvents feeds an upstream's answer, which no one here controls,
// to the event reader: it never panics, emits no more text than it was
// given, and reads one line of at most the scanner's 1 MiB.
func FuzzStreamEvents(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"In\"}}]}\n\ndata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n"))
	f.Add([]byte(": keep-alive\n\nevent: x\ndata:{\"choices\":null}\n\n"))
	f.Add([]byte("data: {\"error\":{\"message\":\"overloaded\"}}\n\n"))
	f.Add([]byte("data: {\"choices\":[{\"text\":\"a\"}]\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		emitted := 0
		s := &stream{emit: func(text string) error { emitted += len(text); return nil }}
		_ = s.events(bytes.NewReader(body))
		if emitted > len(body) {
			t.Fatalf("emitted %d bytes of text from a %d-byte answer", emitted, len(body))
		}
		w := &stream{emit: func(string) error { return nil }}
		_ = w.whole(bytes.NewReader(body))
	})
}
