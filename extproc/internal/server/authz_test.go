package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/keycli"
	"github.com/modelgate/modelgate/extproc/internal/server"
)

// authzDial serves a on a real gRPC server over an in-memory connection and
// returns a client, as Envoy's ext_authz filter would use it.
func authzDial(t testing.TB, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	register(srv)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
	})
	return conn
}

func authzClient(t testing.TB, a *server.Authz) authv3.AuthorizationClient {
	t.Helper()
	return authv3.NewAuthorizationClient(authzDial(t, func(s *grpc.Server) { authv3.RegisterAuthorizationServer(s, a) }))
}

// authzRequest builds a CheckRequest the way Envoy's ext_authz filter does
// for "POST /v2/models/iris/predict?explain=true": the full request target
// in path (query included), lower-case header keys, pseudo-headers in the
// map, and extra client headers.
func authzRequest(extra map[string]string) *authv3.CheckRequest {
	headers := map[string]string{
		":authority":        "api.example.com",
		":method":           "POST",
		":path":             "/v2/models/iris/predict?explain=true",
		":scheme":           "https",
		"content-type":      "application/json",
		"content-length":    "42",
		"user-agent":        "curl/8.5.0",
		"x-forwarded-proto": "https",
		"x-request-id":      "5f1c2a9e-0c1b-4d7e-9a55-2b0f6d3f1e11",
	}
	for k, v := range extra {
		headers[k] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.0.0.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 53124}},
		}}},
		Destination: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.0.0.2", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}},
		}}},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.Now(),
			Http: &authv3.AttributeContext_HttpRequest{
				Id:       "12765803478917541913",
				Method:   "POST",
				Path:     "/v2/models/iris/predict?explain=true",
				Host:     "api.example.com",
				Scheme:   "https",
				Protocol: "HTTP/1.1",
				Size:     42,
				Headers:  headers,
			},
		},
	}}
}

// authzRawRequest is authzRequest with encode_raw_headers: true, where
// Envoy sends header_map entries with raw_value and does not merge repeats.
func authzRawRequest(pairs ...string) *authv3.CheckRequest {
	req := authzRequest(nil)
	h := req.Attributes.Request.Http
	var m corev3.HeaderMap
	for k, v := range h.Headers {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	for i := 0; i < len(pairs); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: pairs[i], RawValue: []byte(pairs[i+1])})
	}
	h.Headers, h.HeaderMap = nil, &m
	return req
}

var authzKeyLine = regexp.MustCompile(`(?m)^key: +(\S+)$`)

// authzCreateKey runs `keys create` and returns the new key.
func authzCreateKey(t testing.TB, path string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"create", "--file", path}, args...)
	require.NoError(t, keycli.Run(context.Background(), args, &out, &errOut), errOut.String())
	m := authzKeyLine.FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	return m[1]
}

func authzRevokeKey(t testing.TB, path, key string) {
	t.Helper()
	var out, errOut bytes.Buffer
	require.NoError(t, keycli.Run(context.Background(), []string{"revoke", "--file", path, authz.KeyIDOf(key)}, &out, &errOut), errOut.String())
}

// requireAllowed asserts an OK answer that names the principal upstream and
// strips the key headers.
func requireAllowed(t testing.TB, resp *authv3.CheckResponse, client, tier, keyID string) {
	t.Helper()
	require.Equal(t, int32(code.Code_OK), resp.GetStatus().GetCode())
	ok := resp.GetOkResponse()
	require.NotNil(t, ok, "want an ok_response, got %v", resp)
	got := map[string]string{}
	for _, o := range ok.GetHeaders() {
		//lint:ignore SA1019 the handler sets the legacy flag on purpose
		appendFlag := o.GetAppend()
		require.NotNil(t, appendFlag, "append must be set explicitly")
		require.False(t, appendFlag.GetValue(), "headers must overwrite, not append")
		require.Empty(t, o.GetHeader().GetRawValue(), "ext_authz reads value, not raw_value")
		got[o.GetHeader().GetKey()] = o.GetHeader().GetValue()
	}
	require.Equal(t, map[string]string{header.Client: client, header.Tier: tier, header.KeyID: keyID}, got)
	require.ElementsMatch(t, []string{header.APIKey, header.Authorization}, ok.GetHeadersToRemove())
}

// requireDenied asserts a 401 problem+json answer and returns the problem.
func requireDenied(t testing.TB, resp *authv3.CheckResponse, wantStatus int, wantAuthenticate string) problem.Problem {
	t.Helper()
	require.NotEqual(t, int32(code.Code_OK), resp.GetStatus().GetCode(), "a denial must not carry OK")
	d := resp.GetDeniedResponse()
	require.NotNil(t, d, "want a denied_response, got %v", resp)
	require.Equal(t, typev3.StatusCode(wantStatus), d.GetStatus().GetCode())
	got := map[string]string{}
	for _, o := range d.GetHeaders() {
		got[o.GetHeader().GetKey()] = o.GetHeader().GetValue()
	}
	require.Equal(t, header.MediaProblemJSON, got[header.ContentType])
	require.Equal(t, wantAuthenticate, got[header.WWWAuthenticate])
	var p problem.Problem
	require.NoError(t, json.Unmarshal([]byte(d.GetBody()), &p))
	require.Equal(t, wantStatus, p.Status)
	return p
}

const authzRequestID = "5f1c2a9e-0c1b-4d7e-9a55-2b0f6d3f1e11"

func TestAuthz_Check(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	valid := authzCreateKey(t, path, "--client", "acme", "--tier", "pro", "--models", "iris,diabetes")
	revoked := authzCreateKey(t, path, "--client", "acme", "--tier", "pro", "--models", "iris")
	authzRevokeKey(t, path, revoked)
	expiring := authzCreateKey(t, path, "--client", "acme", "--tier", "free", "--models", "*", "--expires", "1h")
	// A well-shaped key that was never issued.
	stranger := authzCreateKey(t, filepath.Join(t.TempDir(), "other.yaml"), "--client", "x", "--tier", "y", "--models", "*")

	var logs bytes.Buffer
	var logsMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &logsMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := time.Now().Add(2 * time.Hour) // past the expiring key's expiry
	store, err := authz.Open(path, authz.Options{Now: func() time.Time { return clock }})
	require.NoError(t, err)
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	client := authzClient(t, server.NewAuthz(store, logger, meter))

	const (
		noCredentials = `Bearer realm="modelgate"`
		badRequest    = `Bearer realm="modelgate", error="invalid_request", error_description="malformed API key"`
		unknownToken  = `Bearer realm="modelgate", error="invalid_token", error_description="unknown API key"`
		revokedToken  = `Bearer realm="modelgate", error="invalid_token", error_description="API key revoked"`
		expiredToken  = `Bearer realm="modelgate", error="invalid_token", error_description="API key expired"`
		detailMissing = "The request carries no API key. Send it in the x-api-key header or as Authorization: Bearer <key>."
		detailMalform = "The API key is malformed. Send one modelgate key (mg_...) in the x-api-key header or as Authorization: Bearer <key>; when both headers are sent, both must carry that same key."
		detailUnknown = "The API key is not valid."
		detailRevoked = "The API key has been revoked. Ask your administrator for a new key."
		detailExpired = "The API key has expired. Ask your administrator for a new key."
	)

	tests := []struct {
		name             string
		req              *authv3.CheckRequest
		wantAllowed      bool
		wantDetail       string
		wantAuthenticate string
	}{
		{name: "allows a valid x-api-key", req: authzRequest(map[string]string{header.APIKey: valid}), wantAllowed: true},
		{name: "allows a valid bearer token", req: authzRequest(map[string]string{header.Authorization: "Bearer " + valid}), wantAllowed: true},
		{name: "allows a lower-case bearer scheme", req: authzRequest(map[string]string{header.Authorization: "bearer " + valid}), wantAllowed: true},
		{
			name: "overwrites identity headers the client sent",
			req: authzRequest(map[string]string{
				header.APIKey: valid, header.Client: "someone-else", header.Tier: "internal", header.KeyID: "aaaaaaaa",
			}),
			wantAllowed: true,
		},
		{name: "allows raw header_map values from encode_raw_headers", req: authzRawRequest(header.APIKey, valid), wantAllowed: true},
		{name: "refuses a request without a key", req: authzRequest(nil), wantDetail: detailMissing, wantAuthenticate: noCredentials},
		{name: "refuses another authorization scheme", req: authzRequest(map[string]string{header.Authorization: "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}), wantDetail: detailMalform, wantAuthenticate: badRequest},
		{name: "refuses another authorization scheme beside a valid x-api-key", req: authzRequest(map[string]string{header.APIKey: valid, header.Authorization: "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}), wantDetail: detailMalform, wantAuthenticate: badRequest},
		{name: "refuses a malformed bearer token beside a valid x-api-key", req: authzRequest(map[string]string{header.APIKey: valid, header.Authorization: "Bearer x"}), wantDetail: detailMalform, wantAuthenticate: badRequest},
		{name: "allows the same key in both headers", req: authzRequest(map[string]string{header.APIKey: valid, header.Authorization: "Bearer " + valid}), wantAllowed: true},
		{name: "refuses a key of the wrong shape", req: authzRequest(map[string]string{header.APIKey: "sk-123"}), wantDetail: detailMalform, wantAuthenticate: badRequest},
		{name: "refuses two keys joined by Envoy", req: authzRequest(map[string]string{header.APIKey: valid + "," + stranger}), wantDetail: detailMalform, wantAuthenticate: badRequest},
		{name: "refuses two raw x-api-key entries", req: authzRawRequest(header.APIKey, valid, header.APIKey, valid), wantDetail: detailMalform, wantAuthenticate: badRequest},
		{name: "refuses a key that was never issued", req: authzRequest(map[string]string{header.APIKey: stranger}), wantDetail: detailUnknown, wantAuthenticate: unknownToken},
		{name: "refuses a revoked key", req: authzRequest(map[string]string{header.APIKey: revoked}), wantDetail: detailRevoked, wantAuthenticate: revokedToken},
		{name: "refuses an expired key", req: authzRequest(map[string]string{header.Authorization: "Bearer " + expiring}), wantDetail: detailExpired, wantAuthenticate: expiredToken},
	}
	// The group returns once its parallel subtests are done, so the log
	// and metric checks below see every decision.
	t.Run("decides", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp, err := client.Check(t.Context(), tt.req)
				require.NoError(t, err, "Check never fails the RPC")
				if tt.wantAllowed {
					requireAllowed(t, resp, "acme", "pro", authz.KeyIDOf(valid))
					return
				}
				require.Equal(t, int32(code.Code_UNAUTHENTICATED), resp.GetStatus().GetCode())
				p := requireDenied(t, resp, 401, tt.wantAuthenticate)
				require.Equal(t, problem.TypeUnauthorized, p.Type)
				require.Equal(t, tt.wantDetail, p.Detail)
				require.Equal(t, authzRequestID, p.RequestID)
			})
		}
	})

	t.Run("never logs a key", func(t *testing.T) {
		logsMu.Lock()
		defer logsMu.Unlock()
		require.Contains(t, logs.String(), `"reason":"revoked"`)
		for _, k := range []string{valid, revoked, expiring, stranger} {
			require.NotContains(t, logs.String(), k[len(k)-52:])
		}
	})
	t.Run("counts every decision by result", func(t *testing.T) {
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(t.Context(), &rm))
		got := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != server.MetricChecks {
					continue
				}
				for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
					v, _ := p.Attributes.Value("result")
					got[v.AsString()] += p.Value
				}
			}
		}
		require.Equal(t, map[string]int64{
			"allowed": 6, "missing": 1, "malformed": 6, "unknown": 1, "revoked": 1, "expired": 1,
		}, got)
	})
}

// lockedWriter serialises writes from parallel subtests.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestAuthz_Check_failsClosed(t *testing.T) {
	t.Parallel()
	t.Run("denies with 500 when the handler panics", func(t *testing.T) {
		t.Parallel()
		// A nil store makes Authenticate panic once a credential parses.
		client := authzClient(t, server.NewAuthz(nil, nil, nil))
		key := authzCreateKey(t, filepath.Join(t.TempDir(), "keys.yaml"), "--client", "a", "--tier", "b", "--models", "*")
		resp, err := client.Check(t.Context(), authzRequest(map[string]string{header.APIKey: key}))
		require.NoError(t, err)
		require.Equal(t, int32(code.Code_INTERNAL), resp.GetStatus().GetCode())
		p := requireDenied(t, resp, 500, "")
		require.Equal(t, problem.TypeInternal, p.Type)
		require.Equal(t, authzRequestID, p.RequestID)
	})
	t.Run("denies a request without attributes", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys.yaml")
		authzCreateKey(t, path, "--client", "a", "--tier", "b", "--models", "*")
		store, err := authz.Open(path, authz.Options{})
		require.NoError(t, err)
		client := authzClient(t, server.NewAuthz(store, nil, nil))
		resp, err := client.Check(t.Context(), &authv3.CheckRequest{})
		require.NoError(t, err)
		requireDenied(t, resp, 401, `Bearer realm="modelgate"`)
	})
}

// TestAuthz_keyLifecycle follows one key from `keys create` to `keys revoke`
// while extproc watches the file, as an operator would.
func TestAuthz_keyLifecycle(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	key := authzCreateKey(t, path, "--client", "acme", "--tier", "pro", "--models", "iris")
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	store, err := authz.Open(path, authz.Options{Meter: meter})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	watchDone := make(chan error, 1)
	go func() { watchDone <- store.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-watchDone)
	})
	client := authzClient(t, server.NewAuthz(store, nil, nil))
	check := func(k string) *authv3.CheckResponse {
		resp, err := client.Check(t.Context(), authzRequest(map[string]string{header.APIKey: k}))
		require.NoError(t, err)
		return resp
	}

	requireAllowed(t, check(key), "acme", "pro", authz.KeyIDOf(key))

	// A key created while running works without a restart.
	second := authzCreateKey(t, path, "--client", "globex", "--tier", "free", "--models", "*")
	require.Eventually(t, func() bool { return check(second).GetOkResponse() != nil }, 2*time.Second, 10*time.Millisecond)

	// A broken file is rejected and the keys in force stay.
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path+".tmp", []byte("keys:\n  - id: [\n"), 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
	require.Eventually(t, func() bool { return reloads(t, reader, "error") >= 1 }, 2*time.Second, 10*time.Millisecond)
	requireAllowed(t, check(key), "acme", "pro", authz.KeyIDOf(key))
	require.NoError(t, os.WriteFile(path+".tmp", good, 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))

	// Revocation takes effect within 2 s.
	start := time.Now()
	authzRevokeKey(t, path, key)
	require.Eventually(t, func() bool {
		return errors.Is(authzDetailErr(check(key)), authz.ErrRevoked)
	}, 2*time.Second, 10*time.Millisecond, "a revoked key must stop working within 2 s")
	t.Logf("revocation took effect after %v", time.Since(start).Round(time.Millisecond))
	requireAllowed(t, check(second), "globex", "free", authz.KeyIDOf(second))
}

// authzDetailErr maps a denial back to the authz error it reports.
func authzDetailErr(resp *authv3.CheckResponse) error {
	d := resp.GetDeniedResponse()
	if d == nil {
		return nil
	}
	switch {
	case strings.Contains(d.GetBody(), "revoked"):
		return authz.ErrRevoked
	case strings.Contains(d.GetBody(), "expired"):
		return authz.ErrExpired
	default:
		return authz.ErrUnknown
	}
}

func reloads(t testing.TB, r *sdkmetric.ManualReader, result string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != authz.MetricReloads {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, _ := p.Attributes.Value("result"); v.AsString() == result {
					n += p.Value
				}
			}
		}
	}
	return n
}
