package openapi

import (
	"slices"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/internal/catalog"
)

// group is the versions of one model that take the same features, with
// the names (versions and aliases) a request may use for them.
type group struct {
	// id names the group's components: its first version.
	id       string
	features []catalog.Feature
	output   catalog.Output
	// known is false when the manifest could not be read; the static
	// schemas then stand.
	known bool
	// choices are the versions and aliases that resolve into the group.
	choices []string
	// latest is set when a request naming no version lands in the group.
	latest bool
}

// groups splits a model's versions by the features they take.
func (g *Generator) groups(model string) []*group {
	m := g.cat.Models[model]
	var out []*group
	byVersion := map[string]*group{}
	for _, v := range m.Versions {
		man := g.manifests(model, v)
		var gr *group
		for _, o := range out {
			if sameFeatures(o, man) {
				gr = o
				break
			}
		}
		if gr == nil {
			gr = &group{id: v}
			if man != nil {
				gr.features, gr.output, gr.known = man.Inputs, man.Output, true
			}
			out = append(out, gr)
		}
		byVersion[v] = gr
	}
	for _, c := range m.Choices() {
		v, err := g.cat.Resolve(model, c)
		if err != nil {
			continue
		}
		gr := byVersion[v]
		gr.choices = append(gr.choices, c)
		if c == catalog.DefaultAlias {
			gr.latest = true
		}
	}
	return out
}

func sameFeatures(gr *group, m *catalog.Manifest) bool {
	if !gr.known || m == nil {
		return false
	}
	if m.Output.Kind != gr.output.Kind || !slices.Equal(m.Output.Classes, gr.output.Classes) {
		return false
	}
	return slices.Equal(m.Inputs, gr.features)
}

// groupOf returns the group a version or alias resolves into.
func groupOf(groups []*group, choice string) *group {
	for _, gr := range groups {
		if slices.Contains(gr.choices, choice) {
			return gr
		}
	}
	return nil
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// componentName joins a component kind with a model and group: names
// allow [a-zA-Z0-9._-].
func componentName(kind, model, id string) string { return kind + "." + model + "." + id }

// rowsSchema adds the row components of a group and returns the schema of
// its "inputs" array.
func (g *Generator) rowsSchema(schemas map[string]any, model string, gr *group) map[string]any {
	if !gr.known {
		return ref("Rows")
	}
	props := map[string]any{}
	required := make([]any, 0, len(gr.features))
	for _, f := range gr.features {
		typ := f.Type
		if typ == "" {
			typ = "number"
		}
		p := map[string]any{"type": typ}
		if f.Description != "" {
			p["description"] = f.Description
		}
		props[f.Name] = p
		required = append(required, f.Name)
	}
	row := componentName("Row", model, gr.id)
	schemas[row] = map[string]any{
		"description":          "One input row of " + model + " (versions " + strings.Join(gr.choices, ", ") + "): every feature, no other member.",
		"type":                 "object",
		"required":             required,
		"additionalProperties": false,
		"properties":           props,
	}
	rows := componentName("Rows", model, gr.id)
	s := map[string]any{"type": "array", "minItems": 1, "items": ref(row)}
	if g.cfg.MaxRows > 0 {
		s["maxItems"] = g.cfg.MaxRows
	}
	schemas[rows] = s
	return ref(rows)
}

// jobRowsSchema is rowsSchema with the jobs' row limit.
func (g *Generator) jobRowsSchema(schemas map[string]any, model string, gr *group) map[string]any {
	r := g.rowsSchema(schemas, model, gr)
	if !gr.known {
		return r
	}
	s := map[string]any{"type": "array", "minItems": 1, "items": ref(componentName("Row", model, gr.id))}
	if g.cfg.JobsMaxRows > 0 {
		s["maxItems"] = g.cfg.JobsMaxRows
	}
	return s
}

// outputNames are the output tensors of a version, as inference names
// them.
func outputNames(o catalog.Output) []string {
	if o.Kind == catalog.KindClassification {
		return []string{"label", "probabilities"}
	}
	return []string{"value"}
}

// leadingDim is the schema of a tensor's first dimension: its rows.
func (g *Generator) leadingDim() map[string]any {
	d := map[string]any{"type": "integer", "minimum": 1}
	if g.cfg.MaxRows > 0 {
		d["maximum"] = g.cfg.MaxRows
	}
	return d
}

// dataLength says in words what JSON Schema cannot: how data and shape
// agree.
const dataLength = "`data` holds exactly as many numbers as the product of `shape`, flat in row-major order or nested; "

// inferSchema adds the infer request component of a group and returns a
// reference to it.
func (g *Generator) inferSchema(schemas map[string]any, model string, gr *group) map[string]any {
	if !gr.known {
		return ref("InferRequest")
	}
	name := componentName("InferRequest", model, gr.id)
	if _, ok := schemas[name]; ok {
		return ref(name)
	}
	nf := len(gr.features)
	datatype := map[string]any{"type": "string", "enum": []any{oip.FP32, oip.FP64}}
	noBinary := map[string]any{"type": "object", "properties": map[string]any{"binary_data_size": false}}
	tensor := func(nameSchema, shape map[string]any, desc string) map[string]any {
		return map[string]any{
			"type":        "object",
			"description": desc,
			"required":    []any{"name", "shape", "datatype", "data"},
			"properties": map[string]any{
				"name": nameSchema, "shape": shape, "datatype": datatype,
				"parameters": noBinary, "data": ref("NumberData"),
			},
		}
	}
	names := make([]any, nf)
	perFeature := make([]any, nf)
	for i, f := range gr.features {
		names[i] = f.Name
		perFeature[i] = tensor(map[string]any{"type": "string", "const": f.Name},
			map[string]any{"type": "array", "prefixItems": []any{g.leadingDim(), map[string]any{"type": "integer", "const": 1}},
				"minItems": 1, "maxItems": 2, "items": false},
			"Feature "+f.Name+": shape [rows] or [rows, 1], the same rows in every feature tensor; "+dataLength+"FP32 or FP64.")
	}
	layouts := []any{map[string]any{
		"description": "One tensor per feature, in manifest order.",
		"type":        "array", "prefixItems": perFeature, "minItems": nf, "maxItems": nf, "items": false,
	}}
	if nf > 1 {
		matrix := tensor(map[string]any{"type": "string", "minLength": 1, "not": map[string]any{"enum": names[1:]}},
			map[string]any{"type": "array", "prefixItems": []any{g.leadingDim(), map[string]any{"type": "integer", "const": nf}},
				"minItems": 2, "maxItems": 2, "items": false},
			"All features as one [rows, "+strconv.Itoa(nf)+"] matrix, columns in manifest order ("+strings.Join(featureNames(gr.features), ", ")+
				"); "+dataLength+"FP32 or FP64. Its name is free (`input` by convention) but for a feature name other than the first.")
		layouts = append([]any{map[string]any{
			"type": "array", "minItems": 1, "maxItems": 1, "items": matrix,
		}}, layouts...)
	}
	schemas[name] = map[string]any{
		"description": "An Open Inference Protocol request to " + model + " (versions " + strings.Join(gr.choices, ", ") + ").",
		"type":        "object",
		"required":    []any{"inputs"},
		"properties": map[string]any{
			"id":         map[string]any{"type": "string"},
			"parameters": map[string]any{"type": "object"},
			"inputs":     map[string]any{"oneOf": layouts},
			"outputs": map[string]any{"type": "array", "items": map[string]any{
				"type": "object", "required": []any{"name"},
				"properties": map[string]any{
					"name":       map[string]any{"type": "string", "enum": strs(outputNames(gr.output))},
					"parameters": map[string]any{"type": "object"},
				},
			}},
		},
	}
	if _, ok := schemas["NumberData"]; !ok {
		schemas["NumberData"] = map[string]any{
			"description": "Tensor numbers, flat or nested in row-major order.",
			"type":        "array",
			"items":       map[string]any{"anyOf": []any{map[string]any{"type": "number"}, ref("NumberData")}},
		}
	}
	return ref(name)
}

func featureNames(fs []catalog.Feature) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}
