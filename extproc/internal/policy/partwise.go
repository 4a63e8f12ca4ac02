package policy

import "github.com/santhosh-tekuri/jsonschema/v6"

// partwise reports whether s may be checked in [parts], and which member
// names it names: those of properties, required and dependentRequired
// anywhere in it, which parts never leave out of an object. A part keeps
// at least one item of every array, and of every object its named members
// and at least one more, so keywords that look at single values, at named
// members or at whether an array or object is empty hold on a part as on
// the whole. It rejects the keywords that do not:
//   - those that count or compare the items or members (maxItems,
//     minItems above 1, uniqueItems, contains, prefixItems, draft 2019
//     items and additionalItems, maxProperties, minProperties above 1,
//     unevaluated*), and the dependent and dynamic ones, which this
//     analysis does not follow;
//   - those that negate (not, if/then/else, oneOf): a part that holds
//     fewer failures could turn them into false violations;
//   - an anyOf with more than one branch that looks into what parts cut
//     (array items, the members of objects that no schema names): the
//     failures that make every branch fail may lie in different parts.
func partwise(s *jsonschema.Schema) (bool, map[string]bool) {
	a := analysis{checked: make(map[*jsonschema.Schema]bool), deep: make(map[*jsonschema.Schema]bool), known: make(map[string]bool)}
	if !a.ok(s) {
		return false, nil
	}
	return true, a.known
}

type analysis struct {
	checked map[*jsonschema.Schema]bool
	deep    map[*jsonschema.Schema]bool
	known   map[string]bool
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
		s.MaxProperties != nil || s.MinProperties != nil && *s.MinProperties > 1 ||
		s.UnevaluatedItems != nil || s.UnevaluatedProperties != nil || len(s.Extensions) > 0 {
		return false
	}
	for name := range s.Properties {
		a.known[name] = true
	}
	for _, name := range s.Required {
		a.known[name] = true
	}
	for name, names := range s.DependentRequired {
		a.known[name] = true
		for _, n := range names {
			a.known[n] = true
		}
	}
	deep := 0
	for _, b := range s.AnyOf {
		if a.looksIntoCuts(b) {
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

// looksIntoCuts reports whether s looks at array items or at members it
// does not name, itself or through its subschemas.
func (a *analysis) looksIntoCuts(s *jsonschema.Schema) bool {
	if s == nil {
		return false
	}
	if d, seen := a.deep[s]; seen {
		return d // false while in progress: a cycle adds nothing
	}
	a.deep[s] = false
	d := s.Items2020 != nil || s.AdditionalProperties != nil || len(s.PatternProperties) > 0 || s.PropertyNames != nil
	for _, c := range children(s) {
		d = d || a.looksIntoCuts(c)
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
