package rawjson

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// The JSON syntax [CheckMembers] walks: RFC 8259 as encoding/json accepts
// it (invalid UTF-8 inside strings included).

// SyntaxError reports data that is not JSON.
type SyntaxError struct {
	Offset int64 // byte offset of the problem
	msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.Offset) }

func (s *memberScan) fail(msg string) error {
	return &SyntaxError{Offset: int64(s.pos), msg: msg}
}

func (s *memberScan) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// str scans a string starting at its opening quote. raw is its content
// between the quotes; plain means raw needs no unescaping (no escapes, all
// ASCII), so it is the string itself.
func (s *memberScan) str() (raw []byte, plain bool, err error) {
	s.pos++ // opening quote
	start := s.pos
	plain = true
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			raw = s.data[start:s.pos]
			s.pos++
			return raw, plain, nil
		case c == '\\':
			plain = false
			if err := s.escape(); err != nil {
				return nil, false, err
			}
			continue
		case c < 0x20:
			return nil, false, s.fail(fmt.Sprintf("invalid character %q in string literal", c))
		case c >= utf8.RuneSelf:
			plain = false
		}
		s.pos++
	}
	return nil, false, s.fail("unexpected end of JSON input")
}

// escape scans one backslash escape.
func (s *memberScan) escape() error {
	s.pos++ // backslash
	if s.pos == len(s.data) {
		return s.fail("unexpected end of JSON input")
	}
	switch s.data[s.pos] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos++
		return nil
	case 'u':
		s.pos++
		for range 4 {
			if s.pos == len(s.data) {
				return s.fail("unexpected end of JSON input")
			}
			if !isHex(s.data[s.pos]) {
				return s.fail(fmt.Sprintf("invalid character %q in \\u hexadecimal character escape", s.data[s.pos]))
			}
			s.pos++
		}
		return nil
	default:
		return s.fail(fmt.Sprintf("invalid character %q in string escape code", s.data[s.pos]))
	}
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func (s *memberScan) literal(word string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		return s.fail("invalid literal, want " + word)
	}
	s.pos += len(word)
	return nil
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *memberScan) number() error {
	if s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case s.pos < len(s.data) && '1' <= s.data[s.pos] && s.data[s.pos] <= '9':
		s.digits()
	default:
		return s.fail("invalid number: want a digit")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.fail("invalid number: want a digit after the decimal point")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.fail("invalid number: want a digit in the exponent")
		}
	}
	return nil
}

func (s *memberScan) digits() int {
	start := s.pos
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}
