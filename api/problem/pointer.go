package problem

import "strings"

// EscapePointer escapes one JSON Pointer reference token (RFC 6901): "~"
// becomes "~0" and "/" becomes "~1", in that order, so a member name such
// as "a/b" cannot be read back as two tokens.
func EscapePointer(token string) string {
	if !strings.ContainsAny(token, "~/") {
		return token
	}
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}

// Pointer renders reference tokens as a JSON Pointer, escaping each one:
// Pointer("inputs", "0", "a/b") is "/inputs/0/a~1b". No tokens give "", the
// whole document.
func Pointer(tokens ...string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(EscapePointer(t))
	}
	return sb.String()
}

// PointerTokens is the inverse of Pointer: the unescaped reference tokens
// of a JSON Pointer ("" has none).
func PointerTokens(pointer string) []string {
	if pointer == "" {
		return nil
	}
	toks := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	for i, t := range toks {
		if strings.Contains(t, "~") {
			toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		}
	}
	return toks
}
