package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/api/problem"
)

// Caps on what one refusal reports, so that the problem body of a hostile
// request stays small whatever the body held.
const (
	// MaxViolations is the most violations one answer lists; a final
	// note says how many more there were.
	MaxViolations = 100
	// MaxPointerBytes and MaxDetailBytes bound a violation's pointer and
	// detail; longer ones are cut and end in [Ellipsis].
	MaxPointerBytes = 256
	MaxDetailBytes  = 256
	// MaxViolationBytes bounds the violations of one answer as JSON, so
	// that its problem body stays within about 32 KiB.
	MaxViolationBytes = 24 << 10
)

// Ellipsis ends a pointer or detail that was cut to its limit. A pointer
// that ends in it is not a JSON Pointer any more but says where to look.
const Ellipsis = "…"

// The note that ends a list of violations that was cut.
const (
	noteSuffix    = " more violations not listed"
	noteSuffixOne = " more violation not listed"
	noteAtLeast   = "at least "
)

// violationOverhead is the JSON of a violation without its two strings:
// {"pointer":"","detail":""} and a comma.
const violationOverhead = len(`{"pointer":"","detail":""},`)

// limitViolations returns vs sorted by pointer and detail, without
// duplicates, with pointers and details cut to their limits and at most
// MaxViolations of them within MaxViolationBytes. omitted violations were
// dropped before; when atLeast they are a lower bound (checking stopped
// early). A final note violation counts every violation not listed.
func limitViolations(vs []problem.Violation, omitted int, atLeast bool) []problem.Violation {
	vs, more, moreAtLeast := splitNote(vs)
	omitted += more
	atLeast = atLeast || moreAtLeast
	vs = sortCompact(vs)
	// Violations that differ only past the cut become one line; the
	// others they stood for are counted as not listed.
	cut := false
	for i := range vs {
		p, d := truncate(vs[i].Pointer, MaxPointerBytes), truncate(vs[i].Detail, MaxDetailBytes)
		cut = cut || len(p) != len(vs[i].Pointer) || len(d) != len(vs[i].Detail)
		vs[i].Pointer, vs[i].Detail = p, d
	}
	if cut {
		n := len(vs)
		vs = sortCompact(vs)
		omitted += n - len(vs)
	}
	size, keep := 0, 0
	for keep < len(vs) && keep < MaxViolations {
		size += violationOverhead + jsonLen(vs[keep].Pointer) + jsonLen(vs[keep].Detail)
		if size > MaxViolationBytes {
			break
		}
		keep++
	}
	omitted += len(vs) - keep
	vs = vs[:keep]
	if omitted > 0 {
		vs = append(vs, note(omitted, atLeast))
	}
	return vs
}

func sortCompact(vs []problem.Violation) []problem.Violation {
	slices.SortFunc(vs, func(a, b problem.Violation) int {
		if c := strings.Compare(a.Pointer, b.Pointer); c != 0 {
			return c
		}
		return strings.Compare(a.Detail, b.Detail)
	})
	return slices.Compact(vs)
}

// note is the violation that ends a cut list.
func note(omitted int, atLeast bool) problem.Violation {
	detail := strconv.Itoa(omitted) + noteSuffix
	if omitted == 1 {
		detail = "1" + noteSuffixOne
	}
	if atLeast {
		detail = noteAtLeast + detail
	}
	return problem.Violation{Pointer: "", Detail: detail}
}

// splitNote takes the note off the end of vs, if there is one.
func splitNote(vs []problem.Violation) (rest []problem.Violation, omitted int, atLeast bool) {
	if len(vs) == 0 {
		return vs, 0, false
	}
	last := vs[len(vs)-1]
	count, ok := strings.CutSuffix(last.Detail, noteSuffix)
	if !ok {
		count, ok = strings.CutSuffix(last.Detail, noteSuffixOne)
	}
	if last.Pointer != "" || !ok {
		return vs, 0, false
	}
	count, atLeast = strings.CutPrefix(count, noteAtLeast)
	n, err := strconv.Atoi(count)
	if err != nil || n <= 0 {
		return vs, 0, false
	}
	return vs[:len(vs)-1], n, atLeast
}

// countViolations returns how many violations vs stands for: the listed
// ones and those its note counts.
func countViolations(vs []problem.Violation) (n int, atLeast bool) {
	rest, omitted, atLeast := splitNote(vs)
	return len(rest) + omitted, atLeast
}

// truncate cuts s to at most limit bytes on a rune boundary, ending it in
// Ellipsis. A cut pointer does not end in half of a "~0" or "~1" escape.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := limit - len(Ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	s = strings.TrimSuffix(s[:n], "~")
	return s + Ellipsis
}

// jsonLen is the length of s as encoding/json writes it, quotes excluded:
// HTML characters and control characters as \u escapes, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func jsonLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < ' ' || c == '<' || c == '>' || c == '&': // \b and \f too, in older Go
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}

// describeCount renders a violation count for error messages.
func describeCount(n int, atLeast bool) string {
	if atLeast {
		return fmt.Sprintf("at least %d place(s)", n)
	}
	return fmt.Sprintf("%d place(s)", n)
}
