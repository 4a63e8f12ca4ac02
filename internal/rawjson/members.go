package rawjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/modelgate/modelgate/api/problem"
)

// Limits bound the work [CheckMembers] does and the size of what it
// reports.
type Limits struct {
	// MaxDepth is the deepest nesting of objects and arrays allowed; the
	// top-level value is depth 1.
	MaxDepth int
	// MaxViolations caps how many violations are reported. Whatever the
	// cap, the violations together never take more bytes than the
	// document itself (plus a little), so an answer listing them cannot
	// outgrow the request.
	MaxViolations int
}

// DefaultLimits are the limits both services apply to request bodies.
var DefaultLimits = Limits{MaxDepth: 32, MaxViolations: 1000}

// detailCase is the case-variant detail when the earlier name is too
// long to quote.
const detailCase = DetailCasePrefix + "an earlier member"

// maxQuoted is the longest earlier member name a case-variant violation
// quotes.
const maxQuoted = 64

// pairwiseMax is the object size up to which member names are compared
// pairwise; larger objects switch to a map of folded names.
const pairwiseMax = 8

// CheckMembers enforces the member-name rule on a JSON document (see
// [SameName]): within one object no member name may repeat, exactly or
// differing only in case (Unicode simple case folding, as encoding/json
// and strings.EqualFold fold). Go's encoding/json keeps the last of two equal names and matches
// struct fields case-insensitively, while other readers (a cache key, a
// schema validator) may take the first or the exact-case one; refusing such
// bodies means every reader sees the same request. Member names compare
// after unescaping, so "\u0069d" repeats "id".
//
// Each repeated member is one violation located by its JSON Pointer; the
// first occurrence is not reported. Nesting deeper than lim.MaxDepth is one
// violation at the first value too deep; names below that depth are not
// checked, only the syntax. The violations are those of a prefix of the
// document, in order, as many as the limits allow (zero limits mean
// DefaultLimits'). Data that is not JSON is a *SyntaxError. Time and memory
// are linear in len(data).
func CheckMembers(data []byte, lim Limits) ([]problem.Violation, error) {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultLimits.MaxDepth
	}
	if lim.MaxViolations <= 0 {
		lim.MaxViolations = DefaultLimits.MaxViolations
	}
	s := &memberScan{data: data, lim: lim, budget: len(data) + 1024, stack: make([]frame, 0, 8)}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.vs, nil
}

// frame is one open object or array.
type frame struct {
	object bool
	index  int      // arrays: the current element
	key    []byte   // objects: the current member's name, unescaped
	names  [][]byte // objects: the names seen so far, unescaped
	folded map[string]int
}

type memberScan struct {
	data  []byte
	pos   int
	lim   Limits
	stack []frame // the open containers up to lim.MaxDepth
	// over holds the open containers beyond lim.MaxDepth, true for an
	// object: one byte a level, as only the syntax is checked there.
	over   []bool
	vs     []problem.Violation
	budget int  // bytes of violations still allowed
	full   bool // a violation did not fit: report no more
}

// run scans the document: a value, then only whitespace. It loops rather
// than recurses, so nesting costs a frame on the stack slice, not a Go
// stack frame.
func (s *memberScan) run() error {
	for {
		opened, err := s.value()
		if err != nil {
			return err
		}
		if opened && !s.closes() {
			if s.topObject() {
				if err := s.name(); err != nil {
					return err
				}
			}
			continue // the first member's or element's value
		}
		next, err := s.afterValue()
		if err != nil || !next {
			return err
		}
	}
}

// closes consumes the closing bracket of a container just opened, if it is
// empty.
func (s *memberScan) closes() bool {
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == s.closer() {
		s.pos++
		s.pop()
		return true
	}
	return false
}

// depth is the number of open containers.
func (s *memberScan) depth() int { return len(s.stack) + len(s.over) }

// topObject reports whether the innermost open container is an object.
func (s *memberScan) topObject() bool {
	if len(s.over) > 0 {
		return s.over[len(s.over)-1]
	}
	return s.stack[len(s.stack)-1].object
}

// closer is the byte that closes the innermost open container.
func (s *memberScan) closer() byte {
	if s.topObject() {
		return '}'
	}
	return ']'
}

// tracked returns the innermost open container's frame, or nil beyond
// lim.MaxDepth.
func (s *memberScan) tracked() *frame {
	if len(s.over) > 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

func (s *memberScan) pop() {
	if len(s.over) > 0 {
		s.over = s.over[:len(s.over)-1]
		return
	}
	s.stack = s.stack[:len(s.stack)-1]
}

// afterValue closes containers until another value is due (next) or the
// document has ended.
func (s *memberScan) afterValue() (next bool, err error) {
	for {
		s.ws()
		if s.depth() == 0 {
			if s.pos != len(s.data) {
				return false, s.fail("invalid character after top-level value")
			}
			return false, nil
		}
		if s.pos == len(s.data) {
			return false, s.fail("unexpected end of JSON input")
		}
		c := s.data[s.pos]
		switch {
		case c == ',' && s.topObject():
			s.pos++
			return true, s.name()
		case c == ',':
			s.pos++
			if f := s.tracked(); f != nil {
				f.index++
			}
			return true, nil
		case c == s.closer():
			s.pos++
			s.pop()
		default:
			kind := "array"
			if s.topObject() {
				kind = "object"
			}
			return false, s.fail(fmt.Sprintf("invalid character %q after %s element", c, kind))
		}
	}
}

// value scans one scalar value, or opens an object or array (opened) and
// leaves it on the stack for run to continue.
func (s *memberScan) value() (opened bool, err error) {
	s.ws()
	if s.pos == len(s.data) {
		return false, s.fail("unexpected end of JSON input")
	}
	switch c := s.data[s.pos]; {
	case c == '{' || c == '[':
		s.pos++
		s.push(c == '{')
		return true, nil
	case c == '"':
		_, _, err := s.str()
		return false, err
	case c == 't':
		return false, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return false, s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return false, s.number()
	default:
		return false, s.fail(fmt.Sprintf("invalid character %q looking for beginning of value", c))
	}
}

// push opens a container, reusing the frame's buffers from earlier objects
// at the same depth, and reports the first container too deep.
func (s *memberScan) push(object bool) {
	if s.depth() >= s.lim.MaxDepth {
		if len(s.over) == 0 && !s.full {
			s.report(s.pointer(len(s.stack)), fmt.Sprintf("nested deeper than %d levels", s.lim.MaxDepth))
			s.full = true // a document this deep is refused whatever else is wrong
		}
		s.over = append(s.over, object)
		return
	}
	if len(s.stack) < cap(s.stack) {
		s.stack = s.stack[:len(s.stack)+1]
		f := &s.stack[len(s.stack)-1]
		f.object, f.index, f.key, f.names, f.folded = object, 0, nil, f.names[:0], nil
	} else {
		s.stack = append(s.stack, frame{object: object})
	}
}

// name reads a member name and its colon and, within lim.MaxDepth, checks
// the name against the object's earlier ones.
func (s *memberScan) name() error {
	s.ws()
	if s.pos == len(s.data) || s.data[s.pos] != '"' {
		if s.pos == len(s.data) {
			return s.fail("unexpected end of JSON input")
		}
		return s.fail(fmt.Sprintf("invalid character %q looking for beginning of object key string", s.data[s.pos]))
	}
	raw, plain, err := s.str()
	if err != nil {
		return err
	}
	name := raw
	if !plain && s.tracked() != nil {
		var decoded string
		_ = json.Unmarshal(s.data[s.pos-len(raw)-2:s.pos], &decoded) // valid: str checked it
		name = []byte(decoded)
	}
	s.ws()
	if s.pos == len(s.data) || s.data[s.pos] != ':' {
		if s.pos == len(s.data) {
			return s.fail("unexpected end of JSON input")
		}
		return s.fail(fmt.Sprintf("invalid character %q after object key", s.data[s.pos]))
	}
	s.pos++
	if top := s.tracked(); top != nil {
		top.key = name
		s.checkName(top, name)
	}
	return nil
}

// checkName reports name if it repeats an earlier member of the object.
func (s *memberScan) checkName(f *frame, name []byte) {
	earlier := -1
	if f.folded == nil && len(f.names) < pairwiseMax {
		for i, n := range f.names {
			if bytes.EqualFold(n, name) { // SameName, on bytes
				earlier = i
				break
			}
		}
	} else {
		if f.folded == nil {
			f.folded = make(map[string]int, 2*pairwiseMax)
			for i, n := range f.names {
				k := Fold(string(n))
				if _, ok := f.folded[k]; !ok {
					f.folded[k] = i
				}
			}
		}
		k := Fold(string(name))
		if i, ok := f.folded[k]; ok {
			earlier = i
		} else {
			f.folded[k] = len(f.names)
		}
	}
	f.names = append(f.names, name)
	if earlier < 0 {
		return
	}
	if s.full {
		return
	}
	first := f.names[earlier]
	switch {
	case bytes.Equal(first, name):
		s.report(s.pointer(len(s.stack)), DetailDuplicate)
	case len(first) <= maxQuoted:
		s.report(s.pointer(len(s.stack)), DetailCasePrefix+strconv.Quote(string(first)))
	default:
		s.report(s.pointer(len(s.stack)), detailCase)
	}
}

// pointer renders the JSON Pointer of the value open at depth d of the
// stack: frames below d contribute their current key or index.
func (s *memberScan) pointer(d int) string {
	tokens := make([]string, 0, d)
	for i := range d {
		f := &s.stack[i]
		if f.object {
			tokens = append(tokens, string(f.key))
		} else {
			tokens = append(tokens, strconv.Itoa(f.index))
		}
	}
	return problem.Pointer(tokens...)
}

// report adds a violation while the count and byte budgets last; once one
// does not fit no more are built, so the work stays linear.
func (s *memberScan) report(pointer, detail string) {
	size := len(pointer) + len(detail)
	if s.full || len(s.vs) >= s.lim.MaxViolations || size > s.budget {
		s.full = true
		return
	}
	s.budget -= size
	s.vs = append(s.vs, problem.Violation{Pointer: pointer, Detail: detail})
}
