package policy

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/api/problem"
)

// MaxFeatureViolations bounds the violations the feature check adds to one
// answer, as inference bounds its own.
const MaxFeatureViolations = 1000

// Details of the feature check, worded as inference words them.
const (
	DetailMissing        = "missing"
	DetailUnknownFeature = "unknown feature"
	detailWrongType      = "wrong type: expected number, got "
)

// Features is the input feature set of one model version, built once per
// catalog load from its manifest. It is safe for concurrent use.
type Features struct {
	names []string
	// escaped holds each name as a JSON Pointer token, in names' order.
	escaped []string
	index   map[string]struct{}
}

// NewFeatures builds the feature set of a model version from the manifest's
// input names, in manifest order.
func NewFeatures(names []string) *Features {
	f := &Features{names: slices.Clone(names), escaped: make([]string, len(names)), index: make(map[string]struct{}, len(names))}
	for i, n := range names {
		f.escaped[i] = problem.EscapePointer(n)
		f.index[n] = struct{}{}
	}
	return f
}

// Names returns the feature names in manifest order.
func (f *Features) Names() []string { return slices.Clone(f.names) }

// Check checks the rows of a tabular body (the decoded "inputs" array) the
// way inference does: every feature present, no unknown feature, every
// value a number. Rows that are not objects are left to the schema. A valid
// body costs one map lookup per feature and allocates nothing.
func (f *Features) Check(rows []any) []problem.Violation {
	var vs []problem.Violation
	add := func(i int, token, detail string) {
		if len(vs) < MaxFeatureViolations {
			vs = append(vs, problem.Violation{Pointer: "/inputs/" + strconv.Itoa(i) + "/" + token, Detail: detail})
		}
	}
	for i, r := range rows {
		row, ok := r.(map[string]any)
		if !ok {
			continue
		}
		present := 0
		for j, n := range f.names {
			v, ok := row[n]
			if !ok {
				add(i, f.escaped[j], DetailMissing)
				continue
			}
			present++
			if _, isNum := v.(json.Number); !isNum {
				if _, isFloat := v.(float64); !isFloat {
					add(i, f.escaped[j], detailWrongType+kind(v))
				}
			}
		}
		if present == len(row) {
			continue
		}
		unknown := make([]string, 0, len(row)-present)
		for k := range row {
			if _, ok := f.index[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		slices.Sort(unknown)
		for _, k := range unknown {
			add(i, problem.EscapePointer(k), DetailUnknownFeature)
		}
	}
	return vs
}

// MergeViolations returns the schema violations and the feature violations
// as one list, sorted by pointer then detail as schema violations are and
// capped as [MaxViolations] says; the notes of lists that were cut add up.
// A feature violation about a value's type at a pointer the schema already
// reported is dropped, so no wrong value is reported twice; "missing" and
// "unknown feature" are kept, as the schema cannot say them.
func MergeViolations(schema, features []problem.Violation) []problem.Violation {
	schema, omitted, atLeast := splitNote(schema)
	if len(features) == 0 && omitted == 0 && len(schema) <= MaxViolations {
		return schema
	}
	reported := make(map[string]struct{}, len(schema))
	for _, v := range schema {
		reported[v.Pointer] = struct{}{}
	}
	if len(features) >= MaxFeatureViolations {
		atLeast = true // Features.Check stopped adding
	}
	out := make([]problem.Violation, 0, len(schema)+len(features))
	out = append(out, schema...)
	for _, v := range features {
		if _, dup := reported[v.Pointer]; dup && strings.HasPrefix(v.Detail, detailWrongType) {
			continue
		}
		out = append(out, v)
	}
	return limitViolations(out, omitted, atLeast)
}

// kind names the JSON type of a decoded value.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	default:
		return "number"
	}
}
