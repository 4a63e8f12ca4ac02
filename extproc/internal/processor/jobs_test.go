package processor_test

import (
	"errors"

	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/processor"
)

func TestJobs_routesToTheVersion(t *testing.T) {
	t.Parallel()
	e := newPredictEnv(t, false)
	e.factory = processor.NewJobs(processor.PredictConfig{
		Catalog: newCatalog(t), Validator: newValidator(t),
		Limits: processor.Limits{MaxBodyBytes: 4096, MaxRows: 1}, Now: e.clock.Now,
	}, processor.Limits{MaxBodyBytes: 4096, MaxRows: 3}, e.adm)
	tests := []struct {
		name, body string
		wantErr    bool
	}{
		{name: "routes a job with webhook and metadata to the version",
			body: `{"model":"iris","inputs":[{"a":1},{"a":2}],"webhook":"https://example.com/h","webhook_events_filter":["succeeded"],"metadata":{"k":"v"}}`},
		{name: "refuses more rows than the jobs' limit", body: `{"model":"iris","inputs":[{"a":1},{"a":2},{"a":3},{"a":4}]}`, wantErr: true},
		{name: "refuses an unknown member", body: `{"model":"iris","inputs":[{"a":1}],"callback":"x"}`, wantErr: true},
		{name: "refuses metadata that is not strings", body: `{"model":"iris","inputs":[{"a":1}],"metadata":{"k":1}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, p := e.start(t, post("/v2/jobs", "key-iris"))
			resp, err := p.RequestBody(t.Context(), body(tt.body))
			if tt.wantErr {
				var ve *policy.ViolationsError
				var re *policy.TooManyRowsError
				require.True(t, errors.As(err, &ve) || errors.As(err, &re), "got %v", err)
				return
			}
			require.NoError(t, err)
			m := resp.GetRequestBody().GetResponse()
			require.True(t, m.GetClearRouteCache())
			v, _ := headerValue(m.GetHeaderMutation(), header.ModelVersion)
			require.Equal(t, "2", v)
		})
	}
}
