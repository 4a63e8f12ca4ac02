package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/modelgate/modelgate/api/problem"
)

// schemaDoc is an OpenAPI document whose schemas can be compiled at any
// JSON Pointer.
type schemaDoc struct {
	url  string
	doc  map[string]any
	mu   sync.Mutex
	comp *jsonschema.Compiler
	memo map[string]*jsonschema.Schema
}

func newSchemaDoc(url string, doc map[string]any) (*schemaDoc, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(url, parsed); err != nil {
		return nil, err
	}
	return &schemaDoc{url: url, doc: doc, comp: c, memo: map[string]*jsonschema.Schema{}}, nil
}

// compile returns the schema at ptr.
func (d *schemaDoc) compile(ptr string) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.memo[ptr]; ok {
		return s, nil
	}
	s, err := d.comp.Compile(d.url + "#" + ptr)
	if err != nil {
		return nil, err
	}
	d.memo[ptr] = s
	return s, nil
}

// validates reports whether the JSON value v is valid at ptr.
func (d *schemaDoc) validates(ptr string, v any) error {
	s, err := d.compile(ptr)
	if err != nil {
		return err
	}
	// Numbers go in as json.Number, as the gateway's compiler sees them.
	b, _ := json.Marshal(v)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// at returns the value at ptr.
func (d *schemaDoc) at(ptr string) any {
	var v any = d.doc
	if ptr == "" {
		return v
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := v.(type) {
		case map[string]any:
			v = t[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// narrowing proves, keyword by keyword, that a schema of the generated
// document accepts nothing the static document's schema refuses. It
// understands the keywords both documents use and fails on any other, so a
// proof is never assumed.
type narrowing struct {
	gen, static *schemaDoc
	seen        map[string]bool
}

// annotations never assert anything.
var annotations = map[string]bool{
	"description": true, "example": true, "examples": true, "title": true, "deprecated": true,
	"discriminator": true, "format": true, "default": true, "$comment": true,
}

// narrows checks the schema at gp (generated) against the one at sp
// (static).
func (n *narrowing) narrows(gp, sp string) error {
	g, s := n.gen.at(gp), n.static.at(sp)
	// The same schema narrows itself, whatever keywords it uses: the
	// generated document keeps every static component as it is (checked
	// by requireRefinement), so references inside it mean the same.
	if reflect.DeepEqual(g, s) {
		return nil
	}
	// Follow references, detecting cycles on the pair.
	if r, ok := refOf(g); ok {
		return n.pair(r, sp, func() error { return n.narrows(r, sp) })
	}
	if r, ok := refOf(s); ok {
		return n.pair(gp, r, func() error { return n.narrows(gp, r) })
	}
	if g == false || isTrue(s) {
		return nil
	}
	gm, ok := g.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: generated schema %v accepts more than %s", gp, g, sp)
	}
	sm, ok := s.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: static schema %v is false", sp, s)
	}
	// Generated alternatives: each one must narrow.
	for _, kw := range []string{"oneOf", "anyOf"} {
		if branches, ok := gm[kw].([]any); ok {
			for i := range branches {
				if err := n.narrows(gp+"/"+kw+"/"+strconv.Itoa(i), sp); err != nil {
					return err
				}
			}
			if rest := without(gm, kw); len(rest) > 0 {
				return fmt.Errorf("%s: %s beside other keywords is not handled", gp, kw)
			}
			return nil
		}
	}
	// A generated conjunction narrows when one member does.
	if members, ok := gm["allOf"].([]any); ok {
		var errs []string
		for i := range members {
			err := n.narrows(gp+"/allOf/"+strconv.Itoa(i), sp)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("%s: no allOf member narrows %s: %s", gp, sp, strings.Join(errs, "; "))
	}
	// Constants and enumerations are checked exactly: each value must be
	// valid against the static schema.
	if c, ok := gm["const"]; ok {
		if err := n.static.validates(sp, c); err != nil {
			return fmt.Errorf("%s: const %v is refused by %s: %w", gp, c, sp, err)
		}
		return nil
	}
	if e, ok := gm["enum"].([]any); ok {
		for _, v := range e {
			if err := n.static.validates(sp, v); err != nil {
				return fmt.Errorf("%s: enum value %v is refused by %s: %w", gp, v, sp, err)
			}
		}
		return nil
	}
	for _, kw := range sortedKeys(sm) {
		if annotations[kw] {
			continue
		}
		if err := n.keyword(gm, gp, sm, sp, kw); err != nil {
			return err
		}
	}
	return nil
}

func (n *narrowing) pair(gp, sp string, f func() error) error {
	k := gp + " | " + sp
	if n.seen[k] {
		return nil // coinduction: a cycle holds if nothing else fails
	}
	n.seen[k] = true
	return f()
}

// keyword checks one assertion of the static schema.
func (n *narrowing) keyword(g map[string]any, gp string, s map[string]any, sp, kw string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: does not narrow %s/%s: %s", gp, sp, kw, fmt.Sprintf(format, args...))
	}
	switch kw {
	case "anyOf", "oneOf":
		// One branch narrowed is enough for anyOf; for oneOf it is too as
		// long as the branches are disjoint, which the static document's
		// are not asked to be: it uses anyOf only.
		branches := s[kw].([]any)
		var errs []string
		for i := range branches {
			err := n.narrows(gp, sp+"/"+kw+"/"+strconv.Itoa(i))
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fail("no branch: %s", strings.Join(errs, "; "))
	case "allOf":
		for i := range s[kw].([]any) {
			if err := n.narrows(gp, sp+"/allOf/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	case "type":
		st := typeSet(s["type"])
		gt := typeSet(g["type"])
		if len(gt) == 0 {
			return fail("generated schema has no type")
		}
		for _, t := range gt {
			if !slices.Contains(st, t) && (t != "integer" || !slices.Contains(st, "number")) {
				return fail("type %s", t)
			}
		}
	case "minimum", "minLength", "minItems", "minProperties":
		if !atLeast(g, kw, s[kw]) {
			return fail("%s %v not at least %v", kw, g[kw], s[kw])
		}
	case "maximum", "maxLength", "maxItems":
		if !atMost(g, kw, s[kw]) {
			return fail("%s %v not at most %v", kw, g[kw], s[kw])
		}
	case "pattern", "uniqueItems":
		if !reflect.DeepEqual(g[kw], s[kw]) {
			return fail("%v", g[kw])
		}
	case "required":
		for _, r := range s[kw].([]any) {
			if !slices.Contains(asSlice(g["required"]), r) {
				return fail("%v not required", r)
			}
		}
	case "properties", "additionalProperties", "propertyNames":
		return n.object(g, gp, s, sp, kw)
	case "items", "prefixItems":
		return n.array(g, gp, s, sp, kw)
	default:
		return fail("keyword not understood by the proof")
	}
	return nil
}

// object checks properties, additionalProperties and propertyNames.
func (n *narrowing) object(g map[string]any, gp string, s map[string]any, sp, kw string) error {
	gProps, _ := g["properties"].(map[string]any)
	sProps, _ := s["properties"].(map[string]any)
	closed := g["additionalProperties"] == false
	switch kw {
	case "properties":
		for _, name := range sortedKeys(gProps) {
			tok := problem.EscapePointer(name)
			if _, ok := sProps[name]; ok {
				if err := n.narrows(gp+"/properties/"+tok, sp+"/properties/"+tok); err != nil {
					return err
				}
			}
		}
		if !closed {
			for _, name := range sortedKeys(sProps) {
				if _, ok := gProps[name]; !ok {
					return fmt.Errorf("%s: leaves static property %q (%s) unconstrained", gp, name, sp)
				}
			}
		}
	case "additionalProperties":
		for _, name := range sortedKeys(gProps) {
			if _, ok := sProps[name]; !ok {
				if err := n.narrows(gp+"/properties/"+problem.EscapePointer(name), sp+"/additionalProperties"); err != nil {
					return err
				}
			}
		}
		if !closed {
			if _, ok := g["additionalProperties"]; !ok {
				return fmt.Errorf("%s: allows any extra member where %s/additionalProperties constrains them", gp, sp)
			}
			return n.narrows(gp+"/additionalProperties", sp+"/additionalProperties")
		}
	case "propertyNames":
		if !closed {
			return fmt.Errorf("%s: open object where %s/propertyNames constrains names", gp, sp)
		}
		for _, name := range sortedKeys(gProps) {
			if err := n.static.validates(sp+"/propertyNames", name); err != nil {
				return fmt.Errorf("%s: property name %q refused by %s: %w", gp, name, sp, err)
			}
		}
	}
	return nil
}

// array checks items and prefixItems.
func (n *narrowing) array(g map[string]any, gp string, s map[string]any, sp, kw string) error {
	gPrefix := asSlice(g["prefixItems"])
	sPrefix := asSlice(s["prefixItems"])
	switch kw {
	case "items":
		for i := range gPrefix {
			if i >= len(sPrefix) {
				if err := n.narrows(gp+"/prefixItems/"+strconv.Itoa(i), sp+"/items"); err != nil {
					return err
				}
			}
		}
		if _, ok := g["items"]; !ok {
			return fmt.Errorf("%s: items unconstrained where %s/items constrains them", gp, sp)
		}
		return n.narrows(gp+"/items", sp+"/items")
	case "prefixItems":
		for i := range sPrefix {
			if i < len(gPrefix) {
				if err := n.narrows(gp+"/prefixItems/"+strconv.Itoa(i), sp+"/prefixItems/"+strconv.Itoa(i)); err != nil {
					return err
				}
				continue
			}
			if err := n.narrows(gp+"/items", sp+"/prefixItems/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func refOf(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	r, ok := m["$ref"].(string)
	if !ok {
		return "", false
	}
	return strings.TrimPrefix(r, "#"), true
}

func isTrue(v any) bool {
	if v == true {
		return true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k := range m {
		if !annotations[k] {
			return false
		}
	}
	return true
}

func without(m map[string]any, kw string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if k != kw && !annotations[k] {
			out[k] = v
		}
	}
	return out
}

func typeSet(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func num(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	}
	return 0, false
}

// atLeast reports whether g bounds kw from below at least as tightly as
// bound; a closed prefix or required list counts as a bound too.
func atLeast(g map[string]any, kw string, bound any) bool {
	b, _ := num(bound)
	if v, ok := num(g[kw]); ok && v >= b {
		return true
	}
	if kw == "minProperties" && float64(len(asSlice(g["required"]))) >= b {
		return true
	}
	return false
}

func atMost(g map[string]any, kw string, bound any) bool {
	b, _ := num(bound)
	v, ok := num(g[kw])
	return ok && v <= b
}
