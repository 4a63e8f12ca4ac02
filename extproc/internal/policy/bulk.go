package policy

import (
	"encoding/json"
	"reflect"
	"slices"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The bulk of a prediction body is one array: the rows of a tabular
// request, the data of a tensor. The schema validator builds a few
// hundred bytes of bookkeeping for every value it visits, so a valid
// megabyte tensor cost 300 ms and 280 MB to check (issue 13). For arrays
// whose item schema is simple enough, this package decides itself which
// items surely pass, and the validator is given a stand-in document in
// which such an array holds only the items that may fail. Valid items
// produce no violations, so the stand-in has exactly the document's
// violations, at its own indices; [standIn.restore] translates them back.

// bulk is an array of a request schema that is checked this way.
type bulk struct {
	// path locates the array: member names, and "*" for every item of an
	// array on the way.
	path []string
	// tensor items are scalars of types or arrays of such items, nested
	// (the recursive TensorData of the Open Inference Protocol), judged
	// level by level; other items pass when item says so.
	tensor bool
	types  scalars
	item   *node
	// row is the shape of items that are rows, whose members are cut too.
	row *rowShape
	// keepOne keeps an item in the stand-in of an array whose schema
	// needs one (minItems: 1).
	keepOne bool
}

// bulkKept bounds the items kept in the stand-ins of one document, at
// all levels of nesting together. Past it, or past keepItems in one
// array, the answer says "at least" how many more violations there are.
const bulkKept = 4096

// closedObject is an object of a request schema that allows no members
// but those it names (additionalProperties: false) and looks at nothing
// else of the others: the stand-in leaves them out, and the one
// violation that lists them is built without the validator, which costs
// a kilobyte per member (issue 13).
type closedObject struct {
	path  []string
	known map[string]bool
}

// findBulk returns the arrays of s that [bulk] can check and the objects
// that are closed: reached from the top through properties and array
// items alone, no other keyword on the way looking at them, with a
// schema it recognises.
func findBulk(s *jsonschema.Schema) ([]bulk, []closedObject) {
	var out []bulk
	var closed []closedObject
	nodes := make(map[*jsonschema.Schema]*node)
	var walk func(s *jsonschema.Schema, path []string, depth int)
	walk = func(s *jsonschema.Schema, path []string, depth int) {
		s = deref(s)
		if s == nil || depth > 4 {
			return
		}
		if b, ok := recognise(s, nodes); ok {
			b.path = slices.Clone(path)
			out = append(out, b)
			if b.tensor {
				return
			}
		}
		if s.Items2020 != nil && onlyFields(s, "Types", "MinItems", "MaxItems", "Items2020") {
			walk(s.Items2020, append(path, "*"), depth+1)
			return
		}
		if len(s.PatternProperties) > 0 || s.UnevaluatedProperties != nil || len(s.Dependencies) > 0 {
			return
		}
		if known, ok := isClosed(s); ok {
			closed = append(closed, closedObject{path: slices.Clone(path), known: known})
		}
		for name, p := range s.Properties {
			if !touches(s, name, true, map[*jsonschema.Schema]bool{}) {
				walk(p, append(path, name), depth+1)
			}
		}
	}
	walk(s, nil, 0)
	return out, closed
}

// isClosed reports whether s is a closed object schema, and the names it
// allows: those of its properties and required.
func isClosed(s *jsonschema.Schema) (map[string]bool, bool) {
	if ap, ok := s.AdditionalProperties.(bool); !ok || ap ||
		!onlyFields(s, "Types", "Required", "Properties", "AdditionalProperties") || !isType(s.Types, "object") {
		return nil, false
	}
	known := make(map[string]bool, len(s.Properties)+len(s.Required))
	for name := range s.Properties {
		known[name] = true
	}
	for _, name := range s.Required {
		known[name] = true
	}
	return known, true
}

// deref follows references of schemas that are nothing but a reference.
func deref(s *jsonschema.Schema) *jsonschema.Schema {
	for i := 0; s != nil && s.Ref != nil && i < 8; i++ {
		if !onlyFields(s, "Ref") {
			return s
		}
		s = s.Ref
	}
	return s
}

// touches reports whether some keyword of s other than (when top) its
// own properties may look at the value of the member name: then the
// value must be given to the validator as it is.
func touches(s *jsonschema.Schema, name string, top bool, seen map[*jsonschema.Schema]bool) bool {
	if s == nil || seen[s] {
		return false
	}
	seen[s] = true
	if !top && s.Properties[name] != nil || s.Enum != nil || s.Const != nil || len(s.PatternProperties) > 0 || s.UnevaluatedProperties != nil ||
		len(s.Dependencies) > 0 || s.DynamicRef != nil || s.RecursiveRef != nil || len(s.Extensions) > 0 {
		return true
	}
	if ap, ok := s.AdditionalProperties.(*jsonschema.Schema); ok && ap != nil && s.Properties[name] == nil {
		return true
	}
	subs := []*jsonschema.Schema{s.Not, s.If, s.Then, s.Else}
	if !top {
		subs = append(subs, s.Ref)
	}
	subs = append(subs, s.AllOf...)
	subs = append(subs, s.AnyOf...)
	subs = append(subs, s.OneOf...)
	for _, d := range s.DependentSchemas {
		subs = append(subs, d)
	}
	if top {
		subs = append(subs, s.Ref)
	}
	for _, c := range subs {
		if touches(c, name, false, seen) {
			return true
		}
	}
	return false
}

// recognise reports whether s is an array schema whose items [bulk] can
// judge: tensor data (items that are scalars of some types or,
// recursively, arrays of s) or items of a schema that [node] evaluates.
func recognise(s *jsonschema.Schema, nodes map[*jsonschema.Schema]*node) (bulk, bool) {
	if !onlyFields(s, "Types", "MinItems", "Items2020") || !isType(s.Types, "array") || s.Items2020 == nil ||
		s.MinItems != nil && *s.MinItems > 1 {
		return bulk{}, false
	}
	b := bulk{keepOne: s.MinItems != nil && *s.MinItems == 1}
	if t, ok := tensorItems(s); ok {
		b.tensor, b.types = true, t
		return b, true
	}
	b.item = compileNode(s.Items2020, nodes)
	b.row = rowOf(b.item)
	return b, b.item != nil
}

// tensorItems reports whether the items of the array schema s are
// scalars of some types or, recursively, arrays of s (the recursive
// TensorData of the Open Inference Protocol), and which types.
func tensorItems(s *jsonschema.Schema) (scalars, bool) {
	item := deref(s.Items2020)
	if !onlyFields(item, "AnyOf") || len(item.AnyOf) != 2 {
		return scalars{}, false
	}
	for i, br := range item.AnyOf {
		if deref(br) == s {
			if t, ok := scalarTypes(item.AnyOf[1-i]); ok {
				return t, true
			}
		}
	}
	return scalars{}, false
}

// scalars are the types of scalar a bulk item may be.
type scalars struct{ number, str, boolean bool }

// bits returns t as type bits (typeNumber…).
func (t scalars) bits() uint8 {
	var b uint8
	if t.number {
		b |= typeNumber
	}
	if t.str {
		b |= typeString
	}
	if t.boolean {
		b |= typeBoolean
	}
	return b
}

// scalarTypes returns the types of s when s is nothing but a type among
// number, string and boolean.
func scalarTypes(s *jsonschema.Schema) (scalars, bool) {
	s = deref(s)
	var t scalars
	if s == nil || s.Types == nil || !onlyFields(s, "Types") {
		return t, false
	}
	for _, name := range s.Types.ToStrings() {
		switch name {
		case "number":
			t.number = true
		case "string":
			t.str = true
		case "boolean":
			t.boolean = true
		default:
			return scalars{}, false
		}
	}
	return t, true
}

// accepts reports whether v is surely one of the types. Numbers are
// json.Number, as [Validator.Decode] returns them; other values are left
// to the validator.
func (t scalars) accepts(v any) bool {
	switch v.(type) {
	case json.Number:
		return t.number
	case string:
		return t.str
	case bool:
		return t.boolean
	}
	return false
}

func isType(t *jsonschema.Types, name string) bool {
	return t != nil && slices.Equal(t.ToStrings(), []string{name})
}

// annotation reports the fields of a compiled schema that constrain
// nothing.
func annotation(field string) bool {
	switch field {
	case "DraftVersion", "Location", "ID", "Anchor", "DynamicAnchor", "RecursiveAnchor",
		"Title", "Description", "Default", "Comment", "ReadOnly", "WriteOnly", "Examples", "Deprecated":
		return true
	}
	return false
}

// onlyFields reports whether s sets no keyword but those named (and
// annotations). It reads the compiled schema's fields by reflection, so
// a keyword the validator adds later counts as set, and disables bulk.
func onlyFields(s *jsonschema.Schema, names ...string) bool {
	if s == nil {
		return false
	}
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() || annotation(f.Name) || slices.Contains(names, f.Name) {
			continue
		}
		if !v.Field(i).IsZero() {
			return false
		}
	}
	return true
}
