package openapi

import (
	"slices"
	"strings"

	"github.com/modelgate/modelgate/internal/catalog"
)

// v1Predict refines POST /v1/predict for the default model; false drops
// the path (the default model is out of scope).
func (g *Generator) v1Predict(item map[string]any, sc scope, schemas map[string]any) bool {
	if sc.defaultModel == "" {
		return false
	}
	op, ok := item["post"].(map[string]any)
	if !ok {
		return true
	}
	model := sc.defaultModel
	groups := g.groups(model)
	options := dig(schemas, "V1PredictRequest", "properties", "options")
	if options == nil {
		options = map[string]any{"type": "object"}
	}
	branches := make([]any, 0, len(groups))
	var choices []string
	for _, gr := range groups {
		choices = append(choices, gr.choices...)
		b := map[string]any{
			"type":                 "object",
			"additionalProperties": false,
			"required":             []any{"inputs"},
			"properties": map[string]any{
				"inputs":        g.rowsSchema(schemas, model, gr),
				"model_version": map[string]any{"type": "string", "enum": strs(gr.choices)},
				"options":       deepCopy(options),
			},
		}
		if !gr.latest {
			b["required"] = []any{"inputs", "model_version"}
		}
		branches = append(branches, b)
	}
	setBody(op, oneOrOneOf(branches), example(groups[0], "model_version"))
	narrowParams(op, choices, "", "")
	return true
}

// v2Predict refines POST /v2/predict: one component per model in scope,
// chosen by the body's "model" member; false drops the path.
func (g *Generator) v2Predict(item map[string]any, sc scope, schemas map[string]any) bool {
	if len(sc.tabular) == 0 {
		return false
	}
	op, ok := item["post"].(map[string]any)
	if !ok {
		return true
	}
	g.modelBodies(op, sc, schemas, "V2PredictRequest", g.rowsSchema, nil)
	return true
}

// jobs refines POST /v2/jobs: the prediction form as /v2/predict, with
// the job's own members (webhook, events filter, metadata) as the static
// JobRequest has them, and the chat completion form (ChatJobRequest) with
// its model narrowed to the text-generation models in scope. A form
// without a model in scope is dropped; without either the path keeps its
// reads only.
func (g *Generator) jobs(item map[string]any, sc scope, schemas map[string]any) bool {
	op, ok := item["post"].(map[string]any)
	if !ok {
		return true
	}
	if len(sc.tabular) == 0 && len(sc.llm) == 0 {
		delete(item, "post")
		return len(item) > 0
	}
	var forms []any
	var ex map[string]any
	if len(sc.tabular) > 0 {
		static, _ := schemas["JobRequest"].(map[string]any)
		props, _ := static["properties"].(map[string]any)
		extra := map[string]any{}
		for _, name := range []string{"webhook", "webhook_events_filter", "metadata"} {
			if p, ok := props[name]; ok {
				extra[name] = p
			}
		}
		g.modelBodies(op, sc, schemas, "JobRequest", g.jobRowsSchema, extra)
		media, _ := dig(op, "requestBody", "content", "application/json").(map[string]any)
		forms = append(forms, media["schema"])
		ex, _ = media["example"].(map[string]any)
	}
	if len(sc.llm) > 0 {
		forms = append(forms, map[string]any{"allOf": []any{ref("ChatJobRequest"), map[string]any{
			"properties": map[string]any{"model": map[string]any{"enum": strs(g.modelRefs(sc.llm))}},
		}}})
		if ex == nil {
			ex = map[string]any{"model": sc.llm[0], "messages": []any{map[string]any{"role": "user", "content": "In the beginning"}}, "max_tokens": 32}
		}
	}
	setBody(op, oneOrOneOf(forms), ex)
	return true
}

// modelBodies sets op's body to a oneOf of one component per model in
// scope (name.model), discriminated by the body's "model" member; extra
// are members every branch also takes.
func (g *Generator) modelBodies(op map[string]any, sc scope, schemas map[string]any, name string,
	rows func(map[string]any, string, *group) map[string]any, extra map[string]any,
) {
	refs := make([]any, 0, len(sc.tabular))
	mapping := map[string]any{}
	var choices []string
	var first *group
	for _, model := range sc.tabular {
		groups := g.groups(model)
		if first == nil {
			first = groups[0]
		}
		branches := make([]any, 0, len(groups))
		for _, gr := range groups {
			choices = appendNew(choices, gr.choices...)
			props := map[string]any{
				"model":   map[string]any{"type": "string", "const": model},
				"version": map[string]any{"type": "string", "enum": strs(gr.choices)},
				"inputs":  rows(schemas, model, gr),
				"options": ref("V2Options"),
			}
			for k, v := range extra {
				props[k] = v
			}
			b := map[string]any{
				"type":                 "object",
				"additionalProperties": false,
				"required":             []any{"model", "inputs"},
				"properties":           props,
			}
			if !gr.latest {
				b["required"] = []any{"model", "inputs", "version"}
			}
			branches = append(branches, b)
		}
		component := name + "." + model
		s := oneOrOneOf(branches)
		s["description"] = "A batch for " + model + "."
		schemas[component] = s
		refs = append(refs, ref(component))
		mapping[model] = "#/components/schemas/" + component
	}
	body := map[string]any{"oneOf": refs, "discriminator": map[string]any{"propertyName": "model", "mapping": mapping}}
	ex := example(first, "version")
	if ex != nil {
		ex["model"] = sc.tabular[0]
	}
	setBody(op, body, ex)
	narrowParams(op, choices, "", "")
}

// perModel writes the Open Inference Protocol paths of every model in
// scope in place of the static template: /v2/models/{model}/... becomes
// /v2/models/iris/..., and a {version} segment one path per version and
// alias, each with the tensors that version takes.
func (g *Generator) perModel(paths map[string]any, tmpl string, item map[string]any, sc scope, schemas map[string]any) {
	versioned := strings.Contains(tmpl, "{version}")
	for _, model := range sc.tabular {
		groups := g.groups(model)
		targets := []string{""}
		if versioned {
			targets = g.cat.Models[model].Choices()
		}
		for _, choice := range targets {
			gr := groupOf(groups, choice)
			if !versioned {
				gr = groupOf(groups, catalog.DefaultAlias)
			}
			if gr == nil {
				continue
			}
			path := strings.Replace(tmpl, "{model}", model, 1)
			path = strings.Replace(path, "{version}", choice, 1)
			it := deepCopy(item).(map[string]any)
			for _, m := range methodNames {
				op, ok := it[m].(map[string]any)
				if !ok {
					continue
				}
				if id, ok := op["operationId"].(string); ok {
					op["operationId"] = strings.Join(append([]string{id, model}, nonEmpty(choice)...), ".")
				}
				if _, ok := op["requestBody"]; ok {
					setBody(op, g.inferSchema(schemas, model, gr), inferExample(gr))
				}
				// Metadata does not depend on the features, so a pinned
				// version may be any; a pinned infer version must take
				// the same tensors as the path's.
				pins := gr.choices
				if _, ok := op["requestBody"]; !ok {
					pins = g.cat.Models[model].Choices()
				}
				narrowParams(op, pins, model, choice)
			}
			paths[path] = it
		}
	}
}

// setBody replaces the JSON request body schema and example of op.
func setBody(op map[string]any, schema map[string]any, ex map[string]any) {
	media, ok := dig(op, "requestBody", "content", "application/json").(map[string]any)
	if !ok {
		return
	}
	media["schema"] = schema
	if ex != nil {
		media["example"] = ex
	} else {
		delete(media, "example")
	}
}

// narrowParams replaces the shared x-model-version header by one that
// names only pins (or nothing), and drops the path parameters a concrete
// path no longer has.
func narrowParams(op map[string]any, pins []string, model, version string) {
	params, _ := op["parameters"].([]any)
	out := params[:0]
	for _, p := range params {
		r, _ := dig(p, "$ref").(string)
		switch {
		case r == paramModel && model != "", r == paramVersion && version != "":
			continue
		case r == paramModelVersion:
			out = append(out, map[string]any{
				"name": "x-model-version", "in": "header", "required": false,
				"description": "Pins one of this path's versions or aliases; wins over the body and the path. An empty value pins nothing.",
				"schema":      map[string]any{"type": "string", "enum": append(strs(pins), "")},
			})
		default:
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		delete(op, "parameters")
		return
	}
	op["parameters"] = out
}

// oneOrOneOf returns the only branch, or a oneOf of several.
func oneOrOneOf(branches []any) map[string]any {
	if len(branches) == 1 {
		return branches[0].(map[string]any)
	}
	return map[string]any{"oneOf": branches}
}

// example is a one-row body for a group: every feature 1.5.
func example(gr *group, versionMember string) map[string]any {
	if !gr.known {
		return nil
	}
	row := map[string]any{}
	for _, f := range gr.features {
		row[f.Name] = 1.5
	}
	ex := map[string]any{"inputs": []any{row}}
	if len(gr.choices) > 0 {
		ex[versionMember] = gr.choices[0]
	}
	return ex
}

// inferExample is a one-row matrix request for a group.
func inferExample(gr *group) map[string]any {
	if !gr.known {
		return nil
	}
	nf := len(gr.features)
	data := make([]any, nf)
	for i := range data {
		data[i] = 1.5
	}
	t := map[string]any{"name": "input", "shape": []any{1, nf}, "datatype": "FP64", "data": data}
	if nf == 1 {
		t["name"] = gr.features[0].Name
		t["shape"] = []any{1}
	}
	return map[string]any{"id": "example-1", "inputs": []any{t}}
}

func appendNew(dst []string, ss ...string) []string {
	for _, s := range ss {
		if !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
