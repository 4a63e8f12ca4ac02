package policy

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// standIn is what [newStandIn] left out of a document: for each bulk
// array it cut, which document item each of its items is.
type standIn struct {
	arrays map[string]*kept
	// depths are the lengths of the paths in arrays.
	depths []int
	// left is how many more items stand-ins may keep (see bulkKept);
	// cut says that items that may fail were left out past it.
	left int
	cut  bool
	// extra are the members left out of closed objects.
	extra []extraMembers
	// pass locates the items kept that surely pass (see [standIn.cutBulk]).
	pass [][]string
}

// passed reports whether loc is inside an item kept that surely passes.
func (st *standIn) passed(loc []string) bool {
	for _, p := range st.pass {
		if len(p) <= len(loc) && slices.Equal(p, loc[:len(p)]) {
			return true
		}
	}
	return false
}

// kept maps the items of a stand-in array to the document's: index[k]
// is the document index of item k, and inner[k], for a tensor item kept
// in part, maps that item's items.
type kept struct {
	index []int
	inner map[int]*kept
}

// newStandIn returns doc with the bulk arrays cut to the items that may
// fail and the members closed objects do not allow left out, sharing
// everything else, and what restores their indices and lists the members
// left out; doc itself and nil when nothing was cut.
func newStandIn(doc any, bulks []bulk, closed []closedObject) (any, *standIn) {
	if len(bulks) == 0 && len(closed) == 0 {
		return doc, nil
	}
	st := &standIn{left: bulkKept}
	out := doc
	for i := range closed {
		c := &closed[i]
		if r, changed := replaceAt(out, c.path, nil, func(v any, path []string) (any, bool) { return st.close(v, path, c) }); changed {
			out = r
		}
	}
	// Outer arrays first (findBulk lists them first), so that inner ones
	// are cut only in the items kept; their indices are restored first.
	for i := range bulks {
		b := &bulks[i]
		if r, changed := replaceAt(out, b.path, nil, func(v any, path []string) (any, bool) { return st.cutBulk(v, path, b) }); changed {
			out = r
		}
	}
	if st.arrays == nil && st.extra == nil {
		return doc, nil
	}
	return out, st
}

// replaceAt follows the tokens of path ("*" for every item of an array)
// in v and returns v with leaf applied at the end, copying the
// containers on the way when leaf changes something; loc is the
// location of v.
func replaceAt(v any, path, loc []string, leaf func(v any, loc []string) (any, bool)) (any, bool) {
	if len(path) == 0 {
		return leaf(v, loc)
	}
	switch x := v.(type) {
	case []any:
		if path[0] != "*" {
			return v, false
		}
		var out []any
		for j, item := range x {
			if r, changed := replaceAt(item, path[1:], append(loc, strconv.Itoa(j)), leaf); changed {
				if out == nil {
					out = slices.Clone(x)
				}
				out[j] = r
			}
		}
		return out, out != nil
	case map[string]any:
		item, ok := x[path[0]]
		if !ok || path[0] == "*" {
			return v, false
		}
		r, changed := replaceAt(item, path[1:], append(loc, path[0]), leaf)
		if !changed {
			return v, false
		}
		out := maps.Clone(x)
		out[path[0]] = r
		return out, true
	}
	return v, false
}

// cutBulk cuts the bulk array v at loc.
func (st *standIn) cutBulk(v any, loc []string, b *bulk) (any, bool) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return v, false
	}
	var out []any
	var k *kept
	if st.passed(loc) {
		out, k = []any{}, &kept{} // as filter finds: every item passes
	} else {
		out, k, _ = st.filter(a, b)
	}
	if k != nil && len(out) == 0 && b.keepOne {
		// The item kept passes, and so do the bulk arrays inside it:
		// they are cut without being walked again.
		out, k = a[:1:1], &kept{index: []int{0}}
		st.pass = append(st.pass, append(loc[:len(loc):len(loc)], "0"))
	}
	if k == nil {
		return v, false
	}
	st.record(loc, k)
	return out, true
}

// close leaves out the members of the object v at loc that c does not
// allow, and records the first of their names in order: as many as the
// violation shows before it is cut at MaxDetailBytes.
func (st *standIn) close(v any, loc []string, c *closedObject) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, false
	}
	var names []string
	width := 0 // of names as the violation quotes them, at least
	for name := range m {
		if c.known[name] {
			continue
		}
		if width > MaxDetailBytes && name >= names[len(names)-1] {
			continue
		}
		i, _ := slices.BinarySearch(names, name)
		names = slices.Insert(names, i, name)
		width += len(name) + len("'', ")
		for last := names[len(names)-1]; width-len(last)-len("'', ") > MaxDetailBytes; last = names[len(names)-1] {
			width -= len(last) + len("'', ")
			names = names[:len(names)-1]
		}
	}
	if names == nil {
		return v, false
	}
	out := make(map[string]any, len(c.known))
	for name := range c.known {
		if x, ok := m[name]; ok {
			out[name] = x
		}
	}
	st.extra = append(st.extra, extraMembers{path: slices.Clone(loc), names: names})
	return out, true
}

// extraMembers are members a closed object does not allow, at path.
type extraMembers struct {
	path, names []string
}

// extraMembers returns the members the stand-in left out of closed
// objects.
func (st *standIn) extraMembers() []extraMembers {
	if st == nil {
		return nil
	}
	return st.extra
}

// filter returns the items of a that may fail, tensor items cut the same
// way, and their indices: nil when a is kept as it is (every item may
// fail and none is left out), an empty list when every item passes
// (allPass). Of more than keepItems failing items it keeps those whose
// indices sort first as strings, as their violations' pointers do: they
// are the ones an answer lists.
func (st *standIn) filter(a []any, b *bulk) (out []any, k *kept, allPass bool) {
	// At least one failing item stays, past bulkKept too: a stand-in must
	// fail when its document does.
	limit := max(1, min(keepItems, st.left))
	var sel []int // failing items, in the order of their pointers
	failing := 0
	// The digits of i, and of the last item selected once sel is full.
	di, next, dl := 1, 10, 0
	for i, x := range a {
		if i == next {
			di, next = di+1, next*10
		}
		if st.passes(x, b) {
			continue
		}
		failing++
		if len(sel) == limit && !digitsLess(i, di, sel[len(sel)-1], dl) {
			continue
		}
		j, _ := slices.BinarySearchFunc(sel, i, func(x, y int) int {
			if indexLess(x, y) {
				return -1
			}
			return 1
		})
		sel = slices.Insert(sel, j, i)
		if len(sel) > limit {
			sel = sel[:limit]
		}
		if len(sel) == limit {
			dl = decimalDigits(sel[len(sel)-1])
		}
	}
	switch {
	case failing == 0:
		return []any{}, &kept{}, true
	case failing == len(a) && len(sel) == failing && !b.tensor && b.row == nil:
		return a, nil, false
	}
	st.cut = st.cut || len(sel) < failing
	st.left -= len(sel)
	slices.Sort(sel)
	k = &kept{index: sel}
	out = make([]any, 0, len(sel))
	for _, i := range sel {
		y := a[i]
		if inner, ok := y.([]any); ok && b.tensor {
			if cut, in, _ := st.filter(inner, b); in != nil {
				y = cut
				if k.inner == nil {
					k.inner = make(map[int]*kept)
				}
				k.inner[len(out)] = in
			}
		}
		if m, ok := y.(map[string]any); ok && b.row != nil {
			if cut, more := b.row.cut(m); cut != nil {
				y, st.cut = cut, st.cut || more
			}
		}
		out = append(out, y)
	}
	return out, k, false
}

// keepItems is the most failing items of one array a stand-in keeps:
// twice what an answer lists, as each is a violation of its own, so that
// most answers still count exactly. The validator builds about a
// kilobyte for each violation: a stand-in of keepItems items costs it
// less than a megabyte.
const keepItems = 2 * MaxViolations

// indexLess orders array indices (below 1e15) as their decimal strings
// sort: padded with zeros to the same number of digits they compare as
// numbers, and of two that pad alike the shorter string sorts first.
func indexLess(a, b int) bool { return digitsLess(a, decimalDigits(a), b, decimalDigits(b)) }

// digitsLess is indexLess for a of da and b of db decimal digits.
func digitsLess(a, da, b, db int) bool {
	x, y := a, b
	for range db - da {
		x *= 10
	}
	for range da - db {
		y *= 10
	}
	if x != y {
		return x < y
	}
	return da < db
}

func decimalDigits(n int) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// passes reports whether item x of a bulk array surely passes.
func (st *standIn) passes(x any, b *bulk) bool {
	if !b.tensor {
		return b.item.passes(x)
	}
	if b.types.accepts(x) {
		return true
	}
	a, ok := x.([]any)
	if !ok {
		return false
	}
	for _, y := range a {
		if !st.passes(y, b) {
			return false
		}
	}
	return true
}

func (st *standIn) record(path []string, k *kept) {
	if st.arrays == nil {
		st.arrays = make(map[string]*kept)
	}
	st.arrays[strings.Join(path, "\x00")] = k
	if i, found := slices.BinarySearch(st.depths, len(path)); !found {
		st.depths = slices.Insert(st.depths, i, len(path))
	}
}

// restore translates a location in the stand-in to the document's,
// inner arrays first: they were cut in the outer ones' stand-ins.
func (st *standIn) restore(loc []string) []string {
	if st == nil {
		return loc
	}
	cloned := false
	for _, n := range slices.Backward(st.depths) {
		if len(loc) <= n {
			continue
		}
		k := st.arrays[strings.Join(loc[:n], "\x00")]
		if k == nil {
			continue
		}
		if !cloned {
			loc, cloned = slices.Clone(loc), true
		}
		for j := n; k != nil && j < len(loc); j++ {
			i, err := strconv.Atoi(loc[j])
			if err != nil || i < 0 || i >= len(k.index) {
				break
			}
			loc[j] = strconv.Itoa(k.index[i])
			k = k.inner[i]
		}
	}
	return loc
}

// cutShort reports whether items that may fail were left out.
func (st *standIn) cutShort() bool { return st != nil && st.cut }
