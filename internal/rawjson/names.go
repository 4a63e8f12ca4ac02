package rawjson

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The member-name rule both services apply to request bodies: within one
// object no member name may repeat, exactly or apart from case under
// Unicode simple case folding, the folding encoding/json uses to match
// struct fields (and strings.EqualFold implements). [CheckMembers] applies
// it to a document; a scanner of its own (extproc's one-pass decoder)
// applies it through [SameName] and [Fold], so both refuse the same names.

// DetailDuplicate is the violation detail of a member name that repeats
// an earlier one exactly.
const DetailDuplicate = "duplicate member name"

// DetailCasePrefix starts the violation detail of a member name that
// differs only in case from an earlier one; the earlier name, quoted,
// follows.
const DetailCasePrefix = "member name differs only in case from "

// SameName reports whether two member names (unescaped) break the rule
// together: equal, or equal under simple case folding.
func SameName(a, b string) bool { return strings.EqualFold(a, b) }

// Fold maps a member name to a key that two names share exactly when
// [SameName] holds, for objects too wide to compare names pairwise: each
// rune becomes the smallest of its simple-folding orbit, lower-cased when
// that is ASCII. A name of lower-case ASCII (feature names mostly are) is
// its own fold and costs no allocation.
func Fold(name string) string {
	i := 0
	for i < len(name) && name[i] < utf8.RuneSelf && (name[i] < 'A' || name[i] > 'Z') {
		i++
	}
	if i == len(name) {
		return name
	}
	var sb strings.Builder
	sb.Grow(len(name))
	sb.WriteString(name[:i])
	for _, r := range name[i:] {
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
