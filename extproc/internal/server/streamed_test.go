package server_test

import (
	"testing"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
)

// In STREAMED mode Envoy pipelines body chunks without waiting for
// answers; every chunk must be answered, in order, and the body is judged
// once complete.
func TestProcess_streamedChunksAnsweredInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutCache)
	s, err := e.client.Process(t.Context())
	require.NoError(t, err)
	first := post("/v2/predict", "req-s")
	first.ProtocolConfig = &extprocv3.ProtocolConfiguration{RequestBodyMode: extprocfilterv3.ProcessingMode_STREAMED}
	require.NoError(t, s.Send(first))
	resp, err := s.Recv()
	require.NoError(t, err)
	require.NotNil(t, resp.GetRequestHeaders())

	chunks := []string{v2Body[:10], v2Body[10:40], v2Body[40:]}
	for i, c := range chunks {
		require.NoError(t, s.Send(requestBody(c, i == len(chunks)-1)))
	}
	for i := range chunks {
		resp, err := s.Recv()
		require.NoError(t, err)
		require.NotNil(t, resp.GetRequestBody(), "chunk %d answered with a body response", i)
		if i == len(chunks)-1 {
			require.Equal(t, "2", set(resp.GetRequestBody().GetResponse().GetHeaderMutation())["x-model-version"],
				"the whole body was validated and resolved")
		} else {
			require.Nil(t, resp.GetRequestBody().GetResponse())
		}
	}
	require.NoError(t, s.CloseSend())
}
