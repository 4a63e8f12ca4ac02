package llm

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// runStopper feeds text byte by byte and returns every emitted piece and
// whether a stop string ended it.
func runStopper(text string, stops []string) (pieces []string, stopped bool) {
	var s stopper
	s.reset(stops)
	for i := 0; i < len(text); i++ {
		out, done := s.push(text[i])
		if len(out) > 0 {
			pieces = append(pieces, string(out))
		}
		if done {
			return pieces, true
		}
	}
	if out := s.flush(); len(out) > 0 {
		pieces = append(pieces, string(out))
	}
	return pieces, false
}

func TestStopper(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		text        string
		stops       []string
		want        string
		wantPieces  []string
		wantStopped bool
	}{
		{
			name: "emits every byte at once without stop strings",
			text: "abc", want: "abc", wantPieces: []string{"a", "b", "c"},
		},
		{
			name: "ends before a stop string split across tokens",
			text: "Amen. And", stops: []string{". A"}, want: "Amen", wantStopped: true,
		},
		{
			name: "holds back a possible stop prefix and releases it when it diverges",
			text: "a.b", stops: []string{".c"}, want: "a.b", wantPieces: []string{"a", ".b"},
		},
		{
			name: "finds an overlapping stop string",
			text: "xaaab", stops: []string{"aab"}, want: "xa", wantStopped: true,
		},
		{
			name: "stops at the earliest of several stop strings",
			text: "the LORD God", stops: []string{"God", "LORD"}, want: "the ", wantStopped: true,
		},
		{
			name: "never splits a multibyte character",
			text: "é€😀", want: "é€😀", wantPieces: []string{"é", "€", "😀"},
		},
		{
			name: "matches a multibyte stop string",
			text: "Café — fin", stops: []string{"—"}, want: "Café ", wantStopped: true,
		},
		{
			name: "emits an invalid byte as U+FFFD",
			text: "a\xffb", want: "a\uFFFDb",
		},
		{
			name: "replaces a character cut off at the end",
			text: "a\xe2\x82", want: "a\uFFFD\uFFFD",
		},
		{
			name: "cuts the longest of stop strings completed by the same byte",
			text: "xab", stops: []string{"b", "ab"}, want: "x", wantStopped: true,
		},
		{
			name: "ignores the empty stop string",
			text: "abc", stops: []string{""}, want: "abc",
		},
		{
			name: "stops on the very first bytes",
			text: "stop here", stops: []string{"stop"}, want: "", wantStopped: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pieces, stopped := runStopper(tt.text, tt.stops)
			require.Equal(t, tt.wantStopped, stopped)
			require.Equal(t, tt.want, strings.Join(pieces, ""))
			if tt.wantPieces != nil {
				require.Equal(t, tt.wantPieces, pieces)
			}
			for _, p := range pieces {
				require.True(t, utf8.ValidString(p), "piece %q", p)
			}
		})
	}
}

// FuzzStopper checks the stopper against a direct reference on arbitrary
// bytes and stop strings: every piece is valid UTF-8, and the pieces
// together are the text up to the first completed stop string, invalid
// bytes replaced.
func FuzzStopper(f *testing.F) {
	f.Add("Amen. And", ". A", "")
	f.Add("xaaab", "aab", "b")
	f.Add("Café — fin\xff", "—", "\xe2")
	f.Add("a\xe2\x82\xac", "\x82", "")
	f.Fuzz(func(t *testing.T, text, stop1, stop2 string) {
		if len(text) > 4096 || len(stop1) > 64 || len(stop2) > 64 {
			t.Skip()
		}
		stops := []string{stop1, stop2}
		pieces, stopped := runStopper(text, stops)
		for _, p := range pieces {
			if !utf8.ValidString(p) {
				t.Fatalf("piece %q is not valid UTF-8", p)
			}
		}
		end, cut := len(text), false
		for i := 1; i <= len(text) && !cut; i++ {
			for _, st := range stops {
				if st != "" && strings.HasSuffix(text[:i], st) && (!cut || i-len(st) < end) {
					end, cut = i-len(st), true
				}
			}
		}
		if stopped != cut {
			t.Fatalf("stopped %v, reference %v", stopped, cut)
		}
		want := string(appendValidUTF8(nil, []byte(text[:end])))
		if got := strings.Join(pieces, ""); got != want {
			t.Fatalf("emitted %q, want %q", got, want)
		}
	})
}
