package openai_test

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/internal/rawjson"
)

// FuzzDecode throws arbitrary bodies at both request decoders. Whatever the
// input, the result is a request within the limits, a *RequestError with
// at least one violation, or a *rawjson.SyntaxError; never a panic. A
// decoded request re-encodes to a body that decodes to the same request.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"model":"scribe","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"scribe:1","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"stop":["x","y"],"seed":-1}`,
		`{"model":"m","prompt":["p"],"max_tokens":3,"temperature":0,"top_p":1,"n":1}`,
		`{"model":"m","MODEL":"n","messages":[]}`, `{"model":"m","\u006dodel":"n"}`,
		`{"model":"m","messages":[{"role":"user","content":null}],"max_tokens":1e3,"stop":"\ud800"}`,
		`[]`, `null`, `{`, `{"messages":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add(uint8(0), s)
		f.Add(uint8(1), s)
	}
	lim := openai.Limits{MaxMessages: 4, MaxContentBytes: 64}
	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		var err error
		var s *openai.Sampling
		var again func([]byte) (any, error)
		var got any
		if kind%2 == 0 {
			var req *openai.ChatCompletionRequest
			req, err = openai.DecodeChatRequest([]byte(body), lim)
			if err == nil {
				s, got = &req.Sampling, req
				if len(req.Messages) == 0 || len(req.Messages) > lim.MaxMessages {
					t.Fatalf("%d messages", len(req.Messages))
				}
				again = func(b []byte) (any, error) { return openai.DecodeChatRequest(b, lim) }
			}
		} else {
			var req *openai.CompletionRequest
			req, err = openai.DecodeCompletionRequest([]byte(body), lim)
			if err == nil {
				s, got = &req.Sampling, req
				again = func(b []byte) (any, error) { return openai.DecodeCompletionRequest(b, lim) }
			}
		}
		if err != nil {
			var re *openai.RequestError
			var se *rawjson.SyntaxError
			switch {
			case errors.As(err, &re):
				if len(re.Violations) == 0 {
					t.Fatal("a request error without violations")
				}
			case errors.As(err, &se):
			default:
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if s.N != nil && *s.N != 1 || len(s.Stop) > 4 {
			t.Fatalf("out of bounds: %+v", s)
		}
		if s.Temperature != nil && (*s.Temperature < 0 || *s.Temperature > 2) || s.TopP != nil && (*s.TopP <= 0 || *s.TopP > 1) {
			t.Fatalf("out of range: %+v", s)
		}
		for _, st := range s.Stop {
			if st == "" || len(st) > 64 || !utf8.ValidString(st) {
				t.Fatalf("bad stop %q", st)
			}
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := again(b)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", b, err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Fatalf("round trip changed the request:\n%s\n%s", b, b2)
		}
	})
}
