// Package policy checks request bodies before they reach a model: media
// type, size, JSON well-formedness, the JSON Schema of the route (compiled
// once from the OpenAPI document in api/openapi.yaml) and batch limits.
// It knows nothing about Envoy; its errors are typed so that the one error
// mapper in the server can turn them into problem details.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"os"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
)

// Component schema names in api/openapi.yaml that the gateway enforces.
const (
	V1PredictRequest = "V1PredictRequest"
	V2PredictRequest = "V2PredictRequest"
	InferRequest     = "InferRequest"
)

// RequestSchemas lists every request schema the gateway compiles at start.
var RequestSchemas = []string{V1PredictRequest, V2PredictRequest, InferRequest}

// docURL is the base URL the OpenAPI document is registered under; schema
// references inside it ("#/components/schemas/Row") resolve against it.
const docURL = "urn:modelgate:openapi"

// Validator validates JSON bodies against compiled component schemas. It is
// safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema
	printer *message.Printer
}

// Load reads the OpenAPI document at path and compiles the named component
// schemas.
func Load(path string, names ...string) (*Validator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read openapi document: %w", err)
	}
	v, err := Compile(b, names...)
	if err != nil {
		return nil, fmt.Errorf("openapi document %s: %w", path, err)
	}
	return v, nil
}

// Compile compiles the named component schemas of an OpenAPI 3.1 document
// given as YAML or JSON. Every schema that fails is reported.
func Compile(doc []byte, names ...string) (*Validator, error) {
	var y any
	if err := yaml.Unmarshal(doc, &y); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	// Round-trip through JSON so numbers reach the compiler as json.Number,
	// the representation it expects.
	j, err := json.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("convert to json: %w", err)
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return nil, fmt.Errorf("convert to json: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docURL, parsed); err != nil {
		return nil, fmt.Errorf("add document: %w", err)
	}
	v := &Validator{schemas: make(map[string]*jsonschema.Schema, len(names)), printer: message.NewPrinter(language.English)}
	var errs []error
	for _, n := range names {
		s, err := c.Compile(docURL + "#/components/schemas/" + n)
		if err != nil {
			errs = append(errs, fmt.Errorf("components.schemas.%s: %w", n, err))
			continue
		}
		v.schemas[n] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return v, nil
}

// Validate parses body as JSON and validates it against the named schema.
// It returns the parsed document (objects as map[string]any, numbers as
// json.Number) so callers parse each body once. Errors are *MalformedError
// or *ViolationsError.
func (v *Validator) Validate(schema string, body []byte) (any, error) {
	s, ok := v.schemas[schema]
	if !ok {
		return nil, fmt.Errorf("schema %q was not compiled", schema)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return nil, &MalformedError{Err: err}
	}
	if err := s.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("validate: %w", err)
		}
		return nil, &ViolationsError{Violations: v.violations(ve)}
	}
	return doc, nil
}

// violations flattens the error tree to its leaves: each leaf is one
// concrete failure at one instance location.
func (v *Validator) violations(ve *jsonschema.ValidationError) []problem.Violation {
	var out []problem.Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, problem.Violation{
				Pointer: Pointer(e.InstanceLocation),
				Detail:  e.ErrorKind.LocalizedString(v.printer),
			})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.SortStableFunc(out, func(a, b problem.Violation) int {
		return strings.Compare(a.Pointer, b.Pointer)
	})
	return slices.Compact(out)
}

// Pointer renders path tokens as an RFC 6901 JSON Pointer.
func Pointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		sb.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return sb.String()
}

// CheckMediaType accepts application/json (with parameters such as charset)
// and any +json structured syntax suffix; anything else, including an absent
// content type, is a *MediaTypeError.
func CheckMediaType(contentType string) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || (mt != header.MediaJSON && !strings.HasSuffix(mt, "+json")) {
		return &MediaTypeError{Got: contentType}
	}
	return nil
}

// CheckSize reports a *TooLargeError when size exceeds limit.
func CheckSize(size, limit int64) error {
	if size > limit {
		return &TooLargeError{Size: size, Limit: limit}
	}
	return nil
}

// CheckRows reports a *TooManyRowsError when rows exceeds limit.
func CheckRows(rows, limit int) error {
	if rows > limit {
		return &TooManyRowsError{Rows: rows, Limit: limit}
	}
	return nil
}
