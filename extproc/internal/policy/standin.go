package policy

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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
	out, k, _ := st.filter(a, b)
	if k != nil && len(out) == 0 && b.keepOne {
		out, k = a[:1:1], &kept{index: []int{0}}
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
// fail), an empty list when every item passes (allPass).
func (st *standIn) filter(a []any, b *bulk) (out []any, k *kept, allPass bool) {
	left := st.left
	changed := false
	var index []int
	var inner map[int]*kept
	for i, x := range a {
		y, in, pass := st.judge(x, b)
		if pass {
			changed = true
			continue
		}
		if st.left == 0 {
			st.cut, changed = true, true
			break
		}
		st.left--
		if in != nil {
			changed = true
			if inner == nil {
				inner = make(map[int]*kept)
			}
			inner[len(out)] = in
		}
		out = append(out, y)
		index = append(index, i)
	}
	if !changed {
		st.left = left // a is kept as it is: nothing was copied
		return a, nil, false
	}
	if out == nil {
		out = []any{}
	}
	return out, &kept{index: index, inner: inner}, len(index) == 0 && !st.cut
}

// judge reports whether item x of a bulk array surely passes; when it
// may fail, y is x or, for a tensor item cut in part, its cut.
func (st *standIn) judge(x any, b *bulk) (y any, k *kept, pass bool) {
	if b.types.accepts(x) {
		return x, nil, b.tensor
	}
	switch v := x.(type) {
	case []any:
		if !b.tensor {
			return x, nil, false
		}
		out, k, allPass := st.filter(v, b)
		if allPass {
			return x, nil, true
		}
		return out, k, false
	case map[string]any:
		return x, nil, !b.tensor && b.row(v)
	}
	return x, nil, false
}

// row reports whether m surely passes as a row of b.
func (b *bulk) row(m map[string]any) bool {
	if len(m) < b.minProps {
		return false
	}
	for name, v := range m {
		if !b.types.accepts(v) {
			return false
		}
		if b.minName > 0 || b.maxName >= 0 {
			n := utf8.RuneCountInString(name)
			if n < b.minName || b.maxName >= 0 && n > b.maxName {
				return false
			}
		}
	}
	return true
}

func (st *standIn) record(path []string, k *kept) {
	if st.arrays == nil {
		st.arrays = make(map[string]*kept)
	}
	st.arrays[strings.Join(path, "\x00")] = k
	if !slices.Contains(st.depths, len(path)) {
		st.depths = append(st.depths, len(path))
	}
}

// restore translates a location in the stand-in to the document's.
func (st *standIn) restore(loc []string) []string {
	if st == nil {
		return loc
	}
	for _, n := range st.depths {
		if len(loc) <= n {
			continue
		}
		k := st.arrays[strings.Join(loc[:n], "\x00")]
		if k == nil {
			continue
		}
		loc = slices.Clone(loc)
		for j := n; k != nil && j < len(loc); j++ {
			i, err := strconv.Atoi(loc[j])
			if err != nil || i < 0 || i >= len(k.index) {
				break
			}
			loc[j] = strconv.Itoa(k.index[i])
			k = k.inner[i]
		}
		return loc
	}
	return loc
}

// cutShort reports whether items that may fail were left out.
func (st *standIn) cutShort() bool { return st != nil && st.cut }
