package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/inference/internal/config"
)

// FuzzDecoders throws arbitrary bodies at every route that parses client
// JSON (seeds include repeated and case-variant member names and deep
// nesting). Whatever the input, the answer is a 2xx JSON body or a 4xx
// problem+json, never a 5xx or a panic.
func FuzzDecoders(f *testing.F) {
	seeds := []string{
		`{"model":"iris","inputs":[` + irisRow + `],"options":{"return_probabilities":true}}`,
		`{"inputs":[` + irisRow + `],"model_version":"stable","options":{}}`,
		`{"id":"x","inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[[1,2,3,4]]}]}`,
		`{"inputs":[{"name":"petal_width","shape":[1],"datatype":"FP64","data":[1]}]}`,
		`{"model":"iris","inputs":[{"sepal_length":1e999}]}`,
		`{"inputs":[[[[[[[[[[1]]]]]]]]]]}`,
		`[]`, `null`, `{"model":7}`, `{"inputs":{}}`,
		`{"model":"iris","inputs":[` + irisRow + `],"INPUTS":[` + irisRow + `]}`,
		`{"model":"iris","model":"diabetes","inputs":[` + irisRow + `]}`,
		`{"inputs":[{"sepal_length":1,"SEPAL_LENGTH":2,"sepal_width":3,"petal_length":1,"petal_width":1}]}`,
		`{"INPUTS":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`,
		`{"inputs":[{"name":"input","Name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"\u0069d":"a","id":"b"}`,
		`{"inputs":[{"name":"input","shape":"x","datatype":7,"parameters":[],"data":{}}],"outputs":[7],"parameters":"p"}`,
		`{"model":"iris","inputs":[` + irisRow + `],"options":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}`,
	}
	for _, s := range seeds {
		for route := range uint8(3) {
			f.Add(route, s)
		}
	}
	s := newTestServer(f, nil)
	paths := []string{"/v1/predict", "/v2/predict", "/v2/models/iris/infer"}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		res := do(t, s, http.MethodPost, paths[int(route)%len(paths)], "application/json", body)
		checkAnswer(t, body, res)
		if ct := res.header.Get(header.ContentType); res.status == 200 && ct != header.MediaJSON {
			t.Fatalf("success with content type %q", ct)
		}
	})
}

// FuzzBinaryInfer drives the binary tensor data extension: a JSON head of
// the announced length followed by raw tensor bytes. Any input gets a 2xx
// or a 4xx problem, never a 5xx or a panic.
func FuzzBinaryInfer(f *testing.F) {
	head := `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}],"parameters":{"binary_data_output":true}}`
	tensor := string([]byte{0, 0, 0xa0, 0x40, 0, 0, 0x60, 0x40, 0x33, 0x33, 0xb3, 0x3f, 0xcd, 0xcc, 0x4c, 0x3e})
	f.Add(head+tensor, len(head))
	f.Add(head+tensor[:8], len(head))
	f.Add(head, len(head)+5)
	f.Add(`{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","parameters":{"binary_data_size":1e300}}]}`, 10)
	dup := `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16,"BINARY_DATA_SIZE":8}}]}`
	f.Add(dup+tensor, len(dup))
	s := newTestServer(f, nil)
	f.Fuzz(func(t *testing.T, body string, headLen int) {
		res := do(t, s, http.MethodPost, "/v2/models/iris/infer", "", body, "Inference-Header-Content-Length", strconv.Itoa(headLen))
		if res.status >= 500 {
			t.Fatalf("status %d for %q (head %d): %s", res.status, body, headLen, res.body)
		}
		if res.status >= 400 && res.header.Get(header.ContentType) != header.MediaProblemJSON {
			t.Fatalf("error without problem+json: %d", res.status)
		}
	})
}

// FuzzJobs drives POST /v2/jobs, both forms (rows for a tabular version,
// messages for the built-in text model): any body gets a 202/200 job or a
// 4xx problem, never a 5xx or a panic. No worker runs, so accepted jobs
// only queue (the per-client active limit answers 429 past it).
func FuzzJobs(f *testing.F) {
	for _, s := range []string{
		`{"model":"iris","inputs":[` + irisRow + `],"metadata":{"batch":"b"}}`,
		`{"model":"iris","inputs":[` + irisRow + `],"webhook":"https://example.com/h","webhook_events_filter":["completed"]}`,
		`{"model":"scribe:1","messages":[{"role":"user","content":"In the beginning"}],"max_tokens":4}`,
		`{"model":"scribe","messages":[{"role":"system","content":"x"},{"role":"user","content":[{"type":"text","text":"y"}]}],"stop":["\n"],"seed":1}`,
		`{"model":"scribe","messages":[],"stream":true}`,
		`{"model":"iris","messages":[{"role":"user","content":"x"}]}`,
		`{"model":"scribe","inputs":[` + irisRow + `]}`,
		`{"model":"scribe","messages":[{"role":"user","content":"x"}],"MESSAGES":[]}`,
		`{"model":"iris","inputs":[` + irisRow + `],"metadata":{"a":{"b":1}}}`,
		`[]`, `null`, `{}`, `{"model":7}`,
	} {
		f.Add(s)
	}
	s := jobsTestServer(f, []config.Selection{{Model: "iris", Version: "2"}, {Model: "scribe", Version: "1"}},
		JobsConfig{MaxRows: 100, MaxBodyBytes: 1 << 20, Poll: 10 * time.Millisecond}, nil)
	f.Fuzz(func(t *testing.T, body string) {
		checkAnswer(t, body, do(t, s, http.MethodPost, "/v2/jobs", header.MediaJSON, body, header.Client, "fuzz"))
	})
}

// checkAnswer fails unless the answer to body is JSON, not a 5xx, and a
// problem+json when it is an error.
func checkAnswer(t *testing.T, body string, res result) {
	t.Helper()
	if res.status >= 500 {
		t.Fatalf("status %d for %q: %s", res.status, body, res.body)
	}
	if !json.Valid(res.body) {
		t.Fatalf("invalid JSON answer for %q: %s", body, res.body)
	}
	if ct := res.header.Get(header.ContentType); res.status >= 400 && ct != header.MediaProblemJSON {
		t.Fatalf("error without problem+json: %d %s", res.status, ct)
	}
}
