package policy

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDocumentBytes bounds the heap the document of one body takes as
// [Validator.Decode] returns it: a body whose values would take more is
// refused where the bound is passed, before the memory is spent. The
// representation is fixed (each value an any of 16 bytes, numbers as
// json.Number, objects as maps of at least 48 bytes, 336 with a member),
// so a body costs up to 45 bytes of heap per byte: 45 MB for 1 MiB of
// {"a":0} rows (issue 13). The densest valid body of the default 1 MiB
// body limit, a tensor of one-digit numbers, takes 8 MiB; 9 MiB admits it
// and keeps a request with its schema check within 10 MiB. Bodies of
// realistic values take less than 5 bytes of heap per byte.
const MaxDocumentBytes = 9 << 20

// detailTooBig is the violation at the value where a body passes its
// document bound of max bytes.
func detailTooBig(max int) string {
	return "the body's values take more than " + strconv.Itoa(max>>20) +
		" MiB of memory to decode here; send fewer values per request"
}

// errTooBig stops decoding at the first value past the document bound.
var errTooBig = errors.New("document too big")

// Heap taken by the parts of a document, as the Go runtime allocates them
// (measured with Go 1.26: a map with one to eight members takes one group
// of eight slots, a wider one about 80 bytes a member).
const (
	anyBytes       = 16 // an item of []any, or a boxed string or json.Number
	sliceBoxBytes  = 24 // a []any boxed in an any
	emptyMapBytes  = 48
	smallMapBytes  = 336
	mapMemberBytes = 88
	// memberBytes and foldBytes are what a member of a wide object takes
	// while it is decoded: its place on the decoder's stack, and in the
	// list that [decoder.checkWide] sorts.
	memberBytes = 32
	foldBytes   = 24
)

func mapBytes(n int) int {
	switch {
	case n == 0:
		return emptyMapBytes
	case n <= 8:
		return smallMapBytes
	}
	return emptyMapBytes + n*mapMemberBytes
}

// charge counts n bytes of heap against the document bound, recording
// the violation at the value being decoded when the bound is passed.
func (d *decoder) charge(n int) error {
	d.cost += n
	if d.cost > d.max {
		d.add(detailTooBig(d.max))
		return errTooBig
	}
	return nil
}

// bigItems is the least number of items or members for which the
// pre-scan records a container: smaller ones are collected on the
// decoder's shared stacks, which never grow past MaxDepth times this.
const bigItems = 64

// scanFrom is the smallest body [scanSizes] scans.
const scanFrom = 64 << 10

// sized is an array or object of a body, by the offset of its opening
// bracket, with its count of items or members.
type sized struct{ pos, n int }

// scanSizes finds the arrays and objects of body that have at least
// bigItems items or members, in body order, in one pass over the bytes
// that only follows brackets, commas and strings. The decoder allocates
// them at their final size: collecting a megabyte array on a growing
// stack costs five times its size in copies. For a malformed body the
// counts may be wrong; they are only capacities. A body of less than
// scanFrom bytes is not scanned: its stacks stay small, and a hostile one
// (5000 levels of nesting in 20 KB) is refused within its first bytes.
func scanSizes(b []byte) []sized {
	if len(b) < scanFrom {
		return nil
	}
	type open struct {
		pos, commas int
		empty       bool
	}
	var (
		stack [MaxDepth]open
		depth int
		out   []sized
	)
	for i := 0; i < len(b); i++ {
		if scanPlain[b[i]] { // a run of them makes a value: not empty
			for i+1 < len(b) && scanPlain[b[i+1]] {
				i++
			}
			if depth > 0 && depth <= MaxDepth {
				stack[depth-1].empty = false
			}
			continue
		}
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ',':
			if depth > 0 && depth <= MaxDepth {
				stack[depth-1].commas++
			}
			continue
		case '[', '{':
			if depth > 0 && depth <= MaxDepth {
				stack[depth-1].empty = false
			}
			if depth < MaxDepth {
				stack[depth] = open{pos: i, empty: true}
			}
			depth++
			continue
		case ']', '}':
			if depth == 0 {
				return sortSized(out) // malformed: the decoder says where
			}
			depth--
			if f := stack[min(depth, MaxDepth-1)]; depth < MaxDepth && !f.empty && f.commas+1 >= bigItems {
				out = append(out, sized{f.pos, f.commas + 1})
			}
			continue
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		}
		if depth > 0 && depth <= MaxDepth {
			stack[depth-1].empty = false
		}
	}
	return sortSized(out)
}

// scanPlain marks the bytes [scanSizes] only notes as making a container
// not empty: all but whitespace, brackets, commas and quotes.
var scanPlain = func() (t [256]bool) {
	for c := range t {
		t[c] = !strings.ContainsRune(" \t\n\r,[]{}\"", rune(c))
	}
	return t
}()

// sortSized orders containers by position: the scan finds them as they
// close, the decoder needs them as they open.
func sortSized(s []sized) []sized {
	slices.SortFunc(s, func(a, b sized) int { return cmp.Compare(a.pos, b.pos) })
	return s
}

// size returns the count the pre-scan found for the container opening at
// d.pos, 0 for a container below bigItems.
func (d *decoder) size() int {
	for d.hint < len(d.sizes) && d.sizes[d.hint].pos < d.pos {
		d.hint++
	}
	if d.hint < len(d.sizes) && d.sizes[d.hint].pos == d.pos {
		return d.sizes[d.hint].n
	}
	return 0
}

// boxes shares the boxed values of short scalars between the places a
// body repeats them: a tensor of a megabyte repeats a few hundred
// distinct numbers, and each box would take 16 bytes. Boxes are
// immutable, so sharing them is invisible to readers of the document.
type boxes struct {
	keys [boxSlots]uint64
	vals [boxSlots]any
	// single are the boxes of one-byte literals, by kind and byte.
	single [2][128]any
}

const (
	boxSlots = 512
	// boxAfter is how many scalars a body has before its decoder
	// allocates the table: small bodies are not worth 12 KiB.
	boxAfter = 256
	// boxMaxLen is the longest literal shared: the key packs the bytes
	// with the kind and the length into 64 bits.
	boxMaxLen = 6
)

const (
	kindNumber = 1
	kindString = 2
)

// scalar returns raw, a number literal or the content of a string
// without escapes, as a boxed json.Number or string, shared when short
// and charged against MaxDocumentBytes when not.
func (d *decoder) scalar(kind byte, raw []byte) (any, error) {
	if len(raw) <= boxMaxLen {
		if d.scalars++; d.boxes == nil && d.scalars > boxAfter {
			d.boxes = new(boxes)
			if err := d.charge(boxSlots * (8 + anyBytes)); err != nil {
				return nil, err
			}
		}
		if d.boxes != nil && len(raw) == 1 && raw[0] < 128 {
			p := &d.boxes.single[kind-1][raw[0]]
			if *p == nil {
				v, err := d.box(kind, raw)
				if err != nil {
					return nil, err
				}
				*p = v
			}
			return *p, nil
		}
		if d.boxes != nil {
			key := uint64(kind)<<56 | uint64(len(raw))<<48
			for i, c := range raw {
				key |= uint64(c) << (8 * i)
			}
			slot := (key * 0x9e3779b97f4a7c15) >> (64 - 9) // boxSlots = 1<<9
			if d.boxes.vals[slot] != nil && d.boxes.keys[slot] == key {
				return d.boxes.vals[slot], nil
			}
			v, err := d.box(kind, raw)
			d.boxes.keys[slot], d.boxes.vals[slot] = key, v
			return v, err
		}
	}
	return d.box(kind, raw)
}

func (d *decoder) box(kind byte, raw []byte) (any, error) {
	n := anyBytes
	if len(raw) > 1 { // one-byte strings are static
		n += len(raw)
	}
	if err := d.charge(n); err != nil {
		return nil, err
	}
	if kind == kindNumber {
		return json.Number(raw), nil
	}
	return string(raw), nil
}

// bigArray decodes an array of n items (see [scanSizes]) straight into
// its final slice; d.pos is past the opening bracket.
func (d *decoder) bigArray(n int) (any, error) {
	if err := d.charge(sliceBoxBytes + anyBytes*n); err != nil {
		return nil, err
	}
	a := make([]any, 0, n)
	d.path = append(d.path, frame{array: true})
	for {
		var end bool
		var err error
		if a, end, err = d.run(a); err != nil || end {
			d.path = d.path[:len(d.path)-1]
			return a, err
		}
		d.path[len(d.path)-1].index = len(a) // not a pointer: nesting may move the path
		var v any
		// Numbers first: a big array is most often a tensor's.
		if d.space(); d.pos < len(d.buf) && (d.buf[d.pos]-'0' <= 9 || d.buf[d.pos] == '-') {
			v, err = d.number()
		} else {
			v, err = d.value()
		}
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		switch d.next() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.path = d.path[:len(d.path)-1]
			return a, nil
		default:
			return nil, d.syntaxOrEnd("after array element")
		}
	}
}

// run appends the items at d.pos that are one-digit numbers or empty
// strings or arrays whose boxes are shared, each followed by a comma or
// the closing bracket, as [decoder.value] would decode them: a dense
// tensor is a run of such items. It reports whether the array ended.
func (d *decoder) run(a []any) ([]any, bool, error) {
	var single *[128]any
	if d.boxes != nil {
		single = &d.boxes.single[kindNumber-1]
	}
	for d.pos+2 < len(d.buf) {
		var v any
		n := 2
		switch c := d.buf[d.pos]; {
		case c-'0' <= 9 && single != nil && single[c] != nil:
			v, n = single[c], 1
		case c == '[' && d.buf[d.pos+1] == ']' && d.empty != nil && len(d.path) < MaxDepth:
			v = d.empty
		case c == '"' && d.buf[d.pos+1] == '"':
		default:
			return a, false, nil
		}
		end := d.buf[d.pos+n] == ']'
		if !end && d.buf[d.pos+n] != ',' {
			return a, false, nil
		}
		if v == nil { // the empty string, shared once boxed
			d.path[len(d.path)-1].index = len(a)
			var err error
			if v, err = d.scalar(kindString, nil); err != nil {
				return nil, false, err
			}
		}
		a = append(a, v)
		d.pos += n + 1
		if end {
			return a, true, nil
		}
	}
	return a, false, nil
}

// The items of small arrays are carved from slabs: one allocation for
// many arrays rather than one each. The first slab of a body has
// firstSlab items, each next one twice as many up to slabItems, so that
// a small body takes a small slab; 1023 items and the allocator's header
// fill 16 KiB.
const (
	firstSlab = 16
	slabItems = 1023
)

// smallItems returns a copy of the items of a small array, carved from
// the decoder's slab in a body of at least scanFrom bytes (where the
// arrays the pre-scan did not size have less than bigItems items). The
// slab's tail left when a new one is needed is charged, so that the
// document bound counts what the slabs take.
func (d *decoder) smallItems(items []any) ([]any, error) {
	n := len(items)
	if len(d.buf) < scanFrom || n > bigItems { // a small body is not worth slabs
		return append([]any(nil), items...), nil
	}
	if n > len(d.slab) {
		if err := d.charge(anyBytes * len(d.slab)); err != nil {
			return nil, err
		}
		d.slabs = min(slabItems, max(firstSlab, 2*d.slabs))
		d.slab = make([]any, max(n, d.slabs))
	}
	a := d.slab[:n:n]
	d.slab = d.slab[n:]
	copy(a, items)
	return a, nil
}

// emptyArray returns the document's one empty array: an empty slice
// cannot be written to, and appending to it copies.
func (d *decoder) emptyArray() (any, error) {
	if d.empty == nil {
		if err := d.charge(sliceBoxBytes); err != nil {
			return nil, err
		}
		d.empty = []any{}
	}
	return d.empty, nil
}

// stringValue decodes the string value at d.pos; one without escapes or
// bytes outside printable ASCII may share its box (see [decoder.scalar]).
func (d *decoder) stringValue() (any, error) {
	start := d.pos + 1
	for i := start; i < len(d.buf); i++ {
		c := d.buf[i]
		if c == '"' {
			d.pos = i + 1
			return d.scalar(kindString, d.buf[start:i])
		}
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			break
		}
	}
	s, err := d.str(false)
	if err != nil {
		return nil, err
	}
	return s, d.charge(anyBytes + len(s))
}
