package processor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/internal/catalog"
)

const testCatalog = `default_model: iris
models:
  iris: {versions: ["1", "2"], aliases: {latest: "2"}}
  diabetes: {versions: ["1"]}
`

// staticCatalog is a catalog that never reloads.
type staticCatalog struct{ c *catalog.Catalog }

func (s staticCatalog) Catalog() *catalog.Catalog { return s.c }

func newCatalog(t *testing.T) staticCatalog {
	t.Helper()
	c, err := catalog.Parse([]byte(testCatalog))
	require.NoError(t, err)
	return staticCatalog{c}
}

var validator = sync.OnceValues(func() (*policy.Validator, error) {
	return policy.Load("../../../api/openapi.yaml", policy.RequestSchemas...)
})

func newValidator(t *testing.T) *policy.Validator {
	t.Helper()
	v, err := validator()
	require.NoError(t, err)
	return v
}

// keys accepts key-acme (every model) and key-iris (iris only).
type keys struct{}

func (keys) Authenticate(_ context.Context, apiKey, _, _ string) (authz.Principal, error) {
	switch apiKey {
	case "":
		return authz.Principal{}, authz.ErrMissing
	case "key-acme":
		return authz.Principal{Client: "acme", Tier: "pro", KeyID: "k-acme"}, nil
	case "key-iris":
		return authz.Principal{Client: "initech", Tier: "free", KeyID: "k-iris"}, nil
	}
	return authz.Principal{}, authz.ErrUnknown
}

// scopes: key id → the one model it may use ("*" = all).
type scopes map[string]string

func (s scopes) Allows(keyID, model string) bool { return s[keyID] == "*" || s[keyID] == model }

var testScopes = scopes{"k-acme": "*", "k-iris": "iris"}

// quotaCalls records the descriptors of every quota call and answers with
// answer.
type quotaCalls struct {
	mu     sync.Mutex
	calls  [][]quota.Descriptor
	answer quota.Decision
	err    error
}

func (q *quotaCalls) Check(_ context.Context, ds []quota.Descriptor) (quota.Decision, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, ds)
	return q.answer, q.err
}

func (q *quotaCalls) Calls() [][]quota.Descriptor {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls
}

var epoch = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// headers builds a request_headers message from name/value pairs, values
// in raw_value as Envoy sends them.
func headers(eos bool, kv ...string) *extprocv3.HttpHeaders {
	hm := &corev3.HeaderMap{}
	for i := 0; i < len(kv); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return &extprocv3.HttpHeaders{Headers: hm, EndOfStream: eos}
}

// post is the request headers of a JSON POST to path with the given key;
// extra pairs come first, so they win over the defaults (request id
// req-1).
func post(path, key string, extra ...string) *extprocv3.HttpHeaders {
	kv := append(extra, header.Method, "POST", header.Path, path, header.ContentType, header.MediaJSON, header.RequestID, "req-1")
	if key != "" {
		kv = append(kv, header.APIKey, key)
	}
	return headers(false, kv...)
}

func body(s string) *extprocv3.HttpBody {
	return &extprocv3.HttpBody{Body: []byte(s), EndOfStream: true}
}

// headerValue returns the value a mutation sets for name, and whether it
// sets it.
func headerValue(m *extprocv3.HeaderMutation, name string) (string, bool) {
	for _, h := range m.GetSetHeaders() {
		if h.GetHeader().GetKey() == name {
			return string(h.GetHeader().GetRawValue()), true
		}
	}
	return "", false
}
