package server_test

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
)

// Binary Open Inference Protocol answers in the response cache: stored with
// their inference-header-content-length, replayed with the current
// request's id in a re-measured JSON head and the tensor bytes unchanged.

// binaryOutHead is the JSON header of a binary [2, 4] FP32 request with the
// given id ("" for none) and extra members (",\"parameters\":..." or "").
func binaryOutHead(id, extra string) string {
	head := `{`
	if id != "" {
		head += `"id":` + strconv.Quote(id) + `,`
	}
	return head + `"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]` + extra + `}`
}

const asksBinary = `,"parameters":{"binary_data_output":true}`

// The binary answer inference gives to binaryOutHead("t1", asksBinary):
// a JSON head, then the BYTES tensor (length-prefixed strings). The tensor
// bytes hold a quote and a brace so a replay that touched them would show.
const (
	binAnswerHead   = `{"model_name":"iris","model_version":"2","id":"t1","outputs":[{"name":"label","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":24}}]}`
	binAnswerTensor = "\x06\x00\x00\x00set\"}a\x0a\x00\x00\x00virginica\x00"
	binAnswer       = binAnswerHead + binAnswerTensor
)

// binaryOK returns the response headers of inference's binary answer.
func binaryOK(headLen, bodyLen int, version string) *extprocv3.ProcessingRequest {
	return responseHeaders(false, header.Status, "200", header.ContentType, "application/octet-stream",
		inferLength, strconv.Itoa(headLen), header.ContentLength, strconv.Itoa(bodyLen), header.ModelVersion, version)
}

// inferBinary sends the request phases of a binary infer request.
func (e *env) inferBinary(t *testing.T, requestID, head string) (*stream, *extprocv3.ProcessingResponse) {
	t.Helper()
	st := e.open(t)
	require.Nil(t, st.send(tritonPost("/v2/models/iris/infer", requestID, len(head))).GetImmediateResponse())
	return st, st.send(requestBody(head+irisRows, true))
}

// fillBinary runs a binary-output request through a miss that stores
// binAnswer.
func (e *env) fillBinary(t *testing.T, requestID, head string) {
	t.Helper()
	st, resp := e.inferBinary(t, requestID, head)
	require.NotNil(t, resp.GetRequestBody(), "a miss goes upstream: %v", resp)
	resp = st.send(binaryOK(len(binAnswerHead), len(binAnswer), "2"))
	require.Equal(t, "MISS", set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation())[header.Cache])
	require.Equal(t, &extprocfilterv3.ProcessingMode{
		RequestBodyMode:  extprocfilterv3.ProcessingMode_BUFFERED,
		ResponseBodyMode: extprocfilterv3.ProcessingMode_BUFFERED,
	}, resp.GetModeOverride(), "the binary answer is buffered for the cache, the request mode as configured")
	resp = st.send(responseBody(binAnswer, true))
	require.NotNil(t, resp.GetResponseBody())
	require.Nil(t, resp.GetResponseBody().GetResponse().GetBodyMutation(), "the answer goes to the client unchanged")
	st.finish()
}

// splitBinaryHit checks a binary hit's headers and returns its decoded head
// and its tensor bytes.
func splitBinaryHit(t *testing.T, ir *extprocv3.ImmediateResponse) (head map[string]any, tensor string) {
	t.Helper()
	require.NotNil(t, ir, "want a hit")
	require.Equal(t, 200, int(ir.GetStatus().GetCode()))
	h := set(ir.GetHeaders())
	require.Equal(t, "HIT", h[header.Cache])
	require.Equal(t, "application/octet-stream", h[header.ContentType])
	require.Equal(t, "2", h[header.ModelVersion])
	require.NotContains(t, h, header.ContentLength, "Envoy sets the content-length of a local reply")
	n, err := strconv.Atoi(h[inferLength])
	require.NoError(t, err, "inference-header-content-length %q", h[inferLength])
	body := ir.GetBody()
	require.LessOrEqual(t, n, len(body))
	require.NoError(t, json.Unmarshal(body[:n], &head), "the head is exactly the announced %d bytes", n)
	return head, string(body[n:])
}

func TestOIPBinaryCache_hitReplaysTheBinaryAnswerWithTheNewID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fillBinary(t, "req-fill", binaryOutHead("t1", asksBinary))
	require.Equal(t, "MISS", lastRecord(t, e, "req-fill").Cache)

	var stored map[string]any
	require.NoError(t, json.Unmarshal([]byte(binAnswerHead), &stored))
	for name, tc := range map[string]struct{ bodyID, requestID, want string }{
		"a longer id":                     {"a-much-longer-request-id-than-t1", "req-long", "a-much-longer-request-id-than-t1"},
		"a shorter id":                    {"x", "req-short", "x"},
		"an id that JSON escapes":         {"quo\"te\\<", "req-esc", "quo\"te\\<"},
		"no id: the request id is echoed": {"", "req-no-body-id", "req-no-body-id"},
	} {
		t.Run(name, func(t *testing.T) {
			_, resp := e.inferBinary(t, tc.requestID, binaryOutHead(tc.bodyID, asksBinary))
			ir := resp.GetImmediateResponse()
			head, tensor := splitBinaryHit(t, ir)
			require.Equal(t, tc.want, head["id"], "the current request's id")
			stored["id"] = tc.want
			require.Equal(t, stored, head, "otherwise the stored head")
			require.Equal(t, binAnswerTensor, tensor, "the tensor bytes are untouched")
			require.Equal(t, tc.requestID, set(ir.GetHeaders())[header.RequestID])
			rec := lastRecord(t, e, tc.requestID)
			require.Equal(t, "HIT", rec.Cache)
			require.Equal(t, 200, rec.Status)
		})
	}
}

func TestOIPBinaryCache_JSONOutputsDoNotHitTheBinaryEntry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fillBinary(t, "req-bin", binaryOutHead("t1", asksBinary))

	// Same inputs, same tensor bytes, JSON outputs asked for (nothing, or
	// binary_data false on the output): another answer, another entry.
	const jsonAnswer = `{"model_name":"iris","model_version":"2","id":"t1","outputs":[{"name":"label","datatype":"BYTES","shape":[2],"data":["setosa","virginica"]}]}`
	for i, extra := range []string{"", `,"outputs":[{"name":"label","parameters":{"binary_data":false}}]`,
		`,"parameters":{"binary_data_output":true},"outputs":[{"name":"label","parameters":{"binary_data":false}}]`} {
		id := "req-json-" + strconv.Itoa(i)
		st, resp := e.inferBinary(t, id, binaryOutHead("t1", extra))
		require.Nil(t, resp.GetImmediateResponse(), "%q must not hit the binary entry", extra)
		require.NotNil(t, resp.GetRequestBody())
		resp = st.send(upstreamOK(jsonAnswer, "2"))
		require.Equal(t, "MISS", set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation())[header.Cache])
		require.NotNil(t, resp.GetModeOverride())
		st.send(responseBody(jsonAnswer, true))
		st.finish()

		// Each entry answers its own kind.
		_, resp = e.inferBinary(t, id+"-again", binaryOutHead("t2", extra))
		ir := resp.GetImmediateResponse()
		require.NotNil(t, ir, "the JSON answer was stored")
		require.Equal(t, "application/json", set(ir.GetHeaders())[header.ContentType])
		require.NotContains(t, set(ir.GetHeaders()), inferLength)
		var got map[string]any
		require.NoError(t, json.Unmarshal(ir.GetBody(), &got))
		require.Equal(t, "t2", got["id"])
	}

	// An output asking for binary data is a binary request of its own key.
	outputBinary := `,"outputs":[{"name":"label","parameters":{"binary_data":true}}]`
	st, resp := e.inferBinary(t, "req-out-bin", binaryOutHead("t1", outputBinary))
	require.Nil(t, resp.GetImmediateResponse(), "another canonical form than binary_data_output")
	st.send(responseHeaders(false, header.Status, "503", header.ContentType, header.MediaProblemJSON))
	st.finish()

	_, resp = e.inferBinary(t, "req-bin-again", binaryOutHead("t3", asksBinary))
	head, tensor := splitBinaryHit(t, resp.GetImmediateResponse())
	require.Equal(t, "t3", head["id"])
	require.Equal(t, binAnswerTensor, tensor)
}

func TestOIPBinaryCache_JSONRequestAskingBinaryOutputs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A plain JSON request (no binary inputs) may ask for binary outputs.
	const body = `{"id":"j1","inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[[5.1,3.5,1.4,0.2]]}],"parameters":{"binary_data_output":true}}`
	st := e.open(t)
	st.send(noContentType("/v2/models/iris/infer", "req-j1"))
	require.NotNil(t, st.send(requestBody(body, true)).GetRequestBody())
	resp := st.send(binaryOK(len(binAnswerHead), len(binAnswer), "2"))
	require.NotNil(t, resp.GetModeOverride())
	st.send(responseBody(binAnswer, true))
	st.finish()

	st = e.open(t)
	st.send(noContentType("/v2/models/iris/infer", "req-j2"))
	head, tensor := splitBinaryHit(t, st.send(requestBody(`{"id":"j2"`+body[len(`{"id":"j1"`):], true)).GetImmediateResponse())
	require.Equal(t, "j2", head["id"])
	require.Equal(t, binAnswerTensor, tensor)
}

func TestOIPBinaryCache_coalescesConcurrentIdenticalMisses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	leader, resp := e.inferBinary(t, "req-lead", binaryOutHead("lead", asksBinary))
	require.NotNil(t, resp.GetRequestBody(), "the first goes upstream")

	const followers = 8
	var wg sync.WaitGroup
	hits := make(chan *extprocv3.ImmediateResponse, followers)
	for i := range followers {
		wg.Go(func() {
			// Blocks until the leader's answer is stored.
			_, resp := e.inferBinary(t, "req-f"+strconv.Itoa(i), binaryOutHead("f"+strconv.Itoa(i), asksBinary))
			hits <- resp.GetImmediateResponse()
		})
	}
	time.Sleep(100 * time.Millisecond) // let the followers queue up
	leader.send(binaryOK(len(binAnswerHead), len(binAnswer), "2"))
	leader.send(responseBody(binAnswer, true))
	leader.finish()
	wg.Wait()
	close(hits)
	ids := map[any]bool{}
	for ir := range hits {
		head, tensor := splitBinaryHit(t, ir)
		require.Equal(t, binAnswerTensor, tensor)
		ids[head["id"]] = true
	}
	require.Len(t, ids, followers, "each with its own id")
}

func TestOIPBinaryCache_notStored(t *testing.T) {
	t.Parallel()
	head := binaryOutHead("t1", asksBinary)
	// missStays checks that the next identical request still misses.
	missStays := func(t *testing.T, e *env) {
		t.Helper()
		st, resp := e.inferBinary(t, "req-next", head)
		require.Nil(t, resp.GetImmediateResponse(), "nothing was stored")
		st.send(responseHeaders(false, header.Status, "503", header.ContentType, header.MediaProblemJSON))
		st.finish()
	}
	t.Run("announced over max_entry_bytes", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *envConfig) { c.predict.Cache.MaxEntryBytes = int64(len(binAnswer) - 1) })
		st, _ := e.inferBinary(t, "req-big", head)
		resp := st.send(binaryOK(len(binAnswerHead), len(binAnswer), "2"))
		require.Nil(t, resp.GetModeOverride(), "not buffered")
		st.finish()
		missStays(t, e)
	})
	t.Run("over max_entry_bytes without content-length", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *envConfig) { c.predict.Cache.MaxEntryBytes = int64(len(binAnswer) - 1) })
		st, _ := e.inferBinary(t, "req-big", head)
		resp := st.send(responseHeaders(false, header.Status, "200", header.ContentType, "application/octet-stream",
			inferLength, strconv.Itoa(len(binAnswerHead)), header.ModelVersion, "2"))
		require.NotNil(t, resp.GetModeOverride(), "the size is unknown until the body")
		st.send(responseBody(binAnswer, true))
		st.finish()
		missStays(t, e)
	})
	for name, respHeaders := range map[string]*extprocv3.ProcessingRequest{
		"octet-stream without the header length": responseHeaders(false, header.Status, "200",
			header.ContentType, "application/octet-stream", header.ModelVersion, "2"),
		"a header length that is not a number": responseHeaders(false, header.Status, "200",
			header.ContentType, "application/octet-stream", inferLength, "12abc", header.ModelVersion, "2"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			st, _ := e.inferBinary(t, "req-odd", head)
			require.Nil(t, st.send(respHeaders).GetModeOverride())
			st.finish()
			missStays(t, e)
		})
	}
	for name, n := range map[string]int{
		"a header length past the body":    len(binAnswer) + 1,
		"a header length cutting the head": len(binAnswerHead) - 2,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			st, _ := e.inferBinary(t, "req-odd", head)
			require.NotNil(t, st.send(binaryOK(n, len(binAnswer), "2")).GetModeOverride())
			resp := st.send(responseBody(binAnswer, true))
			require.Nil(t, resp.GetResponseBody().GetResponse().GetBodyMutation(), "passed on unchanged all the same")
			st.finish()
			missStays(t, e)
		})
	}
	t.Run("octet-stream on a route other than infer", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		st := e.open(t)
		st.send(post("/v2/predict", "req-v2"))
		require.NotNil(t, st.send(requestBody(v2Body, true)).GetRequestBody())
		require.Nil(t, st.send(binaryOK(len(binAnswerHead), len(binAnswer), "2")).GetModeOverride(),
			"only the Open Inference Protocol answers in binary")
		st.finish()
	})
}
