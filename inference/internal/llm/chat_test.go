package llm

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChatTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		req     Request
		want    []int32
		wantErr bool
	}{
		{
			name: "ends every message with end-of-text, whatever its role",
			req: Request{Messages: []Message{
				{Role: "system", Content: "Hi"}, {Role: "user", Content: "é"}, {Role: "assistant", Content: ""},
			}},
			want: []int32{'H', 'i', EndOfText, 0xc3, 0xa9, EndOfText, EndOfText},
		},
		{
			name: "passes a plain prompt through as bytes",
			req:  Request{Prompt: "In"},
			want: []int32{'I', 'n'},
		},
		{
			name: "starts an empty prompt with end-of-text",
			req:  Request{},
			want: []int32{EndOfText},
		},
		{
			name:    "rejects messages and a prompt together",
			req:     Request{Prompt: "x", Messages: []Message{{Role: "user", Content: "y"}}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := appendPrompt(nil, tt.req, 0)
			n, nerr := promptLen(tt.req)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrBadRequest)
				require.ErrorIs(t, nerr, ErrBadRequest)
				return
			}
			require.NoError(t, err)
			require.NoError(t, nerr)
			require.Equal(t, tt.want, got)
			require.Len(t, got, n)
		})
	}
}

func TestCountPromptTokens(t *testing.T) {
	t.Parallel()
	m := &Model{cfg: config{ctx: 16}, maxOut: 8}
	tests := []struct {
		name string
		req  Request
		want int
	}{
		{"counts a byte per byte and one per message", Request{Messages: []Message{{Content: "abc"}, {Content: "€"}}}, 3 + 1 + 3 + 1},
		{"counts the empty prompt as one token", Request{}, 1},
		{"keeps room for the default completion", Request{Prompt: "0123456789abcdefXYZ"}, 16 - 8},
		{"keeps room for the requested completion", Request{Prompt: "0123456789abcdefXYZ", Params: Params{MaxTokens: 3}}, 16 - 3},
		{"caps the requested completion at the model's limit", Request{Prompt: "0123456789abcdefXYZ", Params: Params{MaxTokens: 100}}, 16 - 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := m.CountPromptTokens(tt.req)
			require.NoError(t, err)
			require.Equal(t, tt.want, n)
		})
	}
}

// FuzzChatTemplate checks on arbitrary messages that the count handlers
// charge is the number of tokens the template produces, and that every
// token is a byte or end-of-text.
func FuzzChatTemplate(f *testing.F) {
	f.Add("system", "You are terse.", "user", "Who made the heaven?", "", 7)
	f.Add("user", "\xff\xfe", "assistant", "", "", 0)
	f.Add("", "", "", "", "a plain prompt", 300)
	f.Add("system", strings.Repeat("long system prompt ", 20), "user", "and a question", "", 200)
	m := &Model{cfg: config{ctx: 256}, maxOut: 128}
	f.Fuzz(func(t *testing.T, role1, content1, role2, content2, prompt string, maxTokens int) {
		req := Request{Prompt: prompt, Params: Params{MaxTokens: maxTokens}}
		for _, msg := range []Message{{role1, content1}, {role2, content2}} {
			if msg.Role != "" || msg.Content != "" {
				req.Messages = append(req.Messages, msg)
			}
		}
		toks, err := appendPrompt(nil, req, 0)
		n, cerr := m.CountPromptTokens(req)
		if (err == nil) != (cerr == nil) {
			t.Fatalf("template error %v, count error %v", err, cerr)
		}
		if err != nil {
			return
		}
		if want := min(len(toks), m.promptRoom(req.Params)); n != want {
			t.Fatalf("counted %d, template kept %d of %d", n, want, len(toks))
		}
		// Skipping while building is the same as cutting afterwards.
		kept, _ := appendPrompt(nil, req, len(toks)-n)
		if !slices.Equal(kept, toks[len(toks)-n:]) {
			t.Fatalf("truncated while building %v, after %v", kept, toks[len(toks)-n:])
		}
		if n < 1 || n+min(m.maxTokens(req.Params), m.maxOut) > m.cfg.ctx {
			t.Fatalf("%d prompt tokens leave no room for %d completion tokens", n, m.maxTokens(req.Params))
		}
		for _, tok := range toks {
			if tok < 0 || tok > EndOfText {
				t.Fatalf("token %d out of range", tok)
			}
		}
	})
}
