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
// hold a million of them (issue 13). A larger document (what is left of it
// in its stand-in, see [newStandIn]) is checked in parts of about this
// many nodes, stopping once MaxViolations are found.
const partNodes = 1024

// compiled is a request schema and, when it may be checked in parts, the
// member names it names.
type compiled struct {
	schema *jsonschema.Schema
	parts  bool
	known  map[string]bool
	// native evaluates the schema without the validator (see [node]);
	// nil when the schema uses keywords it does not evaluate.
	native *node
	// bulk are the arrays and closed the objects checked in a stand-in
	// (see [bulk] and [closedObject]).
	bulk   []bulk
	closed []closedObject
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
	// The stand-in fails exactly when the document does, and holds the
	// bulk of no valid document: one walk over the document decides.
	doc, st := newStandIn(doc, c.bulk, c.closed)
	if c.native != nil && len(st.extraMembers()) == 0 && c.native.passes(doc) {
		return nil
	}
	if !c.parts || countUpTo(doc, v.partNodes) <= v.partNodes {
		vs, err = v.violations(c.schema, doc, nil, st, nil)
	} else {
		p := parts{v: v, c: c, st: st, seen: make(map[problem.Violation]struct{}), extra: make(map[string][]string)}
		p.check(doc)
		vs, atLeast, err = p.vs, p.stopped, p.err
	}
	atLeast = atLeast || st.cutShort()
	for _, x := range st.extraMembers() {
		detail := (&schemakind.AdditionalProperties{Properties: x.names}).LocalizedString(v.printer)
		vs = append(vs, problem.Violation{Pointer: Pointer(x.path), Detail: detail})
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
// tokens are translated by shifts when doc is a part of a document, then
// by st when the document is a stand-in. With
// extra, "additional properties" leaves go to extra instead, so that parts
// can list an object's names in one violation.
func (v *Validator) violations(s *jsonschema.Schema, doc any, shifts []shift, st *standIn, extra func(ptr string, names []string)) ([]problem.Violation, error) {
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
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		ptr := Pointer(st.restore(unshift(e.InstanceLocation, shifts)))
		if ap, ok := e.ErrorKind.(*schemakind.AdditionalProperties); ok {
			if extra != nil {
				extra(ptr, ap.Properties)
				return
			}
			// Listed in map order: sort, so that an answer does not vary
			// from request to request.
			slices.Sort(ap.Properties)
		}
		out = append(out, problem.Violation{Pointer: ptr, Detail: e.ErrorKind.LocalizedString(v.printer)})
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
// cut to about partNodes nodes: arrays keep their first items (at least
// one each) and wide objects the members the budget reaches (at least one,
// and all that the schema names). Then, for each array or object that was
// cut, the items or members left out are checked a window at a time, each
// window in the place of the array or object in the part it was cut from;
// cuts inside a window are checked the same way, in a part holding only
// the item or member they are in. So every value is checked in its place
// in the document, under all its ancestors, and every part is a cut of the
// document.
//
// Checking parts finds exactly the violations of the whole document when
// the schema holds a cut of a valid document valid, and holds every cut
// that contains a failing value invalid; [partwise] admits the schemas
// that do. Violations are deduplicated, since the ancestors of a window
// are checked again with each window, and the names an object may not
// have are listed in one violation, however many parts found them.
type parts struct {
	v       *Validator
	c       compiled
	st      *standIn
	seen    map[problem.Violation]struct{}
	vs      []problem.Violation
	extra   map[string][]string
	stopped bool
	err     error
}

// shift says that the array at path in a part is a window of the
// document's array that starts at index off.
type shift struct {
	path []string
	off  int
}

func (p *parts) check(doc any) {
	c := p.cutter(false)
	part, _ := c.cut(doc)
	p.validate(part, nil)
	for _, d := range c.later {
		p.drain(part, nil, d)
	}
	for _, ptr := range slices.Sorted(maps.Keys(p.extra)) {
		names := p.extra[ptr]
		slices.Sort(names)
		names = slices.Compact(names)
		detail := (&schemakind.AdditionalProperties{Properties: names}).LocalizedString(p.v.printer)
		p.vs = append(p.vs, problem.Violation{Pointer: ptr, Detail: detail})
	}
}

func (p *parts) cutter(window bool) cutter {
	return cutter{left: p.v.partNodes, known: p.c.known, window: window}
}

// full reports whether checking should stop: more violations than an
// answer lists were found, or validation failed.
func (p *parts) full() bool {
	return p.err != nil || len(p.vs)+len(p.extra) > MaxViolations
}

// drain checks what was left out of the cut d, a window at a time, in the
// place of the cut at d.path in base.
func (p *parts) drain(base any, shifts []shift, d deferred) {
	if d.obj != nil {
		p.drainObject(base, shifts, d)
		return
	}
	for off := d.next; off < len(d.arr); {
		if p.full() {
			p.stopped = true
			return
		}
		c := p.cutter(true)
		win, _ := c.items(d.arr, off)
		p.validate(replace(base, d.path, win), append(slices.Clip(shifts), shift{d.path, off}))
		for _, in := range c.later {
			one := replace(base, d.path, win[in.item:in.item+1])
			in.path = slices.Concat(d.path, []string{"0"}, in.path[1:])
			p.drain(one, append(slices.Clip(shifts), shift{d.path, off + in.item}), in)
		}
		off += len(win)
	}
}

// drainObject checks the members d.names[d.next:] of the object d.obj a
// window at a time, each window with the members of the cut object at
// d.path in base that the schema names.
func (p *parts) drainObject(base any, shifts []shift, d deferred) {
	cut, _ := lookup(base, d.path).(map[string]any)
	named := make(map[string]any)
	for name, v := range cut {
		if p.c.known[name] {
			named[name] = v
		}
	}
	win := make(map[string]any) // reused: a part is not kept past its check
	for off := d.next; off < len(d.names); {
		if p.full() {
			p.stopped = true
			return
		}
		c := p.cutter(true)
		clear(win)
		maps.Copy(win, named)
		n := off
		for n < len(d.names) && (n == off || c.left > 0) {
			name := d.names[n]
			win[name], _ = c.member(name, d.obj[name])
			n++
		}
		p.validate(replace(base, d.path, win), shifts)
		for _, in := range c.later {
			one := maps.Clone(named)
			one[in.path[0]] = win[in.path[0]]
			in.path = slices.Concat(d.path, in.path)
			p.drain(replace(base, d.path, one), shifts, in)
		}
		off = n
	}
}

func (p *parts) validate(part any, shifts []shift) {
	if p.err != nil {
		return
	}
	vs, err := p.v.violations(p.c.schema, part, shifts, p.st, p.addExtra)
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

func (p *parts) addExtra(ptr string, names []string) {
	p.extra[ptr] = append(p.extra[ptr], names...)
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

// lookup returns the value at path in doc, nil when there is none.
func lookup(doc any, path []string) any {
	for _, tok := range path {
		switch x := doc.(type) {
		case map[string]any:
			doc = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			doc = x[i]
		default:
			return nil
		}
	}
	return doc
}
