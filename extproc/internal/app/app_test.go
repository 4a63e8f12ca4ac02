package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/app"
)

const catalogV1 = `default_model: iris
models:
  iris: {versions: ["1", "2"], aliases: {latest: "2", stable: "1"}}
`

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

type fixture struct {
	dir, cfgPath, catalog, keys string
	env                         map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, cfgPath: filepath.Join(dir, "config.yaml"), catalog: filepath.Join(dir, "catalog.yaml"), keys: filepath.Join(dir, "keys.yaml")}
	openapi, err := filepath.Abs("../../../api/openapi.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(f.catalog, []byte(catalogV1), 0o600))
	cfg := fmt.Sprintf(`grpc_addr: %q
admin_addr: %q
catalog: %q
openapi: %q
keys_file: %q
deprecations:
  - {path: /v1/predict, deprecated: 2026-01-01T00:00:00Z, link: "https://modelgate.dev/docs/v1"}
log: {format: json, level: info}
shutdown: {drain_delay: 0s, timeout: 2s}
gateway: {mode: ext_authz}
`, freeAddr(t), freeAddr(t), f.catalog, openapi, f.keys)
	require.NoError(t, os.WriteFile(f.cfgPath, []byte(cfg), 0o600))
	f.env = map[string]string{"EXTPROC_CONFIG": f.cfgPath}
	return f
}

func (f *fixture) getenv(k string) string { return f.env[k] }

func (f *fixture) run(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = app.Run(ctx, args, f.getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

var keyLine = regexp.MustCompile(`(?m)^key: +(\S+)$`)

func TestRun_checkConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, errOut, err := f.run(t, t.Context(), "--check-config")
	require.ErrorIs(t, err, app.ErrInvalidConfig, "the keys file does not exist yet")
	require.Contains(t, errOut, "keys_file: stat")

	_, _, err = f.run(t, t.Context(), "keys", "create", "--file", f.keys, "--client", "acme", "--tier", "pro", "--models", "*")
	require.NoError(t, err)
	out, _, err := f.run(t, t.Context(), "--check-config")
	require.NoError(t, err)
	require.Contains(t, out, "configuration OK")

	bad := filepath.Join(f.dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`grpc_addr: nope
catalog: /does/not/exist.yaml
limits: {max_rows: 0}
log: {format: xml}
deprecations: [{path: v1}]
`), 0o600))
	_, errOut, err = f.run(t, t.Context(), "--check-config", "--config", bad)
	require.ErrorIs(t, err, app.ErrInvalidConfig)
	for _, want := range []string{"grpc_addr:", "catalog:", "keys_file:", "limits.max_rows:", "log.format:", "deprecations[0].path:", "deprecations[0].deprecated:"} {
		require.Contains(t, errOut, want, "every problem at once")
	}
}

func TestRun_rejectsStrayArguments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, _, err := f.run(t, t.Context(), "serve", "extra")
	require.ErrorContains(t, err, "unexpected arguments")
}

// TestRun_serve starts the whole binary in-process and drives it over real
// TCP gRPC as Envoy would: health, ext_authz Check, then an ext_proc stream
// carrying the headers the Check added; it reloads the catalog and shuts
// down.
func TestRun_serve(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	out, _, err := f.run(t, t.Context(), "keys", "create", "--file", f.keys, "--client", "acme", "--tier", "pro", "--models", "iris")
	require.NoError(t, err)
	key := keyLine.FindStringSubmatch(out)[1]

	cfg, err := os.ReadFile(f.cfgPath)
	require.NoError(t, err)
	grpcAddr := regexp.MustCompile(`grpc_addr: "([^"]+)"`).FindSubmatch(cfg)[1]
	adminAddr := regexp.MustCompile(`admin_addr: "([^"]+)"`).FindSubmatch(cfg)[1]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, []string{"serve"}, f.getenv, io.Discard, &logs) }()

	admin := "http://" + string(adminAddr)
	require.Eventually(t, func() bool { return httpStatus(admin+"/readyz") == 200 }, 5*time.Second, 20*time.Millisecond, "ready")
	require.Equal(t, 200, httpStatus(admin+"/healthz"))

	conn, err := grpc.NewClient(string(grpcAddr), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()

	hc, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: "envoy.service.ext_proc.v3.ExternalProcessor"})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, hc.GetStatus())

	// ext_authz: the key is accepted and replaced by client headers.
	check, err := authv3.NewAuthorizationClient(conn).Check(t.Context(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/v2/predict",
			Headers: map[string]string{":method": "POST", ":path": "/v2/predict", header.APIKey: key, header.RequestID: "req-1"},
		}}}})
	require.NoError(t, err)
	require.Equal(t, int32(code.Code_OK), check.GetStatus().GetCode())
	added := map[string]string{}
	for _, h := range check.GetOkResponse().GetHeaders() {
		added[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	require.Equal(t, "acme", added[header.Client])

	// ext_proc with what ext_authz added, values in raw_value.
	kv := []string{header.Method, "POST", header.Path, "/v2/predict", header.ContentType, "application/json",
		header.RequestID, "req-1", header.Client, added[header.Client], header.Tier, added[header.Tier], header.KeyID, added[header.KeyID],
		header.ModelVersion, "canary"}
	resolve := func() *extprocv3.ProcessingResponse {
		s, err := extprocv3.NewExternalProcessorClient(conn).Process(t.Context())
		require.NoError(t, err)
		hm := &corev3.HeaderMap{}
		for i := 0; i < len(kv); i += 2 {
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
		}
		require.NoError(t, s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: hm}}}))
		_, err = s.Recv()
		require.NoError(t, err)
		require.NoError(t, s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{
			Body: []byte(`{"model":"iris","inputs":[{"a":1}]}`), EndOfStream: true}}}))
		resp, err := s.Recv()
		require.NoError(t, err)
		require.NoError(t, s.CloseSend())
		return resp
	}
	resp := resolve()
	require.Equal(t, 404, int(resp.GetImmediateResponse().GetStatus().GetCode()), "no canary alias yet")

	// The catalog changes on disk: the new alias is served without a restart.
	require.NoError(t, os.WriteFile(f.catalog+".tmp", []byte(strings.Replace(catalogV1, "stable: \"1\"", "stable: \"1\", canary: \"1\"", 1)), 0o600))
	require.NoError(t, os.Rename(f.catalog+".tmp", f.catalog))
	require.Eventually(t, func() bool {
		r := resolve()
		return r.GetRequestBody() != nil
	}, 5*time.Second, 50*time.Millisecond, "reloaded")

	// A broken catalog is rejected and the one in force stays.
	require.NoError(t, os.WriteFile(f.catalog, []byte("models: [broken"), 0o600))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "configuration reload rejected") }, 5*time.Second, 20*time.Millisecond)
	require.NotNil(t, resolve().GetRequestBody(), "the old catalog stays in force")

	metrics := httpBody(t, admin+"/metrics")
	for _, m := range []string{"modelgate_extproc_requests_total", "modelgate_extproc_request_duration_seconds_bucket", "modelgate_extproc_config_reloads_total", "modelgate_authz_checks_total"} {
		require.Contains(t, metrics, m)
	}
	require.Contains(t, logs.String(), `"msg":"usage"`)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "a clean shutdown")
	case <-time.After(5 * time.Second):
		t.Fatal("no shutdown")
	}
	require.Contains(t, logs.String(), "extproc stopped")
}

func httpStatus(url string) int {
	resp, err := http.Get(url) //nolint:gosec // test URL
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func httpBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec // test URL
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestRun_serveUnixSocket serves gRPC on a unix socket (how the local stack
// runs it): a socket file left by a killed process is replaced, a live one
// is not taken over, and the file is gone after shutdown.
func TestRun_serveUnixSocket(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, _, err := f.run(t, t.Context(), "keys", "create", "--file", f.keys, "--client", "acme", "--tier", "pro", "--models", "iris")
	require.NoError(t, err)
	sock := filepath.Join(f.dir, "x.sock")
	// What a SIGKILLed server leaves behind: a socket file nobody answers on.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	stale.SetUnlinkOnClose(false)
	require.NoError(t, stale.Close())
	f.env["EXTPROC_GRPC_ADDR"] = "unix:" + sock

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, []string{"serve"}, f.getenv, io.Discard, io.Discard) }()

	conn, err := grpc.NewClient("unix:"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	require.Eventually(t, func() bool {
		hc, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
		return err == nil && hc.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}, 5*time.Second, 20*time.Millisecond, "serving on the socket")

	// A second server on the same socket must not steal it.
	f2 := *f
	f2.env = map[string]string{"EXTPROC_CONFIG": f.cfgPath, "EXTPROC_GRPC_ADDR": "unix:" + sock, "EXTPROC_ADMIN_ADDR": freeAddr(t)}
	err = app.Run(t.Context(), []string{"serve"}, f2.getenv, io.Discard, io.Discard)
	require.ErrorContains(t, err, "in use")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "a clean shutdown")
	case <-time.After(5 * time.Second):
		t.Fatal("no shutdown")
	}
	_, err = os.Stat(sock)
	require.ErrorIs(t, err, os.ErrNotExist, "the socket file is removed on shutdown")
}
