package server_test

import (
	"testing"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/modelgate/modelgate/api/header"
)

func withLeanFill(c *envConfig) { c.predict.Cache.LeanFill = true }

// answerBody is the response body message of a lean fill: the whole body
// (eos) with the response attributes Envoy sends with the first response
// message, here the status.
func answerBody(body string, eos bool, status int) *extprocv3.ProcessingRequest {
	msg := responseBody(body, eos)
	msg.Attributes = map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: map[string]*structpb.Value{
		"response.code": structpb.NewNumberValue(float64(status)),
	}}}
	return msg
}

// leftHeaders are the response headers the request-body answer leaves as
// dynamic metadata for the route to add.
func leftHeaders(resp *extprocv3.ProcessingResponse) map[string]string {
	out := map[string]string{}
	ns := resp.GetDynamicMetadata().GetFields()[header.MetadataNamespace].GetStructValue()
	for k, v := range ns.GetFields() {
		out[k] = v.GetStringValue()
	}
	return out
}

// leanMiss sends a miss's request phases and returns the request-body
// answer; the request-headers answer must switch to a lean fill.
func leanMiss(t *testing.T, st *stream, path, requestID, body string) *extprocv3.ProcessingResponse {
	t.Helper()
	mo := st.send(post(path, requestID)).GetModeOverride()
	require.NotNil(t, mo, "a cacheable request skips its response headers")
	require.Equal(t, extprocfilterv3.ProcessingMode_SKIP, mo.GetResponseHeaderMode())
	require.Equal(t, extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL, mo.GetResponseBodyMode())
	require.Equal(t, extprocfilterv3.ProcessingMode_BUFFERED, mo.GetRequestBodyMode(), "the request body mode stays as configured")
	resp := st.send(requestBody(body, true))
	require.NotNil(t, resp.GetRequestBody(), "want a miss, got %v", resp)
	return resp
}

func TestLeanFill_storesTheBodyAndLeavesTheHeadersAsMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withLeanFill)
	st := e.open(t)
	resp := leanMiss(t, st, "/v1/predict", "req-1", `{"inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`)
	left := leftHeaders(resp)
	require.Equal(t, "MISS", left[header.Cache])
	require.Equal(t, "@1767225600", left[header.Deprecation], "the route's deprecation headers")
	require.Contains(t, left[header.Link], "https://docs.modelgate.dev/migrate-v1")
	require.NotEmpty(t, left[header.Sunset])
	require.Equal(t, "2", set(resp.GetRequestBody().GetResponse().GetHeaderMutation())[header.ModelVersion])
	answer := `{"predictions":["setosa"],"model_version":"2","request_id":"req-1","latency_ms":0.1}`
	require.NotNil(t, st.send(answerBody(answer, true, 200)).GetResponseBody())
	st.finish()
	rec := lastRecord(t, e, "req-1")
	require.Equal(t, 200, rec.Status, "the status comes from the response attributes")

	ir := e.request(t, "/v1/predict", "req-2", `{"inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`).GetImmediateResponse()
	require.NotNil(t, ir, "the filled entry answers the repeat")
	h := set(ir.GetHeaders())
	require.Equal(t, "HIT", h[header.Cache])
	require.Equal(t, "application/json", h[header.ContentType])
	require.Contains(t, string(ir.GetBody()), `"request_id":"req-2"`)
}

func TestLeanFill_storesNothingUnusable(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		status int
		eos    bool
		body   string
	}{
		"an error status":                 {status: 503, eos: true, body: v2Response},
		"a body beyond Envoy's buffer":    {status: 200, eos: false, body: v2Response[:40]},
		"a body that is not JSON":         {status: 200, eos: true, body: "<html>"},
		"no status (attributes not sent)": {status: 0, eos: true, body: v2Response},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withLeanFill)
			st := e.open(t)
			leanMiss(t, st, "/v2/predict", "req-1", v2Body)
			msg := answerBody(tc.body, tc.eos, tc.status)
			if tc.status == 0 {
				msg.Attributes = nil
			}
			require.NotNil(t, st.send(msg).GetResponseBody())
			st.finish()
			resp := e.request(t, "/v2/predict", "req-2", v2Body)
			require.NotNil(t, resp.GetRequestBody(), "nothing was stored: a miss again, got %v", resp)
			require.Equal(t, "MISS", leftHeaders(resp)[header.Cache])
		})
	}
}

func TestLeanFill_notForRequestsThatMayNotBeStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withLeanFill)
	st := e.open(t)
	require.Nil(t, st.send(post("/v2/predict", "req-1", header.CacheControl, "no-store")).GetModeOverride(),
		"a no-store request keeps its response headers phase")
	resp := st.send(requestBody(v2Body, true))
	require.Nil(t, resp.GetDynamicMetadata(), "its headers come with the response headers answer")
	hr := st.send(upstreamOK(v2Response, "2"))
	require.Equal(t, "BYPASS", set(hr.GetResponseHeaders().GetResponse().GetHeaderMutation())[header.Cache])
	st.finish()

	e = newEnv(t, withLeanFill, withoutCache)
	st = e.open(t)
	require.Nil(t, st.send(post("/v2/predict", "req-1")).GetModeOverride(), "without a cache nothing is filled")
}
