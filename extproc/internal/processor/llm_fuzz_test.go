package processor_test

import "testing"

// FuzzChat drives the chat processor as Envoy would with a client's body
// and a response split into two chunks at any byte: it never panics, and
// what it passes on is never more than what came (events are only held
// back or removed, never made up).
func FuzzChat(f *testing.F) {
	f.Add(`{"model":"scribe","stream":true,"messages":[{"role":"user","content":"x"}]}`, roleChunk+textChunk+usageChunk+doneChunk, 40)
	f.Add(`{"model":"scribe","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":3}`, `{"usage":{"prompt_tokens":1}}`, 5)
	f.Add(`{"model":"scribe:1","stream":true,"stream_options":{"include_usage":true},"messages":[]}`, "data: {\"usage\":null}\n\ndata", 3)
	f.Fuzz(func(t *testing.T, reqBody, respBody string, cut int) {
		e := newLLMEnv(t)
		_, p := e.start(t, e.chat, post("/v1/chat/completions", "key-acme"))
		if _, err := p.RequestBody(t.Context(), body(reqBody)); err != nil {
			return // refused: a problem answer, nothing else happens
		}
		if _, err := p.ResponseHeaders(t.Context(), sse()); err != nil {
			t.Fatal(err)
		}
		cut = min(max(cut, 0), len(respBody))
		passed := 0
		for i, c := range []string{respBody[:cut], respBody[cut:]} {
			resp, err := p.ResponseBody(t.Context(), chunk(c, i == 1))
			if err != nil {
				t.Fatal(err)
			}
			if m := resp.GetResponseBody().GetResponse().GetBodyMutation(); m != nil {
				passed += len(m.GetBody())
			} else {
				passed += len(c)
			}
		}
		if passed > len(respBody) {
			t.Fatalf("passed on %d bytes of a %d-byte answer", passed, len(respBody))
		}
	})
}
