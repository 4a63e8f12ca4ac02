package processor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/internal/catalog"
)

func TestJobs_routesToTheVersion(t *testing.T) {
	t.Parallel()
	e := newPredictEnv(t, false)
	e.factory = processor.NewJobs(processor.PredictConfig{
		Catalog: newCatalog(t), Validator: newValidator(t),
		Limits: processor.Limits{MaxBodyBytes: 4096, MaxRows: 1}, Now: e.clock.Now,
	}, processor.Limits{MaxBodyBytes: 4096, MaxRows: 3}, processor.LLMConfig{}, e.adm)
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

func TestJobs_chatCompletion(t *testing.T) {
	t.Parallel()
	e := newLLMEnv(t)
	r, p := e.start(t, e.jobs, post("/v2/jobs", "key-acme"))
	resp, err := p.RequestBody(t.Context(), body(`{"model":"scribe:stable","messages":[{"role":"user","content":"Who made the light?"}],`+
		`"max_tokens":5000,"webhook":"https://example.com/h","metadata":{"k":"v"}}`))
	require.NoError(t, err)

	// One quota call: the request quotas and the prompt's 19 bytes plus
	// the capped completion (200) of the token quotas.
	calls := e.quota.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, quota.Descriptors(quota.Subject{Client: "acme", Tier: "pro", Model: "scribe", Version: "1", Tokens: 219}), calls[0])
	require.Equal(t, 219, r.Tokens.Reserved)
	_, left := charge(resp)
	require.False(t, left, "reserved on admission: nothing left for Envoy to charge")

	doc := sentBody(t, resp)
	require.EqualValues(t, 200, doc["max_tokens"], "capped to the model's limit, as on the chat route")
	require.Equal(t, "https://example.com/h", doc["webhook"])
	m := resp.GetRequestBody().GetResponse()
	require.True(t, m.GetClearRouteCache())
	v, _ := headerValue(m.GetHeaderMutation(), header.ModelVersion)
	require.Equal(t, "1", v)
	model, _ := headerValue(m.GetHeaderMutation(), header.Model)
	require.Equal(t, "scribe", model)

	t.Run("the tier's cap is reserved when no length is asked", func(t *testing.T) {
		free := newLLMEnvScoped(t, scopes{"k-iris": "*"})
		r, p := free.start(t, free.jobs, post("/v2/jobs", "key-iris"))
		resp, err := p.RequestBody(t.Context(), body(`{"model":"scribe","messages":[{"role":"user","content":"x"}]}`))
		require.NoError(t, err)
		require.EqualValues(t, 16, sentBody(t, resp)["max_tokens"])
		require.Equal(t, 17, r.Tokens.Reserved, "1 prompt byte + the free tier's 16")
	})
	t.Run("the answer is a job: its usage is not charged again", func(t *testing.T) {
		_, err := p.ResponseHeaders(t.Context(), headers(false, header.Status, "202", header.ContentType, header.MediaJSON))
		require.NoError(t, err)
		last, err := p.ResponseBody(t.Context(), body(`{"id":"job_1","object":"job","usage":{"rows":0,"prompt_tokens":30,"completion_tokens":16}}`))
		require.NoError(t, err)
		_, left := charge(last)
		require.False(t, left)
	})
}

func TestJobs_chatRefusals(t *testing.T) {
	t.Parallel()
	// A violation is located by its pointer and a word of its detail; the
	// schema reports refused members at the object that has them.
	tests := []struct {
		name, key, body string
		wantPointer     string
		wantDetail      string
		wantErr         error
	}{
		{name: "stream", key: "key-acme", body: `{"model":"scribe","stream":true,"messages":[{"role":"user","content":"x"}]}`,
			wantPointer: "/stream", wantDetail: "not streamed"},
		{name: "messages for a tabular model", key: "key-acme", body: `{"model":"iris","messages":[{"role":"user","content":"x"}]}`,
			wantPointer: "/model", wantDetail: "does not generate text"},
		{name: "inputs for a text-generation model", key: "key-acme", body: `{"model":"scribe","inputs":[{"a":1}]}`,
			wantPointer: "/model", wantDetail: "generates text"},
		{name: "inputs beside messages", key: "key-acme", body: `{"model":"scribe","messages":[{"role":"user","content":"x"}],"inputs":[{"a":1}]}`,
			wantPointer: "", wantDetail: "'inputs'"},
		{name: "an unknown member", key: "key-acme", body: `{"model":"scribe","messages":[{"role":"user","content":"x"}],"user":"u"}`,
			wantPointer: "", wantDetail: "'user'"},
		{name: "unknown version", key: "key-acme", body: `{"model":"scribe:9","messages":[{"role":"user","content":"x"}]}`,
			wantErr: &catalog.UnknownVersionError{}},
		{name: "scope before anything about the model", key: "key-iris", body: `{"model":"scribe:9","messages":[{"role":"user","content":"x"}]}`,
			wantErr: &processor.ForbiddenError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newLLMEnv(t)
			_, p := e.start(t, e.jobs, post("/v2/jobs", tt.key))
			_, err := p.RequestBody(t.Context(), body(tt.body))
			require.Error(t, err)
			switch want := tt.wantErr.(type) {
			case *catalog.UnknownVersionError:
				require.ErrorAs(t, err, &want)
			case *processor.ForbiddenError:
				require.ErrorAs(t, err, &want)
			default:
				var ve *policy.ViolationsError
				require.ErrorAs(t, err, &ve)
				found := false
				for _, v := range ve.Violations {
					found = found || v.Pointer == tt.wantPointer && strings.Contains(v.Detail, tt.wantDetail)
				}
				require.True(t, found, "no violation at %q saying %q: %+v", tt.wantPointer, tt.wantDetail, ve.Violations)
			}
			require.Len(t, e.quota.Calls(), 1, "counted once, refused or not")
		})
	}
}

func TestJobs_chatChargedByEnvoyInTheExtAuthzChain(t *testing.T) {
	t.Parallel()
	c, err := catalog.Parse([]byte(llmCatalog))
	require.NoError(t, err)
	// No key check and no quota checker: ext_authz and Envoy's ratelimit
	// filters do both, so the charge is left for the stream-done call.
	adm := processor.NewAdmission(processor.AdmissionConfig{})
	f := processor.NewJobs(processor.PredictConfig{Catalog: staticCatalog{c}, Validator: newValidator(t)},
		processor.Limits{MaxBodyBytes: 8192, MaxRows: 10},
		processor.LLMConfig{Catalog: staticCatalog{c}, Generations: generations{}, MaxTokens: map[string]int{"pro": 512}}, adm)
	h := post("/v2/jobs", "", header.Client, "acme", header.Tier, "pro", header.KeyID, "k-acme")
	r := processor.NewRequest(epoch)
	require.NoError(t, adm.ReadHeaders(t.Context(), r, h))
	p := f(r)
	t.Cleanup(p.Close)
	_, err = p.RequestHeaders(t.Context(), h)
	require.NoError(t, err)
	resp, err := p.RequestBody(t.Context(), body(`{"model":"scribe","messages":[{"role":"user","content":"abcd"}],"max_tokens":10}`))
	require.NoError(t, err)
	got, ok := charge(resp)
	require.True(t, ok)
	require.Equal(t, "14", got, "4 prompt bytes + max_tokens 10")
	require.Zero(t, r.Tokens.Reserved)
}
