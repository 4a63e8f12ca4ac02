package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
	schemakind "github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/modelgate/modelgate/api/problem"
)

// partNodes is the most values (nodes) of a document the schema validator
// is given at once. The validator cannot stop early: it builds every
// violation, each costing about a kilobyte of heap, and a megabyte body can
// hold a million of them (issue 13). A larger document is checked in parts
// of about this many nodes, stopping once MaxViolations are found, so that
// a hostile body costs what a valid body of its size costs.
const partNodes = 1024

// compiled is a request schema and whether it may be checked in parts.
type compiled struct {
	schema *jsonschema.Schema
	parts  bool
}

// Check validates doc, a document as [Validator.Decode] returns it,
// against the named schema. Violations are a *ViolationsError, capped as
// [MaxViolations] says.
func (v *Validator) Check(schema string, doc any) error {
	c, ok := v.schemas[schema]
	if !ok {
		return fmt.Errorf("schema %q was not compiled", schema)
	}
	var (
		vs      []problem.Violation
		atLeast bool
		err     error
	)
	if !c.parts || countUpTo(doc, v.partNodes) <= v.partNodes {
		vs, err = v.violations(c.schema, doc, nil)
	} else {
		p := parts{v: v, s: c.schema, seen: make(map[problem.Violation]struct{})}
		p.check(doc)
		vs, atLeast, err = p.vs, p.stopped, p.err
	}
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return nil
	}
	return &ViolationsError{Violations: limitViolations(vs, 0, atLeast)}
}

// violations validates doc and flattens the error tree to its leaves: each
// leaf is one concrete failure at one instance location, whose index
// tokens are translated by shifts when doc is a part of a document.
func (v *Validator) violations(s *jsonschema.Schema, doc any, shifts []shift) ([]problem.Violation, error) {
	err := s.Validate(doc)
	if err == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, fmt.Errorf("validate: %w", err)
	}
	var out []problem.Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			if ap, ok := e.ErrorKind.(*schemakind.AdditionalProperties); ok {
				// Listed in map order: sort, so that an answer does not
				// vary from request to request (nor between parts).
				slices.Sort(ap.Properties)
			}
			out = append(out, problem.Violation{
				Pointer: Pointer(unshift(e.InstanceLocation, shifts)),
				Detail:  e.ErrorKind.LocalizedString(v.printer),
			})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out, nil
}

// countUpTo counts the nodes of doc, stopping once there are more than
// limit.
func countUpTo(doc any, limit int) int {
	n := 1
	switch x := doc.(type) {
	case []any:
		for _, item := range x {
			if n > limit {
				break
			}
			n += countUpTo(item, limit-n)
		}
	case map[string]any:
		for _, item := range x {
			if n > limit {
				break
			}
			n += countUpTo(item, limit-n)
		}
	}
	return n
}

// parts checks a document part by part. The first part is the document
// with every array cut to the items that fit in partNodes (at least one
// each). Then, for each array that was cut, the items left out are checked
// a window at a time, each window in the place of the array in the part it
// was cut from; arrays cut inside a window's items are checked the same
// way, in a part holding only that item. So every value is checked in its
// place in the document with all its ancestors, each object whole, and
// every part is a cut of the document.
//
// Checking parts finds exactly the violations of the whole document when
// the schema only holds a cut of a valid document valid, and holds every
// cut that contains a failing value invalid; [partwise] admits the schemas
// that do. Violations are deduplicated, since the ancestors of a window
// are checked again with each window.
type parts struct {
	v       *Validator
	s       *jsonschema.Schema
	seen    map[problem.Violation]struct{}
	vs      []problem.Violation
	stopped bool
	err     error
}

// deferred is an array that was cut: the items from next on are yet to be
// checked.
type deferred struct {
	// path locates the array in the part it was cut from; for a cut
	// inside a window, its first token is the index in the window of the
	// item that holds the array.
	path []string
	arr  []any
	next int
	item int
}

// shift says that the array at path in a part is a window of the
// document's array that starts at index off.
type shift struct {
	path []string
	off  int
}

func (p *parts) check(doc any) {
	c := cutter{left: p.v.partNodes}
	part, _ := c.cut(doc)
	p.validate(part, nil)
	for _, d := range c.later {
		p.drain(part, nil, d)
	}
}

// full reports whether checking should stop: more violations than an
// answer lists were found, or validation failed.
func (p *parts) full() bool { return p.err != nil || len(p.vs) > MaxViolations }

// drain checks the items of d.arr from d.next on, a window at a time, in
// the place of the array at d.path in base.
func (p *parts) drain(base any, shifts []shift, d deferred) {
	for off := d.next; off < len(d.arr); {
		if p.full() {
			p.stopped = true
			return
		}
		c := cutter{left: p.v.partNodes, window: true}
		win, _ := c.items(d.arr, off)
		p.validate(replace(base, d.path, win), append(slices.Clip(shifts), shift{d.path, off}))
		for _, in := range c.later {
			one := replace(base, d.path, win[in.item:in.item+1])
			inner := deferred{path: slices.Concat(d.path, []string{"0"}, in.path[1:]), arr: in.arr, next: in.next}
			p.drain(one, append(slices.Clip(shifts), shift{d.path, off + in.item}), inner)
		}
		off += len(win)
	}
}

func (p *parts) validate(part any, shifts []shift) {
	if p.err != nil {
		return
	}
	vs, err := p.v.violations(p.s, part, shifts)
	if err != nil {
		p.err = err
		return
	}
	for _, x := range vs {
		if _, dup := p.seen[x]; !dup {
			p.seen[x] = struct{}{}
			p.vs = append(p.vs, x)
		}
	}
}

// unshift translates the index tokens of a location in a part to the
// document's: innermost shift first, as outer shifts' paths hold the index
// of the item the inner ones were cut from as "0".
func unshift(loc []string, shifts []shift) []string {
	copied := false
	for i := len(shifts) - 1; i >= 0; i-- {
		s := shifts[i]
		n := len(s.path)
		if s.off == 0 || len(loc) <= n || !slices.Equal(loc[:n], s.path) {
			continue
		}
		idx, err := strconv.Atoi(loc[n])
		if err != nil {
			continue
		}
		if !copied {
			loc, copied = slices.Clone(loc), true
		}
		loc[n] = strconv.Itoa(idx + s.off)
	}
	return loc
}

// replace returns doc with the value at path replaced by v, copying the
// containers along path and sharing everything else.
func replace(doc any, path []string, v any) any {
	if len(path) == 0 {
		return v
	}
	switch x := doc.(type) {
	case map[string]any:
		out := maps.Clone(x)
		out[path[0]] = replace(x[path[0]], path[1:], v)
		return out
	case []any:
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(x) {
			return doc // unreachable: paths come from cuts of doc
		}
		out := slices.Clone(x)
		out[i] = replace(x[i], path[1:], v)
		return out
	}
	return doc
}

// cutter cuts a document down to about left nodes by leaving out the tail
// items of its arrays, recording each array it cuts.
type cutter struct {
	left int
	// window marks a cut of a window's items: paths then start with the
	// item's index in the window.
	window bool
	path   []frame
	later  []deferred
}

// cut returns v cut to the budget and whether anything was left out.
func (c *cutter) cut(v any) (any, bool) {
	c.left--
	switch x := v.(type) {
	case []any:
		kept, changed := c.items(x, 0)
		if len(kept) < len(x) {
			c.record(x, len(kept))
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

// object cuts the member values of m; members are never left out, as
// leaving out one could break required. Members are cut in name order so
// that which items a budget reaches does not depend on map order.
func (c *cutter) object(m map[string]any) (any, bool) {
	if scalarsOnly(m) {
		c.left -= len(m)
		return m, false
	}
	var out map[string]any
	for _, name := range slices.Sorted(maps.Keys(m)) {
		c.path = append(c.path, frame{name: name})
		v, changed := c.cut(m[name])
		c.path = c.path[:len(c.path)-1]
		if changed {
			if out == nil {
				out = maps.Clone(m)
			}
			out[name] = v
		}
	}
	if out == nil {
		return m, false
	}
	return out, true
}

func (c *cutter) record(a []any, next int) {
	tokens := make([]string, len(c.path))
	for i, f := range c.path {
		if f.array {
			tokens[i] = strconv.Itoa(f.index)
		} else {
			tokens[i] = f.name
		}
	}
	d := deferred{path: tokens, arr: a, next: next}
	if c.window {
		d.item = c.path[0].index
	}
	c.later = append(c.later, d)
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
