package policy

import (
	"encoding/json"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// node is a compiled schema in the form [node.passes] evaluates: the
// keywords the request schemas use, each exactly as the validator
// evaluates it. A body that passes needs nothing from the validator,
// whose bookkeeping costs a few hundred bytes for every value it visits
// (70 MB for a megabyte of small valid tensors, issue 13); the validator
// is left the bodies that fail, to say why.
type node struct {
	boolean *bool // a schema that is true or false
	ref     *node
	types   uint8 // of typeNull…; 0: any
	enum    map[string]bool
	allOf   []*node
	anyOf   []*node

	props                  map[string]*node
	propList               []prop // props in name order, to walk
	required               []string
	closed                 bool // additionalProperties: false
	additional, names      *node
	minProps, maxProps     int // maxProps < 0: no bound
	items                  *node
	minItems, maxItems     int
	minLength, maxLength   int
	pattern                jsonschema.Regexp
	minimum, maximum       int64
	hasMinimum, hasMaximum bool
	checksLength           bool
	// quick are the types (typeNull…) of value that pass n whatever
	// they hold: a megabyte tensor is checked a type test per number.
	quick uint8
	// integer marks a node that is an integer type and bounds only.
	integer bool
	// tensor, for a node that is tensor data (see [tensorItems]), are
	// the types (typeNumber…) of its scalar items.
	tensor uint8
}

// prop is a property of an object node.
type prop struct {
	name string
	node *node
}

const (
	typeNull = 1 << iota
	typeBoolean
	typeNumber
	typeInteger
	typeString
	typeArray
	typeObject
)

// nativeFields are the keywords [node] evaluates.
func nativeFields() []string {
	return []string{"Bool", "Ref", "Types", "Enum", "AllOf", "AnyOf", "Properties", "Required",
		"AdditionalProperties", "PropertyNames", "MinProperties", "MaxProperties", "Items2020", "MinItems",
		"MaxItems", "MinLength", "MaxLength", "Pattern", "Minimum", "Maximum"}
}

// compileNode returns s as a node, nil when s or a schema it refers to
// uses a keyword that node does not evaluate.
func compileNode(s *jsonschema.Schema, done map[*jsonschema.Schema]*node) *node {
	if s == nil {
		return nil
	}
	if n, ok := done[s]; ok {
		return n // nil while a failed compile unwinds; a cycle otherwise
	}
	if !onlyFields(s, nativeFields()...) {
		done[s] = nil
		return nil
	}
	n := &node{boolean: s.Bool, maxProps: -1, maxItems: -1, maxLength: -1, props: map[string]*node{}}
	done[s] = n
	ok := true
	sub := func(c *jsonschema.Schema) *node {
		x := compileNode(c, done)
		ok = ok && x != nil
		return x
	}
	if s.Ref != nil {
		n.ref = sub(s.Ref)
	}
	if s.Types != nil {
		for _, t := range s.Types.ToStrings() {
			n.types |= typeBit(t)
		}
	}
	if s.Enum != nil {
		n.enum = make(map[string]bool, len(s.Enum.Values))
		for _, v := range s.Enum.Values {
			str, isStr := v.(string)
			ok = ok && isStr
			n.enum[str] = true
		}
	}
	for _, c := range s.AllOf {
		n.allOf = append(n.allOf, sub(c))
	}
	for _, c := range s.AnyOf {
		n.anyOf = append(n.anyOf, sub(c))
	}
	for name, c := range s.Properties {
		n.props[name] = sub(c)
	}
	n.required = s.Required
	switch ap := s.AdditionalProperties.(type) {
	case bool:
		n.closed = !ap
	case *jsonschema.Schema:
		n.additional = sub(ap)
	}
	if s.PropertyNames != nil {
		n.names = sub(s.PropertyNames)
	}
	n.minProps, n.maxProps = intOr(s.MinProperties, 0), intOr(s.MaxProperties, -1)
	if s.Items2020 != nil {
		n.items = sub(s.Items2020)
	}
	n.minItems, n.maxItems = intOr(s.MinItems, 0), intOr(s.MaxItems, -1)
	n.minLength, n.maxLength = intOr(s.MinLength, 0), intOr(s.MaxLength, -1)
	n.checksLength = s.MinLength != nil || s.MaxLength != nil
	n.pattern = s.Pattern
	if s.Minimum != nil {
		n.hasMinimum = true
		ok = ok && s.Minimum.IsInt() && s.Minimum.Num().IsInt64()
		n.minimum = s.Minimum.Num().Int64()
	}
	if s.Maximum != nil {
		n.hasMaximum = true
		ok = ok && s.Maximum.IsInt() && s.Maximum.Num().IsInt64()
		n.maximum = s.Maximum.Num().Int64()
	}
	if !ok {
		done[s] = nil
		return nil
	}
	n.finish(s)
	return n
}

// finish sets what makes evaluating n quick, once its keywords are set.
func (n *node) finish(s *jsonschema.Schema) {
	for _, name := range slices.Sorted(maps.Keys(n.props)) {
		n.propList = append(n.propList, prop{name, n.props[name]})
	}
	n.quick = quickTypes(s, n)
	n.integer = n.types == typeInteger && onlyFields(s, "Types", "Minimum", "Maximum")
	if t, ok := tensorItems(s); ok && n.types == typeArray && onlyFields(s, "Types", "Items2020") {
		n.tensor = t.bits()
	}
}

// quickTypes returns the types of value that surely pass n by their type
// alone: n constrains nothing else for them, or n is a reference or an
// anyOf of such nodes (a cycle adds nothing).
func quickTypes(s *jsonschema.Schema, n *node) uint8 {
	switch {
	case n.boolean != nil:
		return 0
	case onlyFields(s, "Types"):
		return n.types &^ typeInteger
	case onlyFields(s, "Ref") && n.ref != nil:
		return n.ref.quick
	case onlyFields(s, "AnyOf"):
		var q uint8
		for _, b := range n.anyOf {
			q |= b.quick
		}
		return q
	}
	return 0
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func typeBit(name string) uint8 {
	switch name {
	case "null":
		return typeNull
	case "boolean":
		return typeBoolean
	case "number":
		return typeNumber
	case "integer":
		return typeInteger
	case "string":
		return typeString
	case "array":
		return typeArray
	}
	return typeObject
}

// passes reports whether v, a value as [Validator.Decode] returns it,
// surely passes n. False means that it fails or that node cannot tell
// (a json.Number "1.0" for an integer, a float64): the validator decides.
func (n *node) passes(v any) bool {
	if n.tensor != 0 {
		a, ok := v.([]any)
		return ok && tensorPasses(a, n.tensor)
	}
	if n.quick != 0 && n.quick&typeOf(v) != 0 {
		return true
	}
	if n.integer {
		x, ok := v.(json.Number)
		return ok && n.integerPasses(x)
	}
	if n.boolean != nil {
		return *n.boolean
	}
	if n.ref != nil && !n.ref.passes(v) {
		return false
	}
	if n.types != 0 && !n.typeOK(v) {
		return false
	}
	if n.enum != nil {
		if s, ok := v.(string); !ok || !n.enum[s] {
			return false
		}
	}
	for _, c := range n.allOf {
		if !c.passes(v) {
			return false
		}
	}
	if len(n.anyOf) > 0 && !n.anyPasses(v) {
		return false
	}
	switch x := v.(type) {
	case map[string]any:
		return n.object(x)
	case []any:
		return n.array(x)
	case string:
		return n.str(x)
	case json.Number:
		return n.number(x)
	case bool, nil:
		return true
	}
	return false
}

// passesName is passes for a member name, which it does not box.
func (n *node) passesName(s string) bool {
	if n.quick&typeString != 0 {
		return true
	}
	if n.boolean != nil {
		return *n.boolean
	}
	if n.ref != nil && !n.ref.passesName(s) || n.types != 0 && n.types&typeString == 0 || n.enum != nil && !n.enum[s] {
		return false
	}
	for _, c := range n.allOf {
		if !c.passesName(s) {
			return false
		}
	}
	if len(n.anyOf) > 0 && !slices.ContainsFunc(n.anyOf, func(c *node) bool { return c.passesName(s) }) {
		return false
	}
	return n.str(s)
}

func (n *node) anyPasses(v any) bool {
	for _, c := range n.anyOf {
		if c.passes(v) {
			return true
		}
	}
	return false
}

// typeOf returns the type bit of v, 0 for values Decode does not return.
func typeOf(v any) uint8 {
	switch v.(type) {
	case nil:
		return typeNull
	case bool:
		return typeBoolean
	case json.Number:
		return typeNumber
	case string:
		return typeString
	case []any:
		return typeArray
	case map[string]any:
		return typeObject
	}
	return 0
}

func (n *node) typeOK(v any) bool {
	switch x := v.(type) {
	case nil:
		return n.types&typeNull != 0
	case bool:
		return n.types&typeBoolean != 0
	case json.Number:
		return n.types&typeNumber != 0 || n.types&typeInteger != 0 && integral(x)
	case string:
		return n.types&typeString != 0
	case []any:
		return n.types&typeArray != 0
	case map[string]any:
		return n.types&typeObject != 0
	}
	return false
}

// integral reports a number literal without fraction or exponent; "1.0"
// is an integer too, but is left to the validator.
func integral(x json.Number) bool {
	for i := range len(x) {
		if c := x[i]; c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

func (n *node) object(m map[string]any) bool {
	if len(m) < n.minProps || n.maxProps >= 0 && len(m) > n.maxProps {
		return false
	}
	for _, name := range n.required {
		if _, ok := m[name]; !ok {
			return false
		}
	}
	for _, p := range n.propList {
		if x, ok := m[p.name]; ok && !p.node.passes(x) {
			return false
		}
	}
	if !n.closed && n.additional == nil && n.names == nil {
		return true
	}
	for name, x := range m {
		if n.names != nil && !n.names.passesName(name) {
			return false
		}
		if _, named := n.props[name]; named {
			continue
		}
		if n.closed || n.additional != nil && !n.additional.passes(x) {
			return false
		}
	}
	return true
}

func (n *node) array(a []any) bool {
	if len(a) < n.minItems || n.maxItems >= 0 && len(a) > n.maxItems {
		return false
	}
	if n.items != nil && n.items.integer { // a tensor's shape
		for _, x := range a {
			if y, ok := x.(json.Number); !ok || !n.items.integerPasses(y) {
				return false
			}
		}
		return true
	}
	if n.items != nil {
		for _, x := range a {
			if !n.items.passes(x) {
				return false
			}
		}
	}
	return true
}

func (n *node) str(s string) bool {
	if n.checksLength {
		l := utf8.RuneCountInString(s)
		if l < n.minLength || n.maxLength >= 0 && l > n.maxLength {
			return false
		}
	}
	return n.pattern == nil || n.pattern.MatchString(s)
}

// smallInt parses an integer literal of at most 18 digits.
func smallInt(s string) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// tensorPasses reports whether every item of a is a scalar of the
// types leaf or, recursively, an array of such items: what [node.passes]
// finds for tensor data, a type switch per value.
func tensorPasses(a []any, leaf uint8) bool {
	for _, x := range a {
		switch y := x.(type) {
		case json.Number:
			if leaf&typeNumber == 0 {
				return false
			}
		case string:
			if leaf&typeString == 0 {
				return false
			}
		case bool:
			if leaf&typeBoolean == 0 {
				return false
			}
		case []any:
			if !tensorPasses(y, leaf) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// integerPasses is passes for a number and an integer node: a literal
// that is not a small integer is left to the validator.
func (n *node) integerPasses(x json.Number) bool {
	if len(x) == 1 && '0' <= x[0] && x[0] <= '9' { // most shapes and counts
		i := int64(x[0] - '0')
		return (!n.hasMinimum || i >= n.minimum) && (!n.hasMaximum || i <= n.maximum)
	}
	if !n.hasMinimum && !n.hasMaximum {
		_, ok := smallInt(string(x))
		return ok
	}
	return n.number(x)
}

func (n *node) number(x json.Number) bool {
	if !n.hasMinimum && !n.hasMaximum {
		return true
	}
	i, ok := smallInt(string(x))
	if !ok {
		return false // not an integer literal, or too big: the validator decides
	}
	return (!n.hasMinimum || i >= n.minimum) && (!n.hasMaximum || i <= n.maximum)
}
