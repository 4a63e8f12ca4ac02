package policy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/internal/rawjson"
)

// Limits of [Validator.Decode]. They bound what the schema validator is
// given to work on, so that no body within the size limit costs more than
// a legitimate body of that size.
const (
	// MaxDepth is the deepest nesting of arrays and objects a body may
	// have, counting the top-level value as 1. The deepest legitimate
	// document is an Open Inference Protocol tensor whose data nests as
	// deep as its shape has dimensions: the body, inputs and the tensor
	// take 3 levels and data of rank r takes r more. 32 admits rank 29,
	// beyond TensorRT's 8 dimensions and NumPy 1's 32 (the models behind
	// the gateway take rank 2). The validator copies a value's location
	// into every violation it builds, so without this bound a body nested
	// a few thousand levels costs gigabytes (issue 13).
	MaxDepth = 32
	// MaxNameBytes is the longest member name in bytes. The schemas allow
	// feature names of 128 characters, at most 512 bytes of UTF-8.
	MaxNameBytes = 512
)

// Details of the violations the decoder reports.
const (
	detailTooDeep   = "nesting exceeds the limit of 32 arrays and objects"
	detailDuplicate = rawjson.DetailDuplicate
)

// errTooDeep stops decoding at the first value nested deeper than MaxDepth.
var errTooDeep = errors.New("too deep")

// decode parses body as one JSON value, the way encoding/json decodes into
// an any with UseNumber (objects as map[string]any, numbers as
// json.Number, invalid UTF-8 replaced by U+FFFD), in a single pass that also
// refuses what [Validator.Decode] documents. Syntax errors are a
// *MalformedError, refusals a *ViolationsError.
func decode(body []byte, max int) (any, error) {
	d := decoder{buf: body, sizes: scanSizes(body), max: max}
	v, err := d.value()
	if err == nil {
		d.space()
		if d.pos < len(d.buf) {
			err = d.syntax("after top-level value")
		}
	}
	switch {
	case errors.Is(err, errTooDeep), errors.Is(err, errTooBig):
		return nil, d.refusal()
	case err != nil:
		return nil, &MalformedError{Err: err}
	case len(d.vs) > 0 || d.omitted > 0:
		return nil, d.refusal()
	}
	return v, nil
}

type decoder struct {
	buf []byte
	pos int
	// path holds the containers from the top-level value down to the
	// value being decoded, for the pointers of violations.
	path []frame
	// items and members are stacks shared by all nesting levels, so that
	// each container is allocated once at its final size.
	items   []any
	members []member
	// names interns short member names: tabular bodies repeat the same
	// few feature names in every row.
	names      map[string]string
	uninterned int
	scratch    []byte
	// vs are the violations found, seen their pointers and details (as
	// key builds them) and omitted the count of those past the cap.
	vs      []problem.Violation
	seen    map[string]struct{}
	key     []byte
	omitted int
	// sizes are the big containers of the body (see [scanSizes]), hint
	// the first of them not yet decoded.
	sizes []sized
	hint  int
	// cost is the heap the document takes so far (see
	// [MaxDocumentBytes]); boxes share the boxes of the scalars once
	// there are more than boxAfter, and empty is the one empty array.
	cost int
	// max bounds cost (MaxDocumentBytes unless the route says otherwise).
	max     int
	scalars int
	boxes   *boxes
	empty   any
	// slab is where the items of small arrays are carved from (see
	// [decoder.smallItems]).
	slab  []any
	slabs int // the size of the last slab
}

type frame struct {
	name  string
	index int
	array bool
}

type member struct {
	name  string
	value any
}

func (d *decoder) value() (any, error) {
	d.space()
	if d.pos >= len(d.buf) {
		return nil, errEnd
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.stringValue()
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	default:
		return nil, d.syntax("looking for beginning of value")
	}
}

func (d *decoder) array() (any, error) {
	if len(d.path) == MaxDepth {
		d.add(detailTooDeep)
		return nil, errTooDeep
	}
	n := d.size()
	d.pos++
	if d.next() == ']' {
		d.pos++
		return d.emptyArray()
	}
	if n > 0 {
		return d.bigArray(n)
	}
	base := len(d.items)
	d.path = append(d.path, frame{array: true})
	for {
		d.path[len(d.path)-1].index = len(d.items) - base
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.items = append(d.items, v)
		switch d.next() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.path = d.path[:len(d.path)-1]
			if err := d.charge(sliceBoxBytes + anyBytes*(len(d.items)-base)); err != nil {
				return nil, err
			}
			a, err := d.smallItems(d.items[base:])
			d.items = d.items[:base]
			return a, err
		default:
			return nil, d.syntaxOrEnd("after array element")
		}
	}
}

func (d *decoder) object() (any, error) {
	if len(d.path) == MaxDepth {
		d.add(detailTooDeep)
		return nil, errTooDeep
	}
	hinted := d.size()
	if hinted > 0 {
		// All that the object will take, charged before any of it is.
		if err := d.charge(hinted*(memberBytes+foldBytes) + mapBytes(hinted)); err != nil {
			return nil, err
		}
		d.members = slices.Grow(d.members, hinted)
	}
	d.pos++
	if d.next() == '}' {
		d.pos++
		return map[string]any{}, d.charge(emptyMapBytes)
	}
	base := len(d.members)
	d.path = append(d.path, frame{})
	for {
		if d.next() != '"' {
			return nil, d.syntaxOrEnd("looking for beginning of object key string")
		}
		name, err := d.str(true)
		if err != nil {
			return nil, err
		}
		d.path[len(d.path)-1].name = name
		if err := d.charge(len(name)); err != nil {
			return nil, err
		}
		d.checkName(name, d.members[base:])
		if d.next() != ':' {
			return nil, d.syntaxOrEnd("after object key")
		}
		d.pos++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, member{name, v})
		switch d.next() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			ms := d.members[base:]
			if len(ms) > wideObject {
				d.checkWide(ms)
			}
			d.path = d.path[:len(d.path)-1]
			if hinted == 0 {
				if err := d.charge(mapBytes(len(ms))); err != nil {
					return nil, err
				}
			}
			m := make(map[string]any, len(ms))
			for _, kv := range ms {
				m[kv.name] = kv.value
			}
			d.members = d.members[:base]
			return m, nil
		default:
			return nil, d.syntaxOrEnd("after object key:value pair")
		}
	}
}

// wideObject is the member count past which names are compared through
// their case folds, sorted, rather than with each other.
const wideObject = 16

// checkName reports a member name that is too long, or that is equal or
// equal under Unicode case folding to the name of an earlier member of the
// same object: encoding/json, which inference decodes with, matches struct
// fields case-insensitively, so such a body could mean one thing to the
// gateway's cache key and another to the model (issue 13). Names past the
// first wideObject are left to [decoder.checkWide].
func (d *decoder) checkName(name string, earlier []member) {
	if len(name) > MaxNameBytes {
		d.add(fmt.Sprintf("member name of %d bytes exceeds the limit of %d bytes", len(name), MaxNameBytes))
	}
	if len(earlier) >= wideObject {
		return
	}
	for _, m := range earlier {
		if rawjson.SameName(m.name, name) {
			d.addCaseViolation(name, m.name)
			return
		}
	}
}

// checkWide does for the members of a wide object past the first
// wideObject what checkName does for the first: it sorts the members by
// the fold of their names, then by position, and reports each member
// whose fold an earlier member has.
func (d *decoder) checkWide(ms []member) {
	type fold struct {
		fold string
		i    int
	}
	fs := make([]fold, len(ms))
	for i, m := range ms {
		fs[i] = fold{rawjson.Fold(m.name), i}
	}
	slices.SortFunc(fs, func(a, b fold) int {
		if c := strings.Compare(a.fold, b.fold); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	first := 0
	for k := 1; k < len(fs); k++ {
		if fs[k].fold != fs[first].fold {
			first = k
			continue
		}
		if fs[k].i >= wideObject { // the first ones were compared pairwise
			d.path[len(d.path)-1].name = ms[fs[k].i].name
			d.addCaseViolation(ms[fs[k].i].name, ms[fs[first].i].name)
		}
	}
}

func (d *decoder) addCaseViolation(name, first string) {
	if name == first {
		d.add(detailDuplicate)
		return
	}
	d.add(fmt.Sprintf(rawjson.DetailCasePrefix+"%+q", first))
}

// add records a violation at the value being decoded. A violation equal
// to one recorded before is dropped; past MaxViolations they are counted
// instead of recorded, equal ones too.
func (d *decoder) add(detail string) {
	d.key = d.key[:0]
	for _, f := range d.path {
		d.key = append(d.key, '/')
		if f.array {
			d.key = strconv.AppendInt(d.key, int64(f.index), 10)
		} else {
			d.key = append(d.key, problem.EscapePointer(f.name)...)
		}
	}
	n := len(d.key)
	d.key = append(append(d.key, 0), detail...)
	if _, dup := d.seen[string(d.key)]; dup {
		return
	}
	if len(d.vs) >= MaxViolations {
		d.omitted++
		return
	}
	if d.seen == nil {
		d.seen = make(map[string]struct{})
	}
	d.seen[string(d.key)] = struct{}{}
	d.vs = append(d.vs, problem.Violation{Pointer: string(d.key[:n]), Detail: detail})
}

func (d *decoder) refusal() error {
	return &ViolationsError{Violations: limitViolations(d.vs, d.omitted, false)}
}

// space skips JSON whitespace.
func (d *decoder) space() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// next skips whitespace and returns the next byte, 0 at the end.
func (d *decoder) next() byte {
	d.space()
	if d.pos >= len(d.buf) {
		return 0
	}
	return d.buf[d.pos]
}

// errEnd reports a body that ends inside a value.
var errEnd = errors.New("unexpected end of JSON input")

// SyntaxError locates a syntax error of a body by byte offset.
type SyntaxError struct {
	Offset int
	msg    string
}

func (e *SyntaxError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.Offset) }

func (d *decoder) syntax(context string) error {
	return &SyntaxError{Offset: d.pos, msg: "invalid character " + quoteChar(d.buf[d.pos]) + " " + context}
}

func (d *decoder) syntaxOrEnd(context string) error {
	if d.pos >= len(d.buf) {
		return errEnd
	}
	return d.syntax(context)
}

// quoteChar formats c as encoding/json does in its syntax errors.
func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < utf8.RuneSelf && strconv.IsPrint(rune(c)):
		return "'" + string(rune(c)) + "'"
	}
	return strconv.Quote(string(rune(c)))
}
