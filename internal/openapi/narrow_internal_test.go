package openapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNarrowing_Refuses: the proof fails for every way a schema can accept
// more than the static one, so a passing refinement test means something.
func TestNarrowing_Refuses(t *testing.T) {
	t.Parallel()
	static := map[string]any{"components": map[string]any{"schemas": map[string]any{
		"Name": map[string]any{"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
		"Row": map[string]any{
			"type": "object", "minProperties": 1,
			"additionalProperties": map[string]any{"type": "number"},
		},
		"Body": map[string]any{
			"type": "object", "required": []any{"inputs"}, "additionalProperties": false,
			"properties": map[string]any{
				"inputs":  map[string]any{"type": "array", "minItems": 1, "maxItems": 10, "items": map[string]any{"$ref": "#/components/schemas/Row"}},
				"version": map[string]any{"$ref": "#/components/schemas/Name"},
			},
		},
	}}}
	row := map[string]any{"type": "object", "required": []any{"a"}, "additionalProperties": false,
		"properties": map[string]any{"a": map[string]any{"type": "number"}}}
	body := func(edit func(b map[string]any)) map[string]any {
		b := map[string]any{
			"type": "object", "required": []any{"inputs"}, "additionalProperties": false,
			"properties": map[string]any{
				"inputs":  map[string]any{"type": "array", "minItems": 1, "maxItems": 10, "items": deepCopy(row)},
				"version": map[string]any{"type": "string", "enum": []any{"one", "two"}},
			},
		}
		edit(b)
		return b
	}
	props := func(b map[string]any) map[string]any { return b["properties"].(map[string]any) }
	tests := []struct {
		name    string
		gen     map[string]any
		wantErr bool
	}{
		{name: "accepts a narrower body", gen: body(func(map[string]any) {})},
		{name: "refuses an enum value the pattern refuses", gen: body(func(b map[string]any) {
			props(b)["version"] = map[string]any{"type": "string", "enum": []any{"One"}}
		}), wantErr: true},
		{name: "refuses more items", gen: body(func(b map[string]any) {
			props(b)["inputs"].(map[string]any)["maxItems"] = 11
		}), wantErr: true},
		{name: "refuses a missing bound", gen: body(func(b map[string]any) {
			delete(props(b)["inputs"].(map[string]any), "minItems")
		}), wantErr: true},
		{name: "refuses a dropped requirement", gen: body(func(b map[string]any) { b["required"] = []any{} }), wantErr: true},
		{name: "refuses an open object where the static one is closed", gen: body(func(b map[string]any) {
			delete(b, "additionalProperties")
		}), wantErr: true},
		{name: "refuses a wider member type", gen: body(func(b map[string]any) {
			items := props(b)["inputs"].(map[string]any)["items"].(map[string]any)
			items["properties"].(map[string]any)["a"] = map[string]any{"type": []any{"number", "string"}}
		}), wantErr: true},
		{name: "refuses an unconstrained string", gen: body(func(b map[string]any) {
			props(b)["version"] = map[string]any{"type": "string"}
		}), wantErr: true},
		{name: "refuses a member the static body does not have", gen: body(func(b map[string]any) {
			props(b)["extra"] = map[string]any{"type": "string"}
		}), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gen := map[string]any{"components": map[string]any{"schemas": map[string]any{"Body": tt.gen}}}
			g, err := newSchemaDoc("urn:g", roundTrip(t, gen))
			require.NoError(t, err)
			s, err := newSchemaDoc("urn:s", roundTrip(t, static))
			require.NoError(t, err)
			n := &narrowing{gen: g, static: s, seen: map[string]bool{}}
			err = n.narrows("/components/schemas/Body", "/components/schemas/Body")
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func roundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return parse(t, b)
}
