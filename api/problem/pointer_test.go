package problem

import (
	"reflect"
	"testing"
)

func TestEscapePointer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{name: "leaves a plain token alone", token: "inputs", want: "inputs"},
		{name: "escapes a slash", token: "a/b", want: "a~1b"},
		{name: "escapes a tilde", token: "a~b", want: "a~0b"},
		{name: "escapes the tilde before the slash", token: "~/", want: "~0~1"},
		{name: "does not re-read its own escapes", token: "~1", want: "~01"},
		{name: "keeps the empty token", token: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := EscapePointer(tc.token); got != tc.want {
				t.Fatalf("EscapePointer(%q) = %q, want %q", tc.token, got, tc.want)
			}
		})
	}
}

func TestPointer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tokens []string
		want   string
	}{
		{name: "no tokens is the whole document", tokens: nil, want: ""},
		{name: "joins tokens with slashes", tokens: []string{"inputs", "0", "sepal_length"}, want: "/inputs/0/sepal_length"},
		{name: "escapes every token", tokens: []string{"a/b", "c~d"}, want: "/a~1b/c~0d"},
		{name: "an empty member name is an empty token", tokens: []string{""}, want: "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Pointer(tc.tokens...); got != tc.want {
				t.Fatalf("Pointer(%q) = %q, want %q", tc.tokens, got, tc.want)
			}
		})
	}
}

func TestPointerTokens(t *testing.T) {
	t.Parallel()
	for _, toks := range [][]string{nil, {"inputs", "0", "a/b"}, {"~x", ""}} {
		if got := PointerTokens(Pointer(toks...)); !reflect.DeepEqual(got, toks) {
			t.Errorf("PointerTokens(Pointer(%q)) = %q", toks, got)
		}
	}
}
