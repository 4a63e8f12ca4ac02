package policy

import "github.com/santhosh-tekuri/jsonschema/v6"

// partwise reports whether s may be checked in [parts]. A part keeps every
// object whole and at least one item of every array, so keywords that
// look at objects, at single values or at whether an array is empty hold
// on a part as on the whole. It rejects the keywords that do not:
//   - those that look across the items of an array (maxItems, minItems
//     above 1, uniqueItems, contains, prefixItems, draft 2019 items and
//     additionalItems, unevaluated*), and the dependent and dynamic ones,
//     which this analysis does not follow;
//   - those that negate (not, if/then/else, oneOf): a part that holds
//     fewer failures could turn them into false violations;
//   - an anyOf with more than one branch that looks into array items: the
//     failures that make every branch fail may lie in different parts.
func partwise(s *jsonschema.Schema) bool {
	a := analysis{checked: make(map[*jsonschema.Schema]bool), deep: make(map[*jsonschema.Schema]bool)}
	return a.ok(s)
}

type analysis struct {
	checked map[*jsonschema.Schema]bool
	deep    map[*jsonschema.Schema]bool
}

func (a *analysis) ok(s *jsonschema.Schema) bool {
	if s == nil || a.checked[s] {
		return true
	}
	a.checked[s] = true
	if s.Not != nil || len(s.OneOf) > 0 || s.If != nil || s.Then != nil || s.Else != nil ||
		s.RecursiveRef != nil || s.DynamicRef != nil || len(s.Dependencies) > 0 || len(s.DependentSchemas) > 0 ||
		s.MaxItems != nil || s.MinItems != nil && *s.MinItems > 1 || s.UniqueItems || s.Contains != nil ||
		s.Items != nil || s.AdditionalItems != nil || len(s.PrefixItems) > 0 ||
		s.UnevaluatedItems != nil || s.UnevaluatedProperties != nil || len(s.Extensions) > 0 {
		return false
	}
	deep := 0
	for _, b := range s.AnyOf {
		if a.looksIntoItems(b) {
			deep++
		}
	}
	if deep > 1 {
		return false
	}
	for _, c := range children(s) {
		if !a.ok(c) {
			return false
		}
	}
	return true
}

// looksIntoItems reports whether s applies a schema to array items, itself
// or through its subschemas.
func (a *analysis) looksIntoItems(s *jsonschema.Schema) bool {
	if s == nil {
		return false
	}
	if d, seen := a.deep[s]; seen {
		return d // false while in progress: a cycle adds nothing
	}
	a.deep[s] = false
	d := s.Items2020 != nil
	for _, c := range children(s) {
		d = d || a.looksIntoItems(c)
	}
	a.deep[s] = d
	return d
}

// children lists the subschemas of s that partwise admits.
func children(s *jsonschema.Schema) []*jsonschema.Schema {
	cs := []*jsonschema.Schema{s.Ref, s.PropertyNames, s.Items2020}
	cs = append(cs, s.AllOf...)
	cs = append(cs, s.AnyOf...)
	for _, p := range s.Properties {
		cs = append(cs, p)
	}
	for _, p := range s.PatternProperties {
		cs = append(cs, p)
	}
	if ap, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
		cs = append(cs, ap)
	}
	return cs
}
