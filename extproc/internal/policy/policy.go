package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"os"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/problem"
)

// Component schema names in api/openapi.yaml that the gateway enforces.
const (
	V1PredictRequest = "V1PredictRequest"
	V2PredictRequest = "V2PredictRequest"
	InferRequest     = "InferRequest"
	// JobRequest is the POST /v2/jobs body: V2PredictRequest's members
	// and the webhook and metadata ones.
	JobRequest = "JobRequest"
	// ChatJobRequest is the POST /v2/jobs body of a chat completion job
	// (one with messages).
	ChatJobRequest = "ChatJobRequest"
)

// RequestSchemas lists every request schema the gateway compiles at start.
var RequestSchemas = []string{V1PredictRequest, V2PredictRequest, InferRequest, JobRequest, ChatJobRequest}

// docURL is the base URL the OpenAPI document is registered under; schema
// references inside it ("#/components/schemas/Row") resolve against it.
const docURL = "urn:modelgate:openapi"

// Validator validates JSON bodies against compiled component schemas. It is
// safe for concurrent use.
type Validator struct {
	schemas map[string]compiled
	printer *message.Printer
	// partNodes is the part size of [Validator.Check]; tests shrink it.
	partNodes int
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
	v := &Validator{schemas: make(map[string]compiled, len(names)), printer: message.NewPrinter(language.English), partNodes: partNodes}
	var errs []error
	for _, n := range names {
		s, err := c.Compile(docURL + "#/components/schemas/" + n)
		if err != nil {
			errs = append(errs, fmt.Errorf("components.schemas.%s: %w", n, err))
			continue
		}
		ok, known := partwise(s)
		bulk, closed := findBulk(s)
		native := compileNode(s, make(map[*jsonschema.Schema]*node))
		v.schemas[n] = compiled{schema: s, parts: ok, known: known, native: native, bulk: bulk, closed: closed}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return v, nil
}

// Decode parses body as one JSON value in a single pass and refuses what
// would make a body mean different things to the gateway and to
// inference, or cost more to check than its size warrants: nesting deeper
// than [MaxDepth], member names longer than [MaxNameBytes], number
// literals longer than [MaxNumberBytes] or with exponents past
// [MaxExponent], a document that would take more than [MaxDocumentBytes]
// of heap, and two members of one object whose names are equal or equal
// but for case (Unicode simple folding, as encoding/json matches struct
// fields). It returns the document as encoding/json decodes into an any
// with UseNumber: objects as map[string]any, numbers as json.Number
// (equal short scalars, and empty arrays, may share one box, which no
// reader can tell). Errors are a *MalformedError, or a *ViolationsError
// that locates each refusal (both 400s); then the document is nil.
func (v *Validator) Decode(body []byte) (any, error) {
	return decode(body, MaxDocumentBytes)
}

// DecodeWithin is [Validator.Decode] with a document bound of its own,
// maxBytes of heap (MaxDocumentBytes when 0): a route that admits bodies
// far above the prediction routes' (job submissions) bounds its
// documents in proportion.
func (v *Validator) DecodeWithin(body []byte, maxBytes int) (any, error) {
	if maxBytes <= 0 {
		maxBytes = MaxDocumentBytes
	}
	return decode(body, maxBytes)
}

// Validate is [Validator.Decode] then [Validator.Check]. It returns the
// parsed document so callers parse each body once. Errors are
// *MalformedError or *ViolationsError; with a *ViolationsError of the
// schema the parsed document is returned too, so that callers can add
// checks of their own to the same answer (see [MergeViolations]).
func (v *Validator) Validate(schema string, body []byte) (any, error) {
	if _, ok := v.schemas[schema]; !ok {
		return nil, fmt.Errorf("schema %q was not compiled", schema)
	}
	doc, err := v.Decode(body)
	if err != nil {
		return nil, err
	}
	if err := v.Check(schema, doc); err != nil {
		return doc, err
	}
	return doc, nil
}

// Pointer renders path tokens as an RFC 6901 JSON Pointer.
func Pointer(tokens []string) string { return problem.Pointer(tokens...) }

// CheckMediaType accepts application/json (with parameters such as charset)
// and any +json structured syntax suffix; anything else, including an absent
// content type, is a *MediaTypeError.
func CheckMediaType(contentType string) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || !header.IsJSON(mt) {
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

// The binary tensor data extension of the Open Inference Protocol, which
// Triton's clients use by default: the body is a JSON header of
// inference-header-content-length bytes followed by raw tensor bytes, each
// binary input announcing its byte count in parameters.binary_data_size
// instead of carrying data.
const (
	// BinaryDataSize is the tensor parameter with a binary input's size.
	BinaryDataSize = "binary_data_size"
)

// CheckInferMediaType is [CheckMediaType] for the Open Inference Protocol
// infer route, whose clients (Triton's tritonclient.http) may send no
// content type at all: an absent content type is JSON, and
// application/octet-stream is accepted only when binary, that is when the
// request carries inference-header-content-length. Anything else is a 415
// problem.
func CheckInferMediaType(contentType string, binary bool) error {
	if contentType == "" || CheckMediaType(contentType) == nil {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && mt == header.MediaOctetStream && binary {
		return nil
	}
	return problem.New(problem.TypeUnsupportedMediaType, 415, // Unsupported Media Type
		"Unsupported media type",
		fmt.Sprintf("content-type %q is not supported; send application/json, or %s with %s",
			contentType, header.MediaOctetStream, header.InferenceHeaderContentLength))
}

// SplitBinaryInfer splits a binary infer body into its JSON header of
// headerLength bytes (the inference-header-content-length value) and the
// binary tensor data after it. A length that is not a non-negative integer
// within the body is a *ViolationsError.
func SplitBinaryInfer(body []byte, headerLength string) (head, tail []byte, err error) {
	head, tail, err = oip.SplitBinary(body, headerLength)
	if err != nil {
		return nil, nil, &ViolationsError{Violations: []problem.Violation{{Pointer: "", Detail: err.Error()}}}
	}
	return head, tail, nil
}

// CheckBinaryData checks the binary_data_size parameters of an infer
// request's inputs (doc is the JSON header as [Validator.Validate] returns
// it) against the tail bytes that follow the JSON header: every size is a
// non-negative integer and together they account for exactly tail bytes.
// A plain JSON request has a tail of 0. Problems are a *ViolationsError.
func CheckBinaryData(doc map[string]any, tail int) error {
	inputs, _ := doc["inputs"].([]any)
	var (
		vs       []problem.Violation
		sum      int64
		declared bool
	)
	for i, in := range inputs {
		t, _ := in.(map[string]any)
		params, _ := t["parameters"].(map[string]any)
		v, ok := params[BinaryDataSize]
		if !ok {
			continue
		}
		declared = true
		ptr := fmt.Sprintf("/inputs/%d/parameters/%s", i, BinaryDataSize)
		n, ok := byteCount(v)
		switch {
		case !ok:
			vs = append(vs, problem.Violation{Pointer: ptr, Detail: "must be a non-negative integer"})
		case n > float64(tail):
			vs = append(vs, problem.Violation{Pointer: ptr,
				Detail: fmt.Sprintf("%v bytes exceed the %d binary bytes after the JSON header", v, tail)})
		default:
			sum += int64(n) // each term is at most tail: no overflow
		}
	}
	if len(vs) == 0 && sum != int64(tail) {
		detail := fmt.Sprintf("binary_data_size values add up to %d bytes, but %d binary bytes follow the JSON header", sum, tail)
		if !declared {
			detail = fmt.Sprintf("%d binary bytes follow the JSON header, but no input declares binary_data_size", tail)
		}
		vs = append(vs, problem.Violation{Pointer: "/inputs", Detail: detail})
	}
	if len(vs) > 0 {
		return &ViolationsError{Violations: limitViolations(vs, 0, false)}
	}
	return nil
}

// byteCount reads a non-negative JSON integer (1, 1.0 and 1e3 alike).
func byteCount(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	case float64:
		f = x
	default:
		return 0, false
	}
	return f, f >= 0 && f == math.Trunc(f) && !math.IsInf(f, 0)
}
