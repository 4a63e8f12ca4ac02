package server_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/server"
)

// authzBenchCallers are the concurrency levels the issue asks for.
var authzBenchCallers = []int{1, 32}

// BenchmarkAuthzCheck measures the ext_authz Check against its floor, a bare
// unary round trip of grpc.health.v1.Health/Check on the same server and
// connection (loopback TCP, as Envoy reaches extproc).
//
//	floor/callers=N  the health round trip alone
//	check/callers=N  Check with a valid x-api-key
//	ratio/callers=N  both, interleaved in each operation, reporting each
//	                 one's ns/op, p50 and p99, and check/floor; the goal is
//	                 a ratio of at most 1.5
//	check-lean, ratio-lean
//	                 the same with the CheckRequest Envoy sends when
//	                 allowed_headers names only x-api-key, authorization
//	                 and x-request-id
func BenchmarkAuthzCheck(b *testing.B) {
	path := filepath.Join(b.TempDir(), "keys.yaml")
	key := authzCreateKey(b, path, "--client", "acme", "--tier", "pro", "--models", "iris,diabetes")
	// Other keys in the file, so the lookup is not trivially the only one.
	for range 100 {
		authzCreateKey(b, path, "--client", "other", "--tier", "free", "--models", "*")
	}
	store, err := authz.Open(path, authz.Options{})
	require.NoError(b, err)

	conn := authzBenchDialTCP(b, func(s *grpc.Server) {
		hs := health.NewServer()
		hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(s, hs)
		authv3.RegisterAuthorizationServer(s, server.NewAuthz(store, nil, nil))
	})
	hc := healthpb.NewHealthClient(conn)
	ac := authv3.NewAuthorizationClient(conn)
	hreq := &healthpb.HealthCheckRequest{}
	areq := authzRequest(map[string]string{header.APIKey: key})

	floor := func(ctx context.Context) error {
		_, err := hc.Check(ctx, hreq)
		return err
	}
	check := func(ctx context.Context) error {
		resp, err := ac.Check(ctx, areq)
		if err == nil && resp.GetOkResponse() == nil {
			err = fmt.Errorf("check denied a valid key: %v", resp)
		}
		return err
	}
	// With ext_authz allowed_headers limited to the key headers and the
	// request id, Envoy sends a much smaller CheckRequest; most of a
	// Check's cost is protobuf encoding of the header map.
	leanReq := authzRequest(nil)
	leanReq.Attributes.Request.Http.Headers = map[string]string{
		header.APIKey:    key,
		header.RequestID: authzRequestID,
	}
	checkLean := func(ctx context.Context) error {
		resp, err := ac.Check(ctx, leanReq)
		if err == nil && resp.GetOkResponse() == nil {
			err = fmt.Errorf("check denied a valid key: %v", resp)
		}
		return err
	}
	// Warm the connection up.
	require.NoError(b, floor(b.Context()))
	require.NoError(b, check(b.Context()))

	for _, callers := range authzBenchCallers {
		b.Run(fmt.Sprintf("floor/callers=%d", callers), func(b *testing.B) { authzBenchRun(b, callers, floor) })
		b.Run(fmt.Sprintf("check/callers=%d", callers), func(b *testing.B) { authzBenchRun(b, callers, check) })
		b.Run(fmt.Sprintf("ratio/callers=%d", callers), func(b *testing.B) { authzBenchRatio(b, callers, floor, check) })
		b.Run(fmt.Sprintf("check-lean/callers=%d", callers), func(b *testing.B) { authzBenchRun(b, callers, checkLean) })
		b.Run(fmt.Sprintf("ratio-lean/callers=%d", callers), func(b *testing.B) { authzBenchRatio(b, callers, floor, checkLean) })
	}
}

// authzBenchDialTCP serves on a loopback TCP port and dials it.
func authzBenchDialTCP(b *testing.B, register func(*grpc.Server)) *grpc.ClientConn {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := grpc.NewServer()
	register(srv)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(b, err)
	b.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
	})
	return conn
}

// authzBenchParallelism returns the b.SetParallelism factor that gives
// about callers goroutines (RunParallel starts factor × GOMAXPROCS).
func authzBenchParallelism(callers int) int {
	procs := runtime.GOMAXPROCS(0)
	return max(1, (callers+procs-1)/procs)
}

// authzBenchRun calls op b.N times from callers goroutines.
func authzBenchRun(b *testing.B, callers int, op func(context.Context) error) {
	ctx := b.Context()
	b.ReportAllocs()
	if callers == 1 {
		for b.Loop() {
			if err := op(ctx); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(authzBenchParallelism(callers))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// authzBenchRatio runs floor and check alternately in every operation and
// reports each one's mean, p50 and p99 latency and the ratio of the means.
// Interleaving exposes both to the same machine noise.
func authzBenchRatio(b *testing.B, callers int, floor, check func(context.Context) error) {
	ctx := b.Context()
	var (
		mu                 sync.Mutex
		floorLat, checkLat []time.Duration
	)
	worker := func(next func() bool) {
		var fl, cl []time.Duration
		for next() {
			t0 := time.Now()
			if err := floor(ctx); err != nil {
				b.Error(err)
				return
			}
			t1 := time.Now()
			if err := check(ctx); err != nil {
				b.Error(err)
				return
			}
			fl = append(fl, t1.Sub(t0))
			cl = append(cl, time.Since(t1))
		}
		mu.Lock()
		floorLat = append(floorLat, fl...)
		checkLat = append(checkLat, cl...)
		mu.Unlock()
	}
	if callers == 1 {
		worker(b.Loop)
	} else {
		b.SetParallelism(authzBenchParallelism(callers))
		b.RunParallel(func(pb *testing.PB) { worker(pb.Next) })
	}
	if len(floorLat) == 0 {
		return
	}
	fm, cm := authzBenchMean(floorLat), authzBenchMean(checkLat)
	b.ReportMetric(fm, "floor-ns/op")
	b.ReportMetric(cm, "check-ns/op")
	b.ReportMetric(cm/fm, "check/floor")
	// The ratio of medians resists the scheduling noise of a busy
	// machine better than the ratio of means.
	b.ReportMetric(authzBenchPercentile(checkLat, 0.50)/authzBenchPercentile(floorLat, 0.50), "check/floor-p50")
	b.ReportMetric(authzBenchPercentile(floorLat, 0.50), "floor-p50-ns")
	b.ReportMetric(authzBenchPercentile(floorLat, 0.99), "floor-p99-ns")
	b.ReportMetric(authzBenchPercentile(checkLat, 0.50), "check-p50-ns")
	b.ReportMetric(authzBenchPercentile(checkLat, 0.99), "check-p99-ns")
}

func authzBenchMean(d []time.Duration) float64 {
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	return float64(sum) / float64(len(d))
}

func authzBenchPercentile(d []time.Duration, q float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(q*float64(len(s))))])
}

// BenchmarkAuthzHandler calls Check directly, without gRPC, to show the
// handler's own share of the round trip.
func BenchmarkAuthzHandler(b *testing.B) {
	path := filepath.Join(b.TempDir(), "keys.yaml")
	key := authzCreateKey(b, path, "--client", "acme", "--tier", "pro", "--models", "iris")
	store, err := authz.Open(path, authz.Options{})
	require.NoError(b, err)
	a := server.NewAuthz(store, nil, nil)
	ctx := b.Context()
	// The same id with a different secret: found by id, refused by hash.
	forged := key[:len(key)-1] + "a"
	if forged == key {
		forged = key[:len(key)-1] + "b"
	}
	for _, tc := range []struct {
		name string
		req  *authv3.CheckRequest
	}{
		{name: "allowed", req: authzRequest(map[string]string{header.APIKey: key})},
		{name: "unknown", req: authzRequest(map[string]string{header.APIKey: forged})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Check(ctx, tc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
