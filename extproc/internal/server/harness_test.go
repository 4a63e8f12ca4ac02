package server_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/cache"
	"github.com/modelgate/modelgate/extproc/internal/deprecation"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/extproc/internal/server"
	"github.com/modelgate/modelgate/extproc/internal/usage"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/testutil"
)

// Envoy's per-message timeout as our Envoy config sets it: a processor that
// does not answer within it costs the client a 504.
const messageTimeout = time.Second

const testCatalog = `default_model: iris
models:
  iris: {versions: ["1", "2"], aliases: {latest: "2", stable: "1"}}
  diabetes: {versions: ["1"]}
`

const testDeprecations = `
- path: /v1/predict
  deprecated: 2026-01-01T00:00:00Z
  sunset: 2027-01-01T00:00:00Z
  link: https://docs.modelgate.dev/migrate-v1
`

type live struct {
	cat *catalog.Catalog
	dep *deprecation.Table
}

func (r live) Catalog() *catalog.Catalog        { return r.cat }
func (r live) Deprecations() *deprecation.Table { return r.dep }

// scopes allows keys by a static table: key id → models ("*" = all).
type scopes map[string][]string

func (s scopes) Allows(keyID, model string) bool {
	for _, m := range s[keyID] {
		if m == "*" || m == model {
			return true
		}
	}
	return false
}

// records collects usage records.
type records struct {
	mu   sync.Mutex
	recs []usage.Record
	ch   chan usage.Record
}

func (r *records) Record(_ context.Context, rec usage.Record) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	select {
	case r.ch <- rec:
	default:
	}
}

// env is one extproc server on a real gRPC connection.
type env struct {
	client extprocv3.ExternalProcessorClient
	clock  *testutil.Clock
	usage  *records
}

// envConfig are the dependencies an env builds its processors from.
type envConfig struct {
	predict   processor.PredictConfig
	admission processor.AdmissionConfig
	// documents serves /openapi.json when set.
	documents processor.DocumentSource
}

type envOption func(*envConfig)

func withoutCache(c *envConfig)    { c.predict.Cache.Store = nil }
func withSharedCache(c *envConfig) { c.predict.Cache.ShareAcrossClients = true }

var validator = sync.OnceValues(func() (*policy.Validator, error) {
	return policy.Load("../../../api/openapi.yaml", policy.RequestSchemas...)
})

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	cat, err := catalog.Parse([]byte(testCatalog))
	require.NoError(t, err)
	var rules []deprecation.Rule
	require.NoError(t, yaml.Unmarshal([]byte(testDeprecations), &rules))
	dep, err := deprecation.New(rules)
	require.NoError(t, err)
	v, err := validator()
	require.NoError(t, err)
	clock := testutil.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	store, err := cache.New(cache.Config{MaxBytes: 8 << 20, TTL: 5 * time.Minute, CoalesceWait: 5 * time.Second, Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	src := live{cat: cat, dep: dep}
	cfg := envConfig{
		predict: processor.PredictConfig{
			Catalog:   src,
			Validator: v,
			Cache:     processor.CacheConfig{Store: store, MaxEntryBytes: 1 << 20},
			Limits:    processor.Limits{MaxBodyBytes: 4096, MaxRows: 5},
			Now:       clock.Now,
		},
		admission: processor.AdmissionConfig{
			Scopes:       scopes{"k-acme": {"*"}, "k-globex": {"*"}, "k-iris": {"iris"}},
			Deprecations: src,
			Now:          clock.Now,
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	rec := &records{ch: make(chan usage.Record, 64)}
	adm := processor.NewAdmission(cfg.admission)
	ep := server.NewExtProc(adm, rec, nil)
	ep.Register(routing.V1Predict, processor.NewV1Predict(cfg.predict, adm))
	ep.Register(routing.V2Predict, processor.NewV2Predict(cfg.predict, adm))
	ep.Register(routing.Infer, processor.NewInfer(cfg.predict, adm))
	ep.Register(routing.ModelMetadata, processor.NewMetadata(cfg.predict.Catalog, adm))
	if cfg.documents != nil {
		ep.Register(routing.Document, processor.NewDocument(cfg.documents, adm))
	}

	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(srv, ep)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
	})
	return &env{client: extprocv3.NewExternalProcessorClient(conn), clock: clock, usage: rec}
}

// stream drives one Process stream as Envoy does: one message at a time,
// waiting (at most messageTimeout) for the one answer of the matching type,
// and checking every answer the way Envoy would before applying it.
type stream struct {
	t      testing.TB
	s      extprocv3.ExternalProcessor_ProcessClient
	cancel context.CancelFunc
	first  bool
	done   bool
}

func (e *env) open(t testing.TB) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := e.client.Process(ctx)
	require.NoError(t, err)
	t.Cleanup(cancel)
	return &stream{t: t, s: s, cancel: cancel, first: true}
}

// send sends msg and returns the answer.
func (st *stream) send(msg *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	st.t.Helper()
	require.False(st.t, st.done, "Envoy sends nothing after an ImmediateResponse")
	if st.first {
		// protocol_config rides on the first message only.
		msg.ProtocolConfig = &extprocv3.ProtocolConfiguration{
			RequestBodyMode:  extprocfilterv3.ProcessingMode_BUFFERED,
			ResponseBodyMode: extprocfilterv3.ProcessingMode_NONE,
		}
		st.first = false
	}
	require.NoError(st.t, st.s.Send(msg))
	type result struct {
		resp *extprocv3.ProcessingResponse
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := st.s.Recv()
		ch <- result{r, err}
	}()
	select {
	case r := <-ch:
		require.NoError(st.t, r.err)
		checkLikeEnvoy(st.t, msg, r.resp)
		if r.resp.GetImmediateResponse() != nil {
			// Envoy closes the stream after an ImmediateResponse.
			st.done = true
			require.NoError(st.t, st.s.CloseSend())
		}
		return r.resp
	case <-time.After(messageTimeout):
		st.t.Fatalf("no answer to %T within the message timeout (Envoy: 504)", msg.GetRequest())
		return nil
	}
}

// finish half-closes the stream as Envoy does after the last expected
// answer and requires the server to end it cleanly.
func (st *stream) finish() {
	st.t.Helper()
	if !st.done {
		require.NoError(st.t, st.s.CloseSend())
	}
	_, err := st.s.Recv()
	require.ErrorIs(st.t, err, io.EOF, "the server returns nil on EOF")
}

// checkLikeEnvoy applies Envoy's acceptance rules to an answer.
func checkLikeEnvoy(t testing.TB, req *extprocv3.ProcessingRequest, resp *extprocv3.ProcessingResponse) {
	t.Helper()
	if ir := resp.GetImmediateResponse(); ir != nil {
		require.GreaterOrEqual(t, int(ir.GetStatus().GetCode()), 200, "status < 200 would become 200")
		checkMutation(t, ir.GetHeaders())
		for _, h := range ir.GetHeaders().GetSetHeaders() {
			require.NotEqual(t, header.ContentLength, h.GetHeader().GetKey(), "Envoy sets content-length of local replies")
		}
		return
	}
	var common *extprocv3.CommonResponse
	switch req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		require.NotNil(t, resp.GetRequestHeaders(), "spurious answer to request_headers: %v", resp)
		common = resp.GetRequestHeaders().GetResponse()
	case *extprocv3.ProcessingRequest_RequestBody:
		require.NotNil(t, resp.GetRequestBody(), "spurious answer to request_body: %v", resp)
		common = resp.GetRequestBody().GetResponse()
		require.Nil(t, resp.GetModeOverride(), "mode_override is honoured only on headers answers")
	case *extprocv3.ProcessingRequest_RequestTrailers:
		require.NotNil(t, resp.GetRequestTrailers(), "spurious answer to request_trailers: %v", resp)
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		require.NotNil(t, resp.GetResponseHeaders(), "spurious answer to response_headers: %v", resp)
		common = resp.GetResponseHeaders().GetResponse()
		require.False(t, common.GetClearRouteCache(), "clear_route_cache is ignored on responses")
	case *extprocv3.ProcessingRequest_ResponseBody:
		require.NotNil(t, resp.GetResponseBody(), "spurious answer to response_body: %v", resp)
		common = resp.GetResponseBody().GetResponse()
		require.Nil(t, resp.GetModeOverride())
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		require.NotNil(t, resp.GetResponseTrailers(), "spurious answer to response_trailers: %v", resp)
	}
	if common == nil {
		return
	}
	checkMutation(t, common.GetHeaderMutation())
	if common.GetClearRouteCache() {
		require.NotNil(t, common.GetHeaderMutation(), "clear_route_cache without header_mutation is ignored")
	}
	if bm := common.GetBodyMutation(); bm != nil {
		// BUFFERED with headers SEND keeps content-length: it must match
		// the new body or Envoy answers 500.
		cl := ""
		for _, h := range common.GetHeaderMutation().GetSetHeaders() {
			if h.GetHeader().GetKey() == header.ContentLength {
				cl = string(h.GetHeader().GetRawValue())
			}
		}
		require.Equal(t, strconv.Itoa(len(bm.GetBody())), cl, "content-length must follow a body mutation")
	}
}

// checkMutation enforces the header encoding Envoy 1.40 accepts.
func checkMutation(t testing.TB, m *extprocv3.HeaderMutation) {
	t.Helper()
	for _, h := range m.GetSetHeaders() {
		require.Empty(t, h.GetHeader().GetValue(), "%s: value must be empty (Envoy reads raw_value)", h.GetHeader().GetKey())
		require.NotEmpty(t, h.GetHeader().GetRawValue(), "%s: raw_value must carry the value", h.GetHeader().GetKey())
		//lint:ignore SA1019 ext_proc reads only the legacy append flag (envoy-protocol.md §1.7); asserting it stays unset is the point.
		require.Nil(t, h.GetAppend(), "%s: append unset means overwrite", h.GetHeader().GetKey())
		require.Equal(t, corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD, h.GetAppendAction(), "%s: append_action must stay unset", h.GetHeader().GetKey())
	}
}

// hdrs builds an Envoy header map: lower-case keys, values in raw_value.
func hdrs(kv ...string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return m
}

func requestHeaders(eos bool, kv ...string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{
		RequestHeaders: &extprocv3.HttpHeaders{Headers: hdrs(kv...), EndOfStream: eos}}}
}

func requestBody(body string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: eos}}}
}

func requestTrailers() *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{
		RequestTrailers: &extprocv3.HttpTrailers{Trailers: hdrs("x-checksum", "1")}}}
}

func responseHeaders(eos bool, kv ...string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{
		ResponseHeaders: &extprocv3.HttpHeaders{Headers: hdrs(kv...), EndOfStream: eos}}}
}

func responseBody(body string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
		ResponseBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: eos}}}
}

// set returns the headers a CommonResponse or ImmediateResponse sets, and
// the headers it removes under "-name".
func set(m *extprocv3.HeaderMutation) map[string]string {
	out := map[string]string{}
	for _, h := range m.GetSetHeaders() {
		out[h.GetHeader().GetKey()] = string(h.GetHeader().GetRawValue())
	}
	for _, r := range m.GetRemoveHeaders() {
		out["-"+r] = ""
	}
	return out
}

// post returns the request headers of a JSON POST.
func post(path, requestID string, extra ...string) *extprocv3.ProcessingRequest {
	kv := []string{
		header.Method, "POST", header.Path, path, header.Authority, "api.example.com", ":scheme", "https",
		header.ContentType, "application/json", header.RequestID, requestID,
		header.Client, "acme", header.Tier, "pro", header.KeyID, "k-acme",
	}
	// Extra headers replace defaults of the same name, as in a real map.
next:
	for i := 0; i+1 < len(extra); i += 2 {
		for j := 0; j+1 < len(kv); j += 2 {
			if kv[j] == extra[i] {
				kv[j+1] = extra[i+1]
				continue next
			}
		}
		kv = append(kv, extra[i], extra[i+1])
	}
	return requestHeaders(false, kv...)
}

// upstreamOK returns the response headers of a 200 JSON answer of body.
func upstreamOK(body, version string) *extprocv3.ProcessingRequest {
	return responseHeaders(false, header.Status, "200", header.ContentType, "application/json",
		header.ContentLength, strconv.Itoa(len(body)), header.ModelVersion, version)
}

// waitRecord waits for the next usage record.
func (e *env) waitRecord(t testing.TB) usage.Record {
	t.Helper()
	select {
	case r := <-e.usage.ch:
		return r
	case <-time.After(2 * time.Second):
		t.Fatal("no usage record")
		return usage.Record{}
	}
}
