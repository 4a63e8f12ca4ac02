package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"defaults are valid", nil, nil},
		{"unix sockets and host:port", []string{"--xds-addr", "unix:/tmp/x.sock", "--extproc", "127.0.0.1:9000"}, nil},
		{"reports every bad endpoint", []string{"--listen", "nope", "--extproc", "unix:", "--inference-base-port", "0"},
			[]string{"-listen:", "-extproc: unix: needs a path", "-inference-base-port: 0 is not a port"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			for _, w := range tc.wantErr {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

const catalogOne = `default_model: iris
models:
  iris: {versions: ["1"]}
`

const catalogTwo = `default_model: iris
models:
  iris: {versions: ["1", "2", "3"], aliases: {latest: "1", stable: {"1": 90, "2": 10}}, shadow: {version: "3", percent: 5}}
`

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func write(t *testing.T, path, y string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path+".tmp", []byte(y), 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
}

// TestRun drives the control plane as Envoy does: one ADS stream asking
// for clusters, acknowledging each response. A catalog edit arrives as a
// new version; a broken catalog changes nothing and is counted.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	cat := filepath.Join(dir, "catalog.yaml")
	write(t, cat, catalogOne)
	sock := filepath.Join(dir, "xds.sock")
	admin := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	stderr := &syncBuffer{}
	go func() {
		done <- Run(ctx, []string{"--xds-addr", "unix:" + sock, "--catalog", cat, "--admin-addr", admin, "--log-format", "text"}, io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	var conn *grpc.ClientConn
	require.Eventually(t, func() bool {
		_, err := os.Stat(sock)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	conn, err := grpc.NewClient("unix:"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(t.Context())
	require.NoError(t, err)
	node := &corev3.Node{Id: "test", Cluster: bootstrap.NodeCluster}
	require.NoError(t, stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.ClusterType}))

	recv := func() (string, []string) {
		resp, err := stream.Recv()
		require.NoError(t, err)
		var names []string
		for _, a := range resp.GetResources() {
			var c clusterv3.Cluster
			require.NoError(t, a.UnmarshalTo(&c))
			names = append(names, c.GetName())
		}
		require.NoError(t, stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.ClusterType,
			VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}))
		return resp.GetVersionInfo(), names
	}
	v1, names := recv()
	require.Contains(t, names, "inference_iris_1")
	require.NotContains(t, names, "inference_iris_2")

	write(t, cat, "models: [broken")
	write(t, cat, catalogTwo)
	v2, names := recv()
	require.NotEqual(t, v1, v2)
	require.Contains(t, names, "inference_iris_2", "the new version's cluster is pushed")

	write(t, cat, "models: [broken")
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "the last good snapshot stays") }, 5*time.Second, 20*time.Millisecond)
	resp, err := http.Get("http://" + admin + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(b), `modelgate_controlplane_publish_total{result="error"}`)
	h, err := http.Get("http://" + admin + "/healthz")
	require.NoError(t, err)
	defer h.Body.Close()
	hb, _ := io.ReadAll(h.Body)
	require.Contains(t, string(hb), fmt.Sprintf("%q", v2), "the good snapshot stays in force")
}

// syncBuffer is a buffer the control plane's logger writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
