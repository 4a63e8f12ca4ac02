package server_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
)

// miss runs a full cache-miss request as Envoy and the upstream would, the
// upstream answering respBody.
func (e *env) miss(t *testing.T, path, requestID, body, respBody string, extra ...string) {
	t.Helper()
	st := e.open(t)
	st.send(post(path, requestID, extra...))
	resp := st.send(requestBody(body, true))
	require.NotNil(t, resp.GetRequestBody(), "want a miss, got %v", resp)
	var answer map[string]any
	require.NoError(t, json.Unmarshal([]byte(respBody), &answer))
	version, _ := answer["model_version"].(string)
	resp = st.send(upstreamOK(respBody, version))
	if resp.GetModeOverride() != nil {
		st.send(responseBody(respBody, true))
	}
	st.finish()
}

// request sends the request phases and returns the answer to the body.
func (e *env) request(t *testing.T, path, requestID, body string, extra ...string) *extprocv3.ProcessingResponse {
	t.Helper()
	st := e.open(t)
	st.send(post(path, requestID, extra...))
	return st.send(requestBody(body, true))
}

func TestCache_hitReturnsIdenticalPredictionsWithNewRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.miss(t, "/v2/predict", "req-1", v2Body, v2Response)
	e.clock.Advance(7 * time.Second)

	// Same inputs, keys in another order, other whitespace and number
	// spellings: the same prediction.
	same := `{ "inputs": [ {"petal_width": 0.20, "petal_length": 1.4, "sepal_width": 3.5, "sepal_length": 5.1} ], "model": "iris", "options": {} }`
	ir := e.request(t, "/v2/predict", "req-2", same).GetImmediateResponse()
	require.NotNil(t, ir, "want a hit")
	require.Equal(t, 200, int(ir.GetStatus().GetCode()))
	h := set(ir.GetHeaders())
	require.Equal(t, "HIT", h[header.Cache])
	require.Equal(t, "7", h[header.Age])
	require.Equal(t, "req-2", h[header.RequestID])
	require.Equal(t, "2", h[header.ModelVersion])
	require.Equal(t, "application/json", h[header.ContentType])

	var want, got map[string]any
	require.NoError(t, json.Unmarshal([]byte(v2Response), &want))
	require.NoError(t, json.Unmarshal(ir.GetBody(), &got))
	require.Equal(t, "req-2", got["request_id"])
	require.Equal(t, want["predictions"], got["predictions"], "identical predictions")
	delete(want, "request_id")
	delete(got, "request_id")
	require.Equal(t, want, got)

	rec := lastRecord(t, e, "req-2")
	require.Equal(t, "HIT", rec.Cache)
	require.Equal(t, 200, rec.Status)
}

func TestCache_keyedOnEverythingThatChangesTheAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.miss(t, "/v2/predict", "req-1", v2Body, v2Response)
	for name, tc := range map[string]struct {
		body  string
		extra []string
	}{
		"other inputs":         {body: `{"model":"iris","inputs":[{"sepal_length":5.2,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`},
		"other options":        {body: `{"model":"iris","inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}],"options":{"return_probabilities":true}}`},
		"another version":      {body: v2Body, extra: []string{header.ModelVersion, "1"}},
		"another client":       {body: v2Body, extra: []string{header.Client, "globex", header.KeyID, "k-globex"}},
		"the request no-cache": {body: v2Body, extra: []string{header.CacheControl, "no-cache"}},
	} {
		resp := e.request(t, "/v2/predict", "req-"+name, tc.body, tc.extra...)
		require.Nil(t, resp.GetImmediateResponse(), "%s must not hit", name)
	}
	// The version alias resolving to the stored version does hit.
	ir := e.request(t, "/v2/predict", "req-alias", v2Body, header.ModelVersion, "latest").GetImmediateResponse()
	require.NotNil(t, ir, "latest is version 2")
}

func TestCache_sharedAcrossClientsByOption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSharedCache)
	e.miss(t, "/v2/predict", "req-1", v2Body, v2Response)
	ir := e.request(t, "/v2/predict", "req-2", v2Body, header.Client, "globex", header.KeyID, "k-globex").GetImmediateResponse()
	require.NotNil(t, ir)
}

func TestCache_noStoreSkipsTheFill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.miss(t, "/v2/predict", "req-1", v2Body, v2Response, header.CacheControl, "no-store")
	require.Nil(t, e.request(t, "/v2/predict", "req-2", v2Body).GetImmediateResponse(), "nothing was stored")
}

func TestCache_expiresAfterTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.miss(t, "/v2/predict", "req-1", v2Body, v2Response)
	e.clock.Advance(5 * time.Minute)
	require.Nil(t, e.request(t, "/v2/predict", "req-2", v2Body).GetImmediateResponse())
}

func TestCache_OIPHitEchoesTheNewID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := `{"id":"a","inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}`
	resp := `{"model_name":"iris","model_version":"2","id":"a","outputs":[{"name":"label","shape":[1],"datatype":"BYTES","data":["setosa"]}]}`
	e.miss(t, "/v2/models/iris/infer", "req-1", req, resp)

	ir := e.request(t, "/v2/models/iris/versions/latest/infer", "req-2",
		`{"id":"b","inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}`).GetImmediateResponse()
	require.NotNil(t, ir)
	var got map[string]any
	require.NoError(t, json.Unmarshal(ir.GetBody(), &got))
	require.Equal(t, "b", got["id"], "the OIP id echoes this request's id")

	ir = e.request(t, "/v2/models/iris/infer", "req-3",
		`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}`).GetImmediateResponse()
	require.NotNil(t, ir)
	require.NoError(t, json.Unmarshal(ir.GetBody(), &got))
	require.Equal(t, "req-3", got["id"], "without an id, the request id")
}

func TestCache_coalescesConcurrentIdenticalMisses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	leader := e.open(t)
	leader.send(post("/v2/predict", "req-lead"))
	require.NotNil(t, leader.send(requestBody(v2Body, true)).GetRequestBody(), "the first goes upstream")

	const followers = 16
	var wg sync.WaitGroup
	hits := make(chan *extprocv3.ImmediateResponse, followers)
	for i := range followers {
		wg.Go(func() {
			st := e.open(t)
			id := "req-f" + string(rune('a'+i))
			st.send(post("/v2/predict", id))
			// Blocks until the leader's answer is stored (bounded by the
			// coalescing wait, which is below Envoy's message timeout).
			hits <- st.send(requestBody(v2Body, true)).GetImmediateResponse()
		})
	}
	time.Sleep(100 * time.Millisecond) // let the followers queue up
	leader.send(upstreamOK(v2Response, "2"))
	leader.send(responseBody(v2Response, true))
	leader.finish()
	wg.Wait()
	close(hits)
	ids := map[string]bool{}
	for ir := range hits {
		require.NotNil(t, ir, "every follower is answered from the leader's response")
		require.Equal(t, "HIT", set(ir.GetHeaders())[header.Cache])
		var got map[string]any
		require.NoError(t, json.Unmarshal(ir.GetBody(), &got))
		ids[got["request_id"].(string)] = true
	}
	require.Len(t, ids, followers, "each with its own request id")
}

func TestCache_followersGoUpstreamWhenTheLeaderFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	leader := e.open(t)
	leader.send(post("/v2/predict", "req-lead"))
	leader.send(requestBody(v2Body, true))

	done := make(chan *extprocv3.ProcessingResponse, 1)
	go func() {
		st := e.open(t)
		st.send(post("/v2/predict", "req-f"))
		done <- st.send(requestBody(v2Body, true))
	}()
	time.Sleep(50 * time.Millisecond)
	leader.send(responseHeaders(false, header.Status, "503", header.ContentType, "application/problem+json"))
	leader.finish()
	resp := <-done
	require.NotNil(t, resp.GetRequestBody(), "the follower goes upstream itself")
	require.Equal(t, "2", set(resp.GetRequestBody().GetResponse().GetHeaderMutation())[header.ModelVersion])
}

func lastRecord(t *testing.T, e *env, requestID string) (rec struct {
	Cache  string
	Status int
}) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		e.usage.mu.Lock()
		for _, r := range e.usage.recs {
			if r.RequestID == requestID {
				rec.Cache, rec.Status = r.Cache, r.Status
			}
		}
		e.usage.mu.Unlock()
		if rec.Status != 0 {
			return rec
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no usage record for %s", requestID)
	return rec
}
