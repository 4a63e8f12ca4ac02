package server_test

import (
	"encoding/json"
	"testing"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
)

const (
	v2Body     = `{"model":"iris","inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`
	v2Response = `{"model":"iris","model_version":"2","predictions":[{"label":"setosa"}],"request_id":"req-1","latency_ms":0.4,"usage":{"rows":1}}`
)

func TestProcess_GETEndOfStreamOnHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.open(t)
	// A GET has no body: Envoy marks the headers end_of_stream and never
	// sends a request_body, so routing happens in the headers answer.
	resp := st.send(requestHeaders(true, header.Method, "GET", header.Path, "/v2/models/iris/versions/stable?verbose=1",
		header.RequestID, "req-get", header.KeyID, "k-iris"))
	common := resp.GetRequestHeaders().GetResponse()
	require.Equal(t, map[string]string{header.Model: "iris", header.ModelVersion: "1"}, set(common.GetHeaderMutation()))
	require.True(t, common.GetClearRouteCache(), "same CommonResponse as the routing headers")

	resp = st.send(responseHeaders(false, header.Status, "200", header.ContentType, "application/json"))
	require.Nil(t, resp.GetModeOverride(), "metadata is not cached")
	require.Empty(t, set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation()))
	st.finish()

	rec := e.waitRecord(t)
	require.Equal(t, "oip_model", rec.Route)
	require.Equal(t, 200, rec.Status)
	require.Equal(t, "1", rec.Version)
	require.Equal(t, "stable", rec.Requested)
}

func TestProcess_bufferedPOST(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.open(t)

	resp := st.send(post("/v2/predict", "req-1", header.ModelVersion, "stable"))
	require.NotNil(t, resp.GetRequestHeaders())
	require.Nil(t, resp.GetRequestHeaders().GetResponse(), "nothing to change before the body is seen")

	resp = st.send(requestBody(v2Body, true))
	common := resp.GetRequestBody().GetResponse()
	require.Equal(t, map[string]string{header.Model: "iris", header.ModelVersion: "1"}, set(common.GetHeaderMutation()),
		"the x-model-version request header wins over the body")
	require.True(t, common.GetClearRouteCache())
	require.Nil(t, common.GetBodyMutation(), "the request body goes upstream unchanged")

	body := `{"model":"iris","model_version":"1","predictions":[{"label":"setosa"}],"request_id":"req-1","latency_ms":0.4,"usage":{"rows":1}}`
	resp = st.send(upstreamOK(body, "1"))
	require.Equal(t, map[string]string{header.Cache: "MISS"}, set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation()))
	require.Equal(t, extprocfilterv3.ProcessingMode_BUFFERED, resp.GetModeOverride().GetResponseBodyMode())
	require.Equal(t, extprocfilterv3.ProcessingMode_BUFFERED, resp.GetModeOverride().GetRequestBodyMode(),
		"NONE is 0: the request body mode is spelled out as configured")

	resp = st.send(responseBody(body, true))
	require.NotNil(t, resp.GetResponseBody())
	require.Nil(t, resp.GetResponseBody().GetResponse(), "stored unchanged: content-length stays right")
	st.finish()

	rec := e.waitRecord(t)
	require.Equal(t, "v2_predict", rec.Route)
	require.Equal(t, "acme", rec.Client)
	require.Equal(t, "pro", rec.Tier)
	require.Equal(t, "MISS", rec.Cache)
	require.Equal(t, int64(len(v2Body)), rec.RequestBytes)
	require.Equal(t, int64(len(body)), rec.ResponseBytes)
	require.Equal(t, 1, rec.Rows)
}

func TestProcess_emptyFinalChunk(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.open(t)
	st.send(post("/v2/predict", "req-e"))
	// Headers without end_of_stream, then a zero-length final DATA frame:
	// Envoy sends an empty body with end_of_stream.
	ir := st.send(requestBody("", true)).GetImmediateResponse()
	require.NotNil(t, ir)
	require.Equal(t, 400, int(ir.GetStatus().GetCode()))
	p := decodeProblem(t, ir.GetBody())
	require.Equal(t, problem.TypeMalformedJSON, p.Type)
	require.Equal(t, "req-e", p.RequestID)
}

func TestProcess_bodyWithTrailers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.open(t)
	st.send(post("/v2/predict", "req-t"))
	// BUFFERED with trailers: the one body message has end_of_stream=false.
	resp := st.send(requestBody(v2Body, false))
	require.Equal(t, "2", set(resp.GetRequestBody().GetResponse().GetHeaderMutation())[header.ModelVersion])
	require.NotNil(t, st.send(requestTrailers()).GetRequestTrailers())
	resp = st.send(responseHeaders(false, header.Status, "503", header.ContentType, "application/problem+json"))
	require.Nil(t, resp.GetModeOverride(), "errors are not cached")
	st.finish()
}

func TestProcess_streamStartingAtResponseHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.open(t)
	// ext_authz answered 401 locally; the local reply still runs through
	// ext_proc's encoder side, so the stream's first message is
	// response_headers.
	resp := st.send(responseHeaders(false, header.Status, "401", header.ContentType, "application/problem+json"))
	require.NotNil(t, resp.GetResponseHeaders())
	require.Nil(t, resp.GetModeOverride())
	require.NotNil(t, st.send(responseBody(`{"status":401}`, true)).GetResponseBody())
	st.finish()
	rec := e.waitRecord(t)
	require.Equal(t, "local_reply", rec.Route)
	require.Equal(t, 401, rec.Status)
}

func TestProcess_passThrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.open(t)
	resp := st.send(requestHeaders(true, header.Method, "GET", header.Path, "/v2/health/ready"))
	require.Nil(t, resp.GetRequestHeaders().GetResponse())
	resp = st.send(responseHeaders(false, header.Status, "200", header.ContentType, "application/json"))
	require.Nil(t, resp.GetResponseHeaders().GetResponse())
	st.finish()
}

func TestProcess_clientCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.open(t)
	st.send(post("/v2/predict", "req-c"))
	st.send(requestBody(v2Body, true))
	st.cancel() // the client went away; Envoy resets the stream
	rec := e.waitRecord(t)
	require.Equal(t, "req-c", rec.RequestID)

	// The cancelled request was leading the cache fill for its key; the
	// next identical request must not wait for it.
	st2 := e.open(t)
	st2.send(post("/v2/predict", "req-c2"))
	start := time.Now()
	resp := st2.send(requestBody(v2Body, true))
	require.NotNil(t, resp.GetRequestBody())
	require.Less(t, time.Since(start), time.Second)
}

func TestProcess_modeOverrideOnlyForCacheableJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		requestExtra []string
		response     []string
		wantOverride bool
		wantCache    string
	}{
		{name: "200 JSON is buffered to fill the cache", wantOverride: true, wantCache: "MISS",
			response: []string{header.Status, "200", header.ContentType, "application/json; charset=utf-8", header.ModelVersion, "2"}},
		{name: "SSE is never buffered", wantCache: "MISS",
			response: []string{header.Status, "200", header.ContentType, "text/event-stream", header.ModelVersion, "2"}},
		{name: "errors are not stored", wantCache: "MISS",
			response: []string{header.Status, "500", header.ContentType, "application/json", header.ModelVersion, "2"}},
		{name: "upstream no-store is honoured", wantCache: "MISS",
			response: []string{header.Status, "200", header.ContentType, "application/json", header.CacheControl, "no-store", header.ModelVersion, "2"}},
		{name: "private answers are not stored", wantCache: "MISS",
			response: []string{header.Status, "200", header.ContentType, "application/json", header.CacheControl, "private", header.ModelVersion, "2"}},
		{name: "an answer from another version is not stored", wantCache: "MISS",
			response: []string{header.Status, "200", header.ContentType, "application/json", header.ModelVersion, "1"}},
		{name: "an answer over the entry limit is not stored", wantCache: "MISS",
			response: []string{header.Status, "200", header.ContentType, "application/json", header.ContentLength, "2000000", header.ModelVersion, "2"}},
		{name: "client no-store bypasses the fill", requestExtra: []string{header.CacheControl, "no-store"}, wantCache: "BYPASS",
			response: []string{header.Status, "200", header.ContentType, "application/json", header.ModelVersion, "2"}},
		{name: "client no-cache still refreshes the entry", requestExtra: []string{header.CacheControl, "no-cache"}, wantCache: "BYPASS", wantOverride: true,
			response: []string{header.Status, "200", header.ContentType, "application/json", header.ModelVersion, "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			st := e.open(t)
			st.send(post("/v2/predict", "req-m", tt.requestExtra...))
			st.send(requestBody(v2Body, true))
			resp := st.send(responseHeaders(false, tt.response...))
			require.Equal(t, tt.wantCache, set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation())[header.Cache])
			if !tt.wantOverride {
				require.Nil(t, resp.GetModeOverride())
				st.finish()
				return
			}
			require.Equal(t, extprocfilterv3.ProcessingMode_BUFFERED, resp.GetModeOverride().GetResponseBodyMode())
			st.send(responseBody(v2Response, true))
			st.finish()
		})
	}
}

func TestProcess_withoutCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutCache)
	st := e.open(t)
	st.send(post("/v2/predict", "req-n"))
	resp := st.send(requestBody(v2Body, true))
	require.Equal(t, "2", set(resp.GetRequestBody().GetResponse().GetHeaderMutation())[header.ModelVersion])
	resp = st.send(upstreamOK(v2Response, "2"))
	require.Nil(t, resp.GetModeOverride())
	require.NotContains(t, set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation()), header.Cache)
	st.finish()
}

func TestProcess_setsModelVersionWhenUpstreamDoesNot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutCache)
	st := e.open(t)
	st.send(post("/v2/predict", "req-v"))
	st.send(requestBody(v2Body, true))
	resp := st.send(responseHeaders(false, header.Status, "200", header.ContentType, "application/json"))
	require.Equal(t, "2", set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation())[header.ModelVersion])
	st.finish()
}

func decodeProblem(t testing.TB, b []byte) problem.Problem {
	t.Helper()
	var p problem.Problem
	require.NoError(t, json.Unmarshal(b, &p))
	return p
}
