package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// maxViolations bounds how many violations one answer lists, so a hostile
// 1 MiB body cannot make the error larger than the request.
const maxViolations = 1000

// readJSON checks the content type and reads the body under the limit.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	ct := r.Header.Get(header.ContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !header.IsJSON(mt) {
		return nil, &problem.Problem{
			Type: problem.TypeUnsupportedMediaType, Status: http.StatusUnsupportedMediaType,
			Title:  "Unsupported media type",
			Detail: fmt.Sprintf("content-type %q is not supported; send application/json", ct),
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &problem.Problem{
			Type: problem.TypeMalformedJSON, Status: http.StatusBadRequest, Title: "Unreadable body",
			Detail: "the request body could not be read",
		}
	}
	return body, nil
}

// decodeObject parses body as a JSON object and reports unknown members.
func decodeObject(body []byte, known ...string) (map[string]json.RawMessage, []problem.Violation, error) {
	var obj map[string]json.RawMessage
	err := json.Unmarshal(body, &obj)
	if p := syntaxProblem(err); p != nil {
		return nil, nil, p
	}
	if err != nil || obj == nil {
		return nil, nil, validationProblem([]problem.Violation{{Pointer: "", Detail: "the body must be a JSON object"}})
	}
	var vs []problem.Violation
	var unknown []string
	for k := range obj {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		vs = append(vs, problem.Violation{Pointer: problem.Pointer(k), Detail: "unknown member"})
	}
	return obj, vs, nil
}

// syntaxProblem turns a JSON syntax error from json.Unmarshal into the
// malformed-JSON problem, with the byte offset; other errors give nil.
func syntaxProblem(err error) *problem.Problem {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return malformed(fmt.Errorf("%s at byte %d", se.Error(), se.Offset))
	}
	return nil
}

// jsonKind names a raw JSON value's type for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// parseNumber parses a raw JSON number into a finite float64.
func parseNumber(raw json.RawMessage) (float64, string) {
	if k := jsonKind(raw); k != "number" {
		return 0, "wrong type: expected number, got " + k
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, "not a finite number"
	}
	return f, ""
}

// optionalString decodes an optional string member.
func optionalString(obj map[string]json.RawMessage, name string, vs *[]problem.Violation) string {
	raw, ok := obj[name]
	if !ok || jsonKind(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		*vs = append(*vs, problem.Violation{Pointer: "/" + name, Detail: "wrong type: expected string, got " + jsonKind(raw)})
	}
	return s
}

// rowsOf decodes the inputs member into rows, reporting shape problems.
func rowsOf(obj map[string]json.RawMessage, maxRows int) ([]predict.Row, []problem.Violation, *problem.Problem) {
	raw, ok := obj["inputs"]
	if !ok {
		return nil, []problem.Violation{{Pointer: "/inputs", Detail: "missing"}}, nil
	}
	if jsonKind(raw) != "array" {
		return nil, []problem.Violation{{Pointer: "/inputs", Detail: "wrong type: expected array of objects, got " + jsonKind(raw)}}, nil
	}
	// Fast path: every element is an object (one pass over the rows).
	var fast []predict.Row
	if err := json.Unmarshal(raw, &fast); err == nil && len(fast) <= maxRows && len(fast) > 0 && !hasNil(fast) {
		return fast, nil, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, []problem.Violation{{Pointer: "/inputs", Detail: "wrong type: expected array of objects"}}, nil
	}
	if len(elems) == 0 {
		return nil, []problem.Violation{{Pointer: "/inputs", Detail: "empty: at least one row is required"}}, nil
	}
	if len(elems) > maxRows {
		return nil, nil, &problem.Problem{
			Type: problem.TypeTooManyRows, Status: http.StatusBadRequest, Title: "Too many rows",
			Detail: fmt.Sprintf("the request has %d rows; the limit is %d", len(elems), maxRows),
			Errors: []problem.Violation{{Pointer: "/inputs", Detail: fmt.Sprintf("at most %d rows", maxRows)}},
		}
	}
	rows := make([]predict.Row, len(elems))
	var vs []problem.Violation
	for i, e := range elems {
		if jsonKind(e) != "object" {
			vs = append(vs, problem.Violation{Pointer: "/inputs/" + strconv.Itoa(i), Detail: "wrong type: expected object, got " + jsonKind(e)})
			continue
		}
		if err := json.Unmarshal(e, &rows[i]); err != nil {
			vs = append(vs, problem.Violation{Pointer: "/inputs/" + strconv.Itoa(i), Detail: "wrong type: expected object"})
		}
	}
	return rows, vs, nil
}

// matrix converts rows into the engine's row-major input using the
// version's feature order, collecting every violation.
func matrix(v *registry.Version, rows []predict.Row, x []float64) []problem.Violation {
	var vs []problem.Violation
	feats := v.Manifest.Inputs
	nf := len(feats)
	add := func(p, d string) {
		if len(vs) < maxViolations {
			vs = append(vs, problem.Violation{Pointer: p, Detail: d})
		}
	}
	for i, row := range rows {
		if row == nil { // already reported as not an object
			continue
		}
		prefix := "/inputs/" + strconv.Itoa(i) + "/"
		for j, f := range feats {
			raw, ok := row[f.Name]
			if !ok {
				add(prefix+problem.EscapePointer(f.Name), "missing")
				continue
			}
			val, msg := parseNumber(raw)
			if msg != "" {
				add(prefix+problem.EscapePointer(f.Name), msg)
				continue
			}
			x[i*nf+j] = val
		}
		var unknown []string
		for k := range row {
			if _, ok := v.Index[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			add(prefix+problem.EscapePointer(k), "unknown feature")
		}
	}
	return vs
}

// hasNil reports a null row, which the fast path would otherwise accept.
func hasNil(rows []predict.Row) bool {
	for _, r := range rows {
		if r == nil {
			return true
		}
	}
	return false
}
