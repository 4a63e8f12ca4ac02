package processor_test

import (
	"testing"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/cache"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/testutil"
)

// predictEnv is the v2 predict factory with a key check, scopes, a quota
// recorder and (unless off) a response cache.
type predictEnv struct {
	factory processor.Factory
	adm     *processor.Admission
	quota   *quotaCalls
	clock   *testutil.Clock
}

func newPredictEnv(t *testing.T, withCache bool) *predictEnv {
	t.Helper()
	clock := testutil.NewClock(epoch)
	q := &quotaCalls{}
	adm := processor.NewAdmission(processor.AdmissionConfig{Keys: keys{}, Scopes: testScopes, Quota: q, Now: clock.Now})
	cfg := processor.PredictConfig{
		Catalog: newCatalog(t), Validator: newValidator(t),
		Limits: processor.Limits{MaxBodyBytes: 4096, MaxRows: 5}, Now: clock.Now,
	}
	if withCache {
		store, err := cache.New(cache.Config{MaxBytes: 1 << 20, TTL: time.Minute, CoalesceWait: time.Second, Now: clock.Now})
		require.NoError(t, err)
		t.Cleanup(store.Close)
		cfg.Cache = processor.CacheConfig{Store: store, MaxEntryBytes: 1 << 16}
	}
	return &predictEnv{factory: processor.NewV2Predict(cfg, adm), adm: adm, quota: q, clock: clock}
}

// start reads the request headers as the stream loop does and builds the
// processor; the request must be admitted.
func (e *predictEnv) start(t *testing.T, h *extprocv3.HttpHeaders) (*processor.Request, processor.Processor) {
	t.Helper()
	r := processor.NewRequest(e.clock.Now())
	require.NoError(t, e.adm.ReadHeaders(t.Context(), r, h))
	p := e.factory(r)
	t.Cleanup(p.Close)
	resp, err := p.RequestHeaders(t.Context(), h)
	require.NoError(t, err)
	require.NotNil(t, resp.GetRequestHeaders())
	return r, p
}

func TestPredict_scopeBeforeResolution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, body string
		wantErr         any
		// wantModelQuota is whether the one quota call carries the
		// per-model descriptor.
		wantModelQuota bool
	}{
		{
			name: "a model the key may not use is 403 even when it does not exist",
			key:  "key-iris", body: `{"model":"nope","inputs":[{"a":1}]}`,
			wantErr: &processor.ForbiddenError{},
		},
		{
			name: "a model the key may not use is 403, not its versions",
			key:  "key-iris", body: `{"model":"diabetes","version":"9","inputs":[{"a":1}]}`,
			wantErr: &processor.ForbiddenError{},
		},
		{
			name: "an unknown version of a model the key may use is 404",
			key:  "key-iris", body: `{"model":"iris","version":"9","inputs":[{"a":1}]}`,
			wantErr: &catalog.UnknownVersionError{},
		},
		{
			name: "an allowed version is counted against the model's quota",
			key:  "key-iris", body: `{"model":"iris","inputs":[{"a":1}]}`,
			wantModelQuota: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newPredictEnv(t, false)
			r, p := e.start(t, post("/v2/predict", tt.key))
			resp, err := p.RequestBody(t.Context(), body(tt.body))
			switch want := tt.wantErr.(type) {
			case nil:
				require.NoError(t, err)
				m := resp.GetRequestBody().GetResponse()
				require.True(t, m.GetClearRouteCache())
				v, _ := headerValue(m.GetHeaderMutation(), header.ModelVersion)
				require.Equal(t, "2", v)
			case *processor.ForbiddenError:
				require.ErrorAs(t, err, &want)
			case *catalog.UnknownVersionError:
				require.ErrorAs(t, err, &want)
			}
			calls := e.quota.Calls()
			require.Len(t, calls, 1, "one quota call per request")
			s := quota.Subject{Client: r.Client, Tier: r.Tier}
			if tt.wantModelQuota {
				s.Model, s.Version = "iris", "2"
			}
			require.Equal(t, quota.Descriptors(s), calls[0])
		})
	}
}

func TestPredict_cachePhases(t *testing.T) {
	t.Parallel()
	e := newPredictEnv(t, true)
	const req = `{"model":"iris","inputs":[{"a":1}]}`
	okHeaders := headers(false, header.Status, "200", header.ContentType, header.MediaJSON, header.ModelVersion, "2")

	// A miss goes upstream, asks for the response body and stores it.
	r, p := e.start(t, post("/v2/predict", "key-acme"))
	_, err := p.RequestBody(t.Context(), body(req))
	require.NoError(t, err)
	require.Equal(t, "MISS", r.Cache)
	rh, err := p.ResponseHeaders(t.Context(), okHeaders)
	require.NoError(t, err)
	require.Equal(t, extprocfilterv3.ProcessingMode_BUFFERED, rh.GetModeOverride().GetResponseBodyMode(), "a storable answer is buffered")
	v, _ := headerValue(rh.GetResponseHeaders().GetResponse().GetHeaderMutation(), header.Cache)
	require.Equal(t, "MISS", v)
	_, err = p.ResponseBody(t.Context(), body(`{"request_id":"req-1","predictions":[1]}`))
	require.NoError(t, err)
	p.Close()

	// The same request is answered from the cache, with its own id.
	e.clock.Advance(3 * time.Second)
	r, p = e.start(t, post("/v2/predict", "key-acme", header.RequestID, "req-2"))
	resp, err := p.RequestBody(t.Context(), body(req))
	require.NoError(t, err)
	ir := resp.GetImmediateResponse()
	require.NotNil(t, ir, "a hit is answered here")
	require.Equal(t, "HIT", r.Cache)
	require.JSONEq(t, `{"request_id":"req-2","predictions":[1]}`, string(ir.GetBody()))
	age, _ := headerValue(ir.GetHeaders(), header.Age)
	require.Equal(t, "3", age)

	// no-cache skips the lookup and refreshes the entry; with no-store
	// the answer is not stored either.
	for _, tt := range []struct {
		cacheControl string
		wantStored   bool
	}{{"no-cache", true}, {"no-cache, no-store", false}} {
		r, p = e.start(t, post("/v2/predict", "key-acme", header.CacheControl, tt.cacheControl))
		resp, err = p.RequestBody(t.Context(), body(req))
		require.NoError(t, err)
		require.Nil(t, resp.GetImmediateResponse(), "%s: served upstream", tt.cacheControl)
		require.Equal(t, "BYPASS", r.Cache)
		rh, err = p.ResponseHeaders(t.Context(), okHeaders)
		require.NoError(t, err)
		require.Equal(t, tt.wantStored, rh.GetModeOverride() != nil, "%s: answer buffered to be stored", tt.cacheControl)
	}
}

func TestWithIdentity(t *testing.T) {
	t.Parallel()
	adm := processor.NewAdmission(processor.AdmissionConfig{Keys: keys{}})
	r := processor.NewRequest(epoch)
	require.NoError(t, adm.ReadHeaders(t.Context(), r, post("/v2/predict", "key-acme")))
	resp := processor.WithIdentity(r, &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{}}})
	m := resp.GetRequestHeaders().GetResponse().GetHeaderMutation()
	for name, want := range map[string]string{header.Client: "acme", header.Tier: "pro", header.KeyID: "k-acme"} {
		v, ok := headerValue(m, name)
		require.True(t, ok, name)
		require.Equal(t, want, v, name)
	}
	require.ElementsMatch(t, []string{header.APIKey, header.Authorization}, m.GetRemoveHeaders(), "no upstream sees the key")
}
