package policy

import "strconv"

// Limits of number literals. The schema validator compares numbers as
// exact rationals: 1e1000000 takes it 100 ms to find an integer of at
// least 0, and a body holds a hundred thousand of them (issue 13). No
// float64 or int64, which inference decodes numbers into, needs more.
const (
	// MaxNumberBytes is the longest number literal: 17 significant
	// digits make any float64, 20 any int64.
	MaxNumberBytes = 128
	// MaxExponent bounds the exponent of a number literal (1e-400 to
	// 1e400): float64 ends at 1.8e308, and its smallest subnormal is
	// 4.9e-324.
	MaxExponent = 400
)

// checkExponent reports the exponent digits of a number literal past
// MaxExponent.
func (d *decoder) checkExponent(digits []byte) {
	for len(digits) > 1 && digits[0] == '0' {
		digits = digits[1:]
	}
	if n, err := strconv.Atoi(string(digits)); len(digits) > 3 || err != nil || n > MaxExponent {
		d.add("number exponent exceeds the limit of " + strconv.Itoa(MaxExponent))
	}
}

func (d *decoder) number() (any, error) {
	start := d.pos
	if d.buf[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos >= len(d.buf):
		return nil, errEnd
	case d.buf[d.pos] == '0':
		d.pos++
	case '1' <= d.buf[d.pos] && d.buf[d.pos] <= '9':
		d.digits()
	default:
		return nil, d.syntax("in numeric literal")
	}
	if d.pos < len(d.buf) && d.buf[d.pos] == '.' {
		d.pos++
		if !d.digits() {
			return nil, d.syntaxOrEnd("after decimal point in numeric literal")
		}
	}
	if d.pos < len(d.buf) && (d.buf[d.pos] == 'e' || d.buf[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.buf) && (d.buf[d.pos] == '+' || d.buf[d.pos] == '-') {
			d.pos++
		}
		exp := d.pos
		if !d.digits() {
			return nil, d.syntaxOrEnd("in exponent of numeric literal")
		}
		d.checkExponent(d.buf[exp:d.pos])
	}
	if d.pos-start > MaxNumberBytes {
		d.add("number of " + strconv.Itoa(d.pos-start) + " bytes exceeds the limit of " + strconv.Itoa(MaxNumberBytes) + " bytes")
	}
	return d.scalar(kindNumber, d.buf[start:d.pos])
}

// digits consumes a run of decimal digits and reports whether there was one.
func (d *decoder) digits() bool {
	start := d.pos
	for d.pos < len(d.buf) && '0' <= d.buf[d.pos] && d.buf[d.pos] <= '9' {
		d.pos++
	}
	return d.pos > start
}

func (d *decoder) literal(word string) error {
	for i := range len(word) {
		if d.pos >= len(d.buf) {
			return errEnd
		}
		if d.buf[d.pos] != word[i] {
			return d.syntax("in literal " + word + " (expecting " + strconv.QuoteRune(rune(word[i])) + ")")
		}
		d.pos++
	}
	return nil
}
