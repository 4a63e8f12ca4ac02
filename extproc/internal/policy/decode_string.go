package policy

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// str decodes the string at d.pos. Member names (name) of up to 64 bytes
// without escapes are interned once a body has more than 16.
func (d *decoder) str(name bool) (string, error) {
	d.pos++
	start := d.pos
	ascii := true
	for d.pos < len(d.buf) {
		switch c := d.buf[d.pos]; {
		case c == '"':
			raw := d.buf[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(raw) {
				d.scratch = appendCoerced(d.scratch[:0], raw)
				return string(d.scratch), nil
			}
			return d.intern(raw, name), nil
		case c == '\\':
			return d.escaped(start)
		case c < ' ':
			return "", d.syntax("in string literal")
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.pos++
	}
	return "", errEnd
}

func (d *decoder) intern(raw []byte, name bool) string {
	if !name || len(raw) > 64 {
		return string(raw)
	}
	if d.names == nil {
		// Small bodies are not worth a map.
		if d.uninterned++; d.uninterned <= 16 {
			return string(raw)
		}
		d.names = make(map[string]string)
	}
	if s, ok := d.names[string(raw)]; ok {
		return s
	}
	s := string(raw)
	if len(d.names) < 256 {
		d.names[s] = s
	}
	return s
}

// appendCoerced appends raw to b with each byte that is not valid UTF-8
// replaced by U+FFFD, as encoding/json does.
func appendCoerced(b, raw []byte) []byte {
	for len(raw) > 0 {
		r, n := utf8.DecodeRune(raw)
		b = utf8.AppendRune(b, r)
		raw = raw[n:]
	}
	return b
}

// escaped decodes a string with escapes whose content starts at start; the
// first backslash is at d.pos.
func (d *decoder) escaped(start int) (string, error) {
	d.scratch = appendCoerced(d.scratch[:0], d.buf[start:d.pos])
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(d.scratch), nil
		case c == '\\':
			if err := d.escape(); err != nil {
				return "", err
			}
			continue
		case c < ' ':
			return "", d.syntax("in string literal")
		case c < utf8.RuneSelf:
			d.scratch = append(d.scratch, c)
			d.pos++
		default:
			r, n := utf8.DecodeRune(d.buf[d.pos:])
			d.scratch = utf8.AppendRune(d.scratch, r)
			d.pos += n
		}
	}
	return "", errEnd
}

// escape decodes the escape sequence at d.pos into d.scratch.
func (d *decoder) escape() error {
	if d.pos+1 >= len(d.buf) {
		return errEnd
	}
	d.pos++
	switch c := d.buf[d.pos]; c {
	case '"', '\\', '/':
		d.scratch = append(d.scratch, c)
	case 'b':
		d.scratch = append(d.scratch, '\b')
	case 'f':
		d.scratch = append(d.scratch, '\f')
	case 'n':
		d.scratch = append(d.scratch, '\n')
	case 'r':
		d.scratch = append(d.scratch, '\r')
	case 't':
		d.scratch = append(d.scratch, '\t')
	case 'u':
		r, err := d.hex4()
		if err != nil {
			return err
		}
		if utf16.IsSurrogate(r) {
			// A valid pair is one rune; anything else is U+FFFD and the
			// second escape, if any, stands on its own.
			if r2, ok := d.peekHex4(); ok {
				if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
					d.pos += 6
					r = dec
				} else {
					r = unicode.ReplacementChar
				}
			} else {
				r = unicode.ReplacementChar
			}
		}
		d.scratch = utf8.AppendRune(d.scratch, r)
		return nil
	default:
		return d.syntax("in string escape code")
	}
	d.pos++
	return nil
}

// hex4 reads the four hex digits after "\u" (d.pos is at the u).
func (d *decoder) hex4() (rune, error) {
	var r rune
	for i := 1; i <= 4; i++ {
		if d.pos+i >= len(d.buf) {
			return 0, errEnd
		}
		h, ok := unhex(d.buf[d.pos+i])
		if !ok {
			d.pos += i
			return 0, d.syntax("in \\u hexadecimal character escape")
		}
		r = r<<4 | h
	}
	d.pos += 5
	return r, nil
}

// peekHex4 reads a "\uXXXX" escape at d.pos without consuming it.
func (d *decoder) peekHex4() (rune, bool) {
	if d.pos+6 > len(d.buf) || d.buf[d.pos] != '\\' || d.buf[d.pos+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range d.buf[d.pos+2 : d.pos+6] {
		h, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | h
	}
	return r, true
}

func unhex(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}
