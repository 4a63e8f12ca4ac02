package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/quota"
)

// Keys of the fake key check, by key.
var testKeys = map[string]authz.Principal{
	"key-acme": {Client: "acme", Tier: "pro", KeyID: "k-acme"},
	"key-iris": {Client: "initech", Tier: "free", KeyID: "k-iris"},
}

// fakeKeys checks keys against testKeys; the real check (parsing, hashing,
// revocation) has tests of its own in package authz.
type fakeKeys struct{}

func (fakeKeys) Authenticate(_ context.Context, apiKey, _, _ string) (authz.Principal, error) {
	if apiKey == "" {
		return authz.Principal{}, authz.ErrMissing
	}
	p, ok := testKeys[apiKey]
	if !ok {
		return authz.Principal{}, authz.ErrUnknown
	}
	return p, nil
}

// fakeQuota records every call and answers with decide (OK by default).
type fakeQuota struct {
	mu     sync.Mutex
	calls  [][]quota.Descriptor
	decide func(calls int) (quota.Decision, error)
}

func (q *fakeQuota) Check(_ context.Context, ds []quota.Descriptor) (quota.Decision, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, ds)
	if q.decide == nil {
		return quota.Decision{Tightest: &quota.Limit{Requests: 60, Window: time.Minute, Remaining: 59, Reset: 30 * time.Second}}, nil
	}
	return q.decide(len(q.calls))
}

func (q *fakeQuota) Calls() [][]quota.Descriptor {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([][]quota.Descriptor(nil), q.calls...)
}

// inPlugin makes the env check keys and quotas in the stream (ext_proc
// mode) with the given quota fake.
func inPlugin(q *fakeQuota) envOption {
	return func(c *envConfig) { c.admission.Keys, c.admission.Quota = fakeKeys{}, q }
}

// keyed returns the request headers of a JSON POST as a client sends it:
// the key, no identity headers.
func keyed(path, requestID, key string, extra ...string) []string {
	kv := []string{header.Method, "POST", header.Path, path, header.ContentType, "application/json", header.RequestID, requestID}
	if key != "" {
		kv = append(kv, header.APIKey, key)
	}
	return append(kv, extra...)
}

func TestAdmission_keyCheckedInRequestHeaders(t *testing.T) {
	t.Parallel()
	q := &fakeQuota{}
	e := newEnv(t, inPlugin(q))

	t.Run("no key: 401 with the challenge, nothing counted", func(t *testing.T) {
		st := e.open(t)
		ir := st.send(requestHeaders(false, keyed("/v2/predict", "req-401", "")...)).GetImmediateResponse()
		require.NotNil(t, ir)
		require.Equal(t, 401, int(ir.GetStatus().GetCode()))
		require.Contains(t, set(ir.GetHeaders())[header.WWWAuthenticate], `Bearer realm="modelgate"`)
		p := decodeProblem(t, ir.GetBody())
		require.Equal(t, problem.TypeUnauthorized, p.Type)
		require.Equal(t, "req-401", p.RequestID)
		require.Empty(t, q.Calls(), "unauthenticated requests do not reach the quota service")
	})
	t.Run("unknown key: 401 invalid_token", func(t *testing.T) {
		st := e.open(t)
		ir := st.send(requestHeaders(false, keyed("/v2/predict", "req-x", "key-forged")...)).GetImmediateResponse()
		require.Equal(t, 401, int(ir.GetStatus().GetCode()))
		require.Contains(t, set(ir.GetHeaders())[header.WWWAuthenticate], `error="invalid_token"`)
	})
	t.Run("valid key: identity set, key headers removed before anything goes upstream", func(t *testing.T) {
		st := e.open(t)
		resp := st.send(requestHeaders(false, keyed("/v2/predict", "req-ok", "key-acme", header.Client, "spoofed")...))
		m := set(resp.GetRequestHeaders().GetResponse().GetHeaderMutation())
		require.Equal(t, "acme", m[header.Client], "the checked identity overwrites whatever the client sent")
		require.Equal(t, "pro", m[header.Tier])
		require.Equal(t, "k-acme", m[header.KeyID])
		require.Contains(t, m, "-"+header.APIKey)
		require.Contains(t, m, "-"+header.Authorization)
	})
}

func TestAdmission_oneQuotaCallPerRequest(t *testing.T) {
	t.Parallel()
	q := &fakeQuota{}
	e := newEnv(t, inPlugin(q))

	// A miss: one call with the client and client+model descriptors.
	st := e.open(t)
	st.send(requestHeaders(false, keyed("/v2/predict", "req-1", "key-acme")...))
	resp := st.send(requestBody(v2Body, true))
	require.Equal(t, "2", set(resp.GetRequestBody().GetResponse().GetHeaderMutation())[header.ModelVersion])
	resp = st.send(upstreamOK(v2Response, "2"))
	m := set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation())
	require.Equal(t, "60, 60;w=60", m[header.RateLimitLimit])
	require.Equal(t, "59", m[header.RateLimitRemaining])
	require.Equal(t, "30", m[header.RateLimitReset])
	st.send(responseBody(v2Response, true))
	st.finish()

	calls := q.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, quota.Descriptors(quota.Subject{Client: "acme", Tier: "pro", Model: "iris", Version: "2"}), calls[0])

	// A hit of the same body counts too, in one call.
	st = e.open(t)
	st.send(requestHeaders(false, keyed("/v2/predict", "req-2", "key-acme")...))
	ir := st.send(requestBody(v2Body, true)).GetImmediateResponse()
	require.NotNil(t, ir)
	require.Equal(t, "HIT", set(ir.GetHeaders())[header.Cache])
	require.Equal(t, "59", set(ir.GetHeaders())[header.RateLimitRemaining])
	require.Len(t, q.Calls(), 2)

	// A GET without a model: the client quotas only, from the headers phase.
	st = e.open(t)
	resp = st.send(requestHeaders(true, header.Method, "GET", header.Path, "/v2/models", header.APIKey, "key-acme"))
	require.NotNil(t, resp.GetRequestHeaders())
	calls = q.Calls()
	require.Len(t, calls, 3)
	require.Equal(t, quota.Descriptors(quota.Subject{Client: "acme", Tier: "pro"}), calls[2])
}

func TestAdmission_overQuotaBeforeValidation(t *testing.T) {
	t.Parallel()
	over := quota.Decision{Over: true, Tightest: &quota.Limit{Requests: 5, Window: time.Second, Remaining: 0, Reset: 400 * time.Millisecond}}
	q := &fakeQuota{decide: func(int) (quota.Decision, error) { return over, nil }}
	e := newEnv(t, inPlugin(q))

	for name, body := range map[string]string{
		"a valid body":                   v2Body,
		"a body the schema would refuse": `{"model":"iris","inputs":"nope"}`,
		"a body that is not JSON":        `{"model":`,
	} {
		t.Run(name, func(t *testing.T) {
			st := e.open(t)
			st.send(requestHeaders(false, keyed("/v2/predict", "req-429", "key-acme")...))
			ir := st.send(requestBody(body, true)).GetImmediateResponse()
			require.NotNil(t, ir)
			require.Equal(t, 429, int(ir.GetStatus().GetCode()))
			h := set(ir.GetHeaders())
			require.Equal(t, "1", h[header.RetryAfter], "rounded up to whole seconds")
			require.Equal(t, "0", h[header.RateLimitRemaining])
			require.Equal(t, "5, 5;w=1", h[header.RateLimitLimit])
			require.Equal(t, problem.TypeQuotaExceeded, decodeProblem(t, ir.GetBody()).Type)
		})
	}
}

func TestAdmission_modelQuotaOnlyForAllowedModels(t *testing.T) {
	t.Parallel()
	q := &fakeQuota{}
	e := newEnv(t, inPlugin(q))
	st := e.open(t)
	st.send(requestHeaders(false, keyed("/v2/predict", "req-403", "key-iris")...))
	ir := st.send(requestBody(`{"model":"diabetes","inputs":[{"age":0.1}]}`, true)).GetImmediateResponse()
	require.Equal(t, 403, int(ir.GetStatus().GetCode()))
	calls := q.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, quota.Descriptors(quota.Subject{Client: "initech", Tier: "free"}), calls[0],
		"a model the key may not use is not named to the quota service")
}

func TestAdmission_quotaServiceDownFailsOpen(t *testing.T) {
	t.Parallel()
	q := &fakeQuota{decide: func(int) (quota.Decision, error) { return quota.Decision{}, errors.New("unavailable") }}
	e := newEnv(t, inPlugin(q))
	st := e.open(t)
	st.send(requestHeaders(false, keyed("/v2/predict", "req-open", "key-acme")...))
	resp := st.send(requestBody(v2Body, true))
	require.NotNil(t, resp.GetRequestBody(), "served without a quota check")
	resp = st.send(upstreamOK(v2Response, "2"))
	require.NotContains(t, set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation()), header.RateLimitRemaining)
}
