package processor_test

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/modelgate/modelgate/extproc/internal/processor"
)

func TestDynamicMetadata(t *testing.T) {
	t.Parallel()
	t.Run("is nil when nothing was set", func(t *testing.T) {
		t.Parallel()
		var d processor.DynamicMetadata
		require.Nil(t, d.Proto())
		resp := &extprocv3.ProcessingResponse{}
		d.AddTo(resp)
		require.Nil(t, resp.GetDynamicMetadata())
	})
	t.Run("files each key under its namespace", func(t *testing.T) {
		t.Parallel()
		var d processor.DynamicMetadata
		d.SetNumber("envoy.filters.http.ratelimit", "hits_addend", 42)
		d.SetString("modelgate", "model", "iris")
		d.SetString("modelgate", "model_version", "1")
		d.SetString("modelgate", "model_version", "2") // the later value wins
		got, err := protojson.Marshal(d.Proto())
		require.NoError(t, err)
		require.JSONEq(t, `{
			"envoy.filters.http.ratelimit": {"hits_addend": 42},
			"modelgate": {"model": "iris", "model_version": "2"}
		}`, string(got))
	})
	t.Run("merges with the metadata a response already carries", func(t *testing.T) {
		t.Parallel()
		have, err := structpb.NewStruct(map[string]any{
			"modelgate": map[string]any{"model": "iris", "client": "acme"},
			"other":     map[string]any{"x": "y"},
		})
		require.NoError(t, err)
		resp := &extprocv3.ProcessingResponse{DynamicMetadata: have}
		var d processor.DynamicMetadata
		d.SetString("modelgate", "model", "diabetes")
		d.SetNumber("tokens", "total", 7)
		d.AddTo(resp)
		got, err := protojson.Marshal(resp.GetDynamicMetadata())
		require.NoError(t, err)
		require.JSONEq(t, `{
			"modelgate": {"model": "diabetes", "client": "acme"},
			"other": {"x": "y"},
			"tokens": {"total": 7}
		}`, string(got))
	})
}
