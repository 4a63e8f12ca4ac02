package server_test

import (
	"encoding/binary"
	"math"
	"strconv"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
)

// The Open Inference Protocol binary tensor data extension as Triton's
// tritonclient.http sends it: no content type, inference-header-content-length,
// a JSON header whose inputs carry parameters.binary_data_size instead of
// data, then the raw little-endian tensor bytes.
const inferLength = "inference-header-content-length"

// fp32 renders values as little-endian FP32 bytes.
func fp32(vals ...float32) string {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[i*4:], math.Float32bits(v))
	}
	return string(b)
}

// binaryHead is the JSON header of a request with one [rows, 4] FP32 input
// sent as binary data; params is the request's "parameters" member or "".
func binaryHead(rows int, params string) string {
	head := `{"id":"t1","inputs":[{"name":"input","shape":[` + strconv.Itoa(rows) + `,4],"datatype":"FP32","parameters":{"binary_data_size":` + strconv.Itoa(16*rows) + `}}]`
	if params != "" {
		head += `,"parameters":` + params
	}
	return head + `}`
}

// tritonPost returns the request headers tritonclient.http sends for a
// binary infer request with a JSON header of headLen bytes: no content-type.
// extra replaces or adds headers (a content-type among them).
func tritonPost(path, requestID string, headLen int, extra ...string) *extprocv3.ProcessingRequest {
	req := post(path, requestID, append([]string{inferLength, strconv.Itoa(headLen)}, extra...)...)
	if !hasKey(extra, header.ContentType) {
		dropHeader(req, header.ContentType)
	}
	return req
}

// noContentType returns the headers of a POST without a content-type.
func noContentType(path, requestID string, extra ...string) *extprocv3.ProcessingRequest {
	req := post(path, requestID, extra...)
	dropHeader(req, header.ContentType)
	return req
}

func dropHeader(req *extprocv3.ProcessingRequest, name string) {
	m := req.GetRequestHeaders().GetHeaders()
	kept := m.Headers[:0]
	for _, h := range m.Headers {
		if h.GetKey() != name {
			kept = append(kept, h)
		}
	}
	m.Headers = kept
}

func hasKey(kv []string, name string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == name {
			return true
		}
	}
	return false
}

var irisRows = fp32(5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3)

func TestOIPBinary_routesWithoutContentType(t *testing.T) {
	t.Parallel()
	for name, ct := range map[string][]string{
		"no content-type (tritonclient.http)": nil,
		"application/octet-stream":            {header.ContentType, "application/octet-stream"},
		"application/json":                    {header.ContentType, "application/json"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			head := binaryHead(2, `{"binary_data_output":true}`) // tritonclient's default without outputs
			body := head + irisRows
			st := e.open(t)
			resp := st.send(tritonPost("/v2/models/iris/versions/stable/infer", "req-b1", len(head), ct...))
			require.Nil(t, resp.GetImmediateResponse(), "accepted at the headers: %v", resp)

			resp = st.send(requestBody(body, true))
			require.NotNil(t, resp.GetRequestBody(), "routed, not refused: %v", resp)
			common := resp.GetRequestBody().GetResponse()
			require.Equal(t, map[string]string{header.Model: "iris", header.ModelVersion: "1"}, set(common.GetHeaderMutation()))
			require.True(t, common.GetClearRouteCache(), "in the same CommonResponse as the routing headers")
			require.Nil(t, common.GetBodyMutation(), "the binary body goes upstream unchanged")

			// Inference answers in binary, as asked: a cache miss whose
			// body is buffered to be stored (oip_binary_cache_test.go).
			respHead := `{"model_name":"iris","model_version":"1","id":"t1","outputs":[{"name":"label","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":21}}]}`
			respBody := respHead + "\x06\x00\x00\x00setosa\x09\x00\x00\x00virginica"
			resp = st.send(responseHeaders(false, header.Status, "200", header.ContentType, "application/octet-stream",
				inferLength, strconv.Itoa(len(respHead)), header.ContentLength, strconv.Itoa(len(respBody)), header.ModelVersion, "1"))
			require.NotNil(t, resp.GetModeOverride(), "a binary answer is buffered for the cache")
			require.Equal(t, map[string]string{header.Cache: "MISS"}, set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation()))
			st.send(responseBody(respBody, true))
			st.finish()

			rec := e.waitRecord(t)
			require.Equal(t, "oip_infer", rec.Route)
			require.Equal(t, 200, rec.Status)
			require.Equal(t, "1", rec.Version)
			require.Equal(t, "MISS", rec.Cache)
			require.Equal(t, 2, rec.Rows, "rows from shape[0]")
			require.Equal(t, int64(len(body)), rec.RequestBytes)
		})
	}
}

func TestOIPBinary_rowLimitFromShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // at most 5 rows
	head := binaryHead(6, "")
	st := e.open(t)
	st.send(tritonPost("/v2/models/iris/infer", "req-rows", len(head)))
	ir := st.send(requestBody(head+irisRows+irisRows+irisRows, true)).GetImmediateResponse()
	require.NotNil(t, ir)
	require.Equal(t, 400, int(ir.GetStatus().GetCode()))
	require.Equal(t, problem.TypeTooManyRows, decodeProblem(t, ir.GetBody()).Type)
}

func TestOIPBinary_refusals(t *testing.T) {
	t.Parallel()
	head := binaryHead(2, "")
	tests := []struct {
		name       string
		headerLen  string
		body       string
		wantType   string
		wantErrors []problem.Violation
	}{
		{name: "header length past the body", headerLen: "500", body: head + irisRows,
			wantType: problem.TypeValidation, wantErrors: []problem.Violation{{Pointer: "",
				Detail: `inference-header-content-length "500" does not fit a ` + strconv.Itoa(len(head)+32) + `-byte body`}}},
		{name: "header length not a number", headerLen: "12abc", body: head + irisRows,
			wantType: problem.TypeValidation, wantErrors: []problem.Violation{{Pointer: "",
				Detail: `inference-header-content-length "12abc" does not fit a ` + strconv.Itoa(len(head)+32) + `-byte body`}}},
		{name: "negative header length", headerLen: "-1", body: head + irisRows,
			wantType: problem.TypeValidation, wantErrors: []problem.Violation{{Pointer: "",
				Detail: `inference-header-content-length "-1" does not fit a ` + strconv.Itoa(len(head)+32) + `-byte body`}}},
		{name: "header length cutting the JSON", headerLen: strconv.Itoa(len(head) - 3), body: head + irisRows,
			wantType: problem.TypeMalformedJSON},
		{name: "binary sizes that do not add up to the tail", headerLen: strconv.Itoa(len(head)), body: head + irisRows + fp32(1),
			wantType: problem.TypeValidation, wantErrors: []problem.Violation{{Pointer: "/inputs",
				Detail: "binary_data_size values add up to 32 bytes, but 36 binary bytes follow the JSON header"}}},
		{name: "a binary size past the tail", headerLen: strconv.Itoa(len(head)), body: head + fp32(1, 2),
			wantType: problem.TypeValidation, wantErrors: []problem.Violation{{Pointer: "/inputs/0/parameters/binary_data_size",
				Detail: "32 bytes exceed the 8 binary bytes after the JSON header"}}},
		{name: "neither data nor binary_data_size", headerLen: "",
			body:     `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32"}]}`,
			wantType: problem.TypeValidation, wantErrors: []problem.Violation{
				{Pointer: "/inputs/0", Detail: "missing property 'data'"},
				{Pointer: "/inputs/0", Detail: "missing property 'parameters'"},
			}},
		{name: "binary_data_size in a plain JSON request", headerLen: "",
			body:     head,
			wantType: problem.TypeValidation, wantErrors: []problem.Violation{{Pointer: "/inputs/0/parameters/binary_data_size",
				Detail: "32 bytes exceed the 0 binary bytes after the JSON header"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			st := e.open(t)
			var hreq *extprocv3.ProcessingRequest
			if tt.headerLen == "" {
				hreq = noContentType("/v2/models/iris/infer", "req-bad")
			} else {
				hreq = noContentType("/v2/models/iris/infer", "req-bad", inferLength, tt.headerLen)
			}
			require.Nil(t, st.send(hreq).GetImmediateResponse(), "the length is checked against the body")
			ir := st.send(requestBody(tt.body, true)).GetImmediateResponse()
			require.NotNil(t, ir, "want a refusal")
			require.Equal(t, 400, int(ir.GetStatus().GetCode()))
			h := set(ir.GetHeaders())
			require.Equal(t, header.MediaProblemJSON, h[header.ContentType])
			require.Equal(t, "req-bad", h[header.RequestID])
			p := decodeProblem(t, ir.GetBody())
			require.Equal(t, tt.wantType, p.Type)
			require.Equal(t, 400, p.Status)
			require.NotEmpty(t, p.OIPError, "OIP clients read the error member")
			if tt.wantErrors != nil {
				require.Equal(t, tt.wantErrors, p.Errors)
			}
			st.finish()
			require.Equal(t, tt.wantType, e.waitRecord(t).Problem)
		})
	}
}

func TestOIP_JSONWithoutContentTypeIsAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.open(t)
	require.Nil(t, st.send(noContentType("/v2/models/iris/infer", "req-j")).GetImmediateResponse())
	resp := st.send(requestBody(`{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[[5.1,3.5,1.4,0.2]]}]}`, true))
	require.NotNil(t, resp.GetRequestBody(), "routed: %v", resp)
	common := resp.GetRequestBody().GetResponse()
	require.Equal(t, map[string]string{header.Model: "iris", header.ModelVersion: "2"}, set(common.GetHeaderMutation()))
	require.True(t, common.GetClearRouteCache())
}

func TestOIP_mediaTypesRefusedAtTheHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  *extprocv3.ProcessingRequest
	}{
		{"v2 predict without content-type", noContentType("/v2/predict", "req-m")},
		{"v1 predict without content-type", noContentType("/v1/predict", "req-m")},
		{"v2 predict octet-stream even with the binary header", post("/v2/predict", "req-m",
			header.ContentType, "application/octet-stream", inferLength, "10")},
		{"infer octet-stream without the binary header", post("/v2/models/iris/infer", "req-m",
			header.ContentType, "application/octet-stream")},
		{"infer text/csv", post("/v2/models/iris/infer", "req-m", header.ContentType, "text/csv")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			st := e.open(t)
			ir := st.send(tt.req).GetImmediateResponse()
			require.NotNil(t, ir, "refused before the body")
			require.Equal(t, 415, int(ir.GetStatus().GetCode()))
			require.Equal(t, header.MediaProblemJSON, set(ir.GetHeaders())[header.ContentType])
			require.Equal(t, problem.TypeUnsupportedMediaType, decodeProblem(t, ir.GetBody()).Type)
			st.finish()
		})
	}
}

// binaryRequest runs the request phases of a binary infer request whose
// outputs come back as JSON (no binary output asked for).
func (e *env) binaryRequest(t *testing.T, requestID, tail string) (*stream, *extprocv3.ProcessingResponse) {
	t.Helper()
	head := binaryHead(2, "")
	st := e.open(t)
	st.send(tritonPost("/v2/models/iris/infer", requestID, len(head)))
	return st, st.send(requestBody(head+tail, true))
}

func TestOIPBinary_cacheKeyIncludesTheTensorBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const answer = `{"model_name":"iris","model_version":"2","id":"t1","outputs":[{"name":"label","shape":[2],"datatype":"BYTES","data":["setosa","virginica"]}]}`

	st, resp := e.binaryRequest(t, "req-1", irisRows)
	require.NotNil(t, resp.GetRequestBody(), "first: a miss")
	resp = st.send(upstreamOK(answer, "2"))
	require.Equal(t, "MISS", set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation())[header.Cache])
	require.NotNil(t, resp.GetModeOverride(), "a JSON answer to a binary request is stored")
	st.send(responseBody(answer, true))
	st.finish()

	// The same JSON header with other tensor bytes is another prediction.
	other := fp32(7.7, 2.6, 6.9, 2.3, 5.0, 3.4, 1.5, 0.2)
	st, resp = e.binaryRequest(t, "req-2", other)
	require.Nil(t, resp.GetImmediateResponse(), "other tensor bytes must not hit")
	require.NotNil(t, resp.GetRequestBody())
	st.send(responseHeaders(false, header.Status, "503", header.ContentType, header.MediaProblemJSON))
	st.finish()

	// A JSON request with the same values is not the binary one either: its
	// canonical inputs differ (data instead of binary_data_size).
	st = e.open(t)
	st.send(noContentType("/v2/models/iris/infer", "req-3"))
	resp = st.send(requestBody(`{"id":"t1","inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2,6.7,3.0,5.2,2.3]}]}`, true))
	require.Nil(t, resp.GetImmediateResponse())
	st.send(responseHeaders(false, header.Status, "503", header.ContentType, header.MediaProblemJSON))
	st.finish()

	// The same bytes hit and get the stored answer back faithfully.
	_, resp = e.binaryRequest(t, "req-4", irisRows)
	ir := resp.GetImmediateResponse()
	require.NotNil(t, ir, "same JSON header and tensor bytes: a hit")
	require.Equal(t, 200, int(ir.GetStatus().GetCode()))
	h := set(ir.GetHeaders())
	require.Equal(t, "HIT", h[header.Cache])
	require.Equal(t, "application/json", h[header.ContentType])
	require.Equal(t, "2", h[header.ModelVersion])
	require.NotContains(t, h, inferLength, "a JSON answer has no binary header")
	require.JSONEq(t, answer, string(ir.GetBody()), "the request id t1 is echoed unchanged")
}

// The header value arrives in raw_value; an older sender's value works too.
func TestOIPBinary_headerLengthInValue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	head := binaryHead(2, "")
	req := noContentType("/v2/models/iris/infer", "req-v")
	m := req.GetRequestHeaders().GetHeaders()
	m.Headers = append(m.Headers, &corev3.HeaderValue{Key: inferLength, Value: strconv.Itoa(len(head))})
	st := e.open(t)
	st.send(req)
	resp := st.send(requestBody(head+irisRows, true))
	require.NotNil(t, resp.GetRequestBody(), "%v", resp)
}
