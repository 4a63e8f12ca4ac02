package policy

import (
	"slices"
	"strconv"
)

// wholeMembers is the most members an object may have and never be cut:
// cutting the rows of a tabular body would only add parts.
const wholeMembers = 64

// cutter cuts a document down to about left nodes by leaving out the tail
// items of arrays and the members of wide objects that no schema names,
// recording each array and object it cuts.
type cutter struct {
	left int
	// known are the member names the schema names (see [partwise]); they
	// are never left out, as leaving one out could break required.
	known map[string]bool
	// window marks a cut of a window's items or members: paths then start
	// with the item's index in the window or the member's name.
	window bool
	path   []frame
	later  []deferred
}

// deferred is an array or object that was cut: the items of arr from next
// on, or the members of obj named names[next:], are yet to be checked.
type deferred struct {
	// path locates the array or object in the part it was cut from.
	path  []string
	arr   []any
	obj   map[string]any
	names []string
	next  int
	// item is, for a cut inside a window of an array, the index in the
	// window of the item that holds the cut.
	item int
}

// cut returns v cut to the budget and whether anything was left out.
func (c *cutter) cut(v any) (any, bool) {
	c.left--
	switch x := v.(type) {
	case []any:
		kept, changed := c.items(x, 0)
		if len(kept) < len(x) {
			c.record(deferred{arr: x, next: len(kept)})
		}
		return kept, changed
	case map[string]any:
		return c.object(x)
	}
	return v, false
}

// items cuts the items of a from off on: as many as the budget allows, at
// least one. Frames index the items from off.
func (c *cutter) items(a []any, off int) ([]any, bool) {
	var out []any
	n := off
	for n < len(a) && (n == off || c.left > 0) {
		c.path = append(c.path, frame{array: true, index: n - off})
		item, changed := c.cut(a[n])
		c.path = c.path[:len(c.path)-1]
		if changed && out == nil {
			out = append(make([]any, 0, n-off+8), a[off:n]...)
		}
		if out != nil {
			out = append(out, item)
		}
		n++
	}
	if out == nil {
		return a[off:n:n], n < len(a)
	}
	return out, true
}

// object cuts the member values of m and, when m is wide and the budget
// is spent, leaves out the members no schema names, keeping at least one.
// Members are taken in name order so that what a budget reaches does not
// depend on map order.
func (c *cutter) object(m map[string]any) (any, bool) {
	if (len(m) <= wholeMembers || len(m) <= c.left) && scalarsOnly(m) {
		c.left -= len(m)
		return m, false
	}
	var (
		kept    []member
		rest    []string
		changed bool
	)
	for _, name := range sortedNames(m) {
		if len(m) > wholeMembers && c.left <= 0 && len(kept) > 0 && !c.known[name] {
			if rest == nil {
				rest = make([]string, 0, len(m)-len(kept))
			}
			rest = append(rest, name)
			continue
		}
		v, ch := c.member(name, m[name])
		kept = append(kept, member{name, v})
		changed = changed || ch
	}
	if len(rest) > 0 {
		c.record(deferred{obj: m, names: rest})
	} else if !changed {
		return m, false
	}
	out := make(map[string]any, len(kept))
	for _, kv := range kept {
		out[kv.name] = kv.value
	}
	return out, true
}

// member cuts the value of the member name.
func (c *cutter) member(name string, v any) (any, bool) {
	c.path = append(c.path, frame{name: name})
	defer func() { c.path = c.path[:len(c.path)-1] }()
	return c.cut(v)
}

// record records a cut at the current path.
func (c *cutter) record(d deferred) {
	d.path = make([]string, len(c.path))
	for i, f := range c.path {
		if f.array {
			d.path[i] = strconv.Itoa(f.index)
		} else {
			d.path[i] = f.name
		}
	}
	if c.window && len(c.path) > 0 && c.path[0].array {
		d.item = c.path[0].index
	}
	c.later = append(c.later, d)
}

// sortedNames returns the member names of m in order.
func sortedNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func scalarsOnly(m map[string]any) bool {
	for _, v := range m {
		switch v.(type) {
		case []any, map[string]any:
			return false
		}
	}
	return true
}
