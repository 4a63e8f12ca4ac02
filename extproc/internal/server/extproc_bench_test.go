package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"
)

// echoProcessor is the floor: an ExternalProcessor that answers every
// message with an empty response of the matching type and does nothing
// else.
type echoProcessor struct {
	extprocv3.UnimplementedExternalProcessorServer
}

func (echoProcessor) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := s.Recv()
		if err != nil {
			return nil
		}
		var resp *extprocv3.ProcessingResponse
		switch req.GetRequest().(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}}
		case *extprocv3.ProcessingRequest_RequestBody:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
		default:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
		}
		if err := s.Send(resp); err != nil {
			return nil
		}
	}
}

// unaryEcho is the unary floor: gRPC health Check does no work.
type unaryEcho struct {
	healthpb.UnimplementedHealthServer
}

func (unaryEcho) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func benchConn(b *testing.B, register func(*grpc.Server)) *grpc.ClientConn {
	b.Helper()
	lis := bufconn.Listen(4 << 20)
	srv := grpc.NewServer()
	register(srv)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
	})
	return conn
}

// exchange runs one stream: each message, then its answer, as Envoy does
// in non-duplex modes; then the half-close and the server's end.
func exchange(ctx context.Context, c extprocv3.ExternalProcessorClient, msgs []*extprocv3.ProcessingRequest) error {
	s, err := c.Process(ctx)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := s.Send(m); err != nil {
			return err
		}
		resp, err := s.Recv()
		if err != nil {
			return err
		}
		if resp.GetImmediateResponse() != nil {
			break
		}
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	if _, err := s.Recv(); err != io.EOF {
		return fmt.Errorf("want EOF, got %v", err)
	}
	return nil
}

// floors holds the ns/op of the floor benchmarks per concurrency, so the
// later benchmarks of the same run can report their ratio.
var floors sync.Map // "stream/32" → float64

// run measures op at the given number of concurrent streams and reports
// p50/p99 latency, throughput and (if floorKey is known) the ratio to the
// floor.
func run(b *testing.B, conc int, name, floorKey string, op func(ctx context.Context, i int64) error) {
	b.Helper()
	b.ReportAllocs()
	lat := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	var next atomic.Int64
	ctx := b.Context()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			local := make([]time.Duration, 0, b.N/conc+1)
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					break
				}
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					b.Error(err)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	nsPerOp := float64(elapsed.Nanoseconds()) / float64(b.N)
	key := fmt.Sprintf("%s/%d", name, conc)
	floors.Store(key, nsPerOp)
	if floorKey != "" {
		if f, ok := floors.Load(fmt.Sprintf("%s/%d", floorKey, conc)); ok {
			b.ReportMetric(nsPerOp/f.(float64), "x-floor")
		}
	}
}

var concurrency = []int{1, 32}

// BenchmarkExtProc measures, in one run: the floor (a bare unary round
// trip, a bare 4-message stream against an echo processor), then extproc's
// full cache-miss POST stream (request headers, body, response headers,
// response body: validation, routing, cache fill) and a cache-hit stream
// (request headers, body → ImmediateResponse). Goal: miss ≤ 2× the bare
// stream; hit cheaper than miss.
func BenchmarkExtProc(b *testing.B) {
	unary := healthpb.NewHealthClient(benchConn(b, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, unaryEcho{}) }))
	echo := extprocv3.NewExternalProcessorClient(benchConn(b, func(s *grpc.Server) { extprocv3.RegisterExternalProcessorServer(s, echoProcessor{}) }))
	e := newEnv(b)
	e.usage.ch = nil

	bare := []*extprocv3.ProcessingRequest{
		post("/v2/predict", "req"), requestBody(v2Body, true), upstreamOK(v2Response, "2"), responseBody(v2Response, true),
	}
	// A miss needs inputs never seen before; a hit always sends the same.
	missMsgs := func(i int64) []*extprocv3.ProcessingRequest {
		body := fmt.Sprintf(`{"model":"iris","inputs":[{"sepal_length":%d,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`, i)
		return []*extprocv3.ProcessingRequest{
			post("/v2/predict", "req"), requestBody(body, true), upstreamOK(v2Response, "2"), responseBody(v2Response, true),
		}
	}
	hitMsgs := []*extprocv3.ProcessingRequest{post("/v2/predict", "req-hit"), requestBody(v2Body, true)}
	ctx := context.Background()
	if err := exchange(ctx, e.client, bare); err != nil { // fill the entry the hit reads
		b.Fatal(err)
	}
	epoch := int64(0)

	for _, conc := range concurrency {
		b.Run(fmt.Sprintf("floor_unary/streams=%d", conc), func(b *testing.B) {
			run(b, conc, "unary", "", func(ctx context.Context, _ int64) error {
				_, err := unary.Check(ctx, &healthpb.HealthCheckRequest{})
				return err
			})
		})
		b.Run(fmt.Sprintf("floor_stream4/streams=%d", conc), func(b *testing.B) {
			run(b, conc, "stream", "", func(ctx context.Context, _ int64) error {
				return exchange(ctx, echo, bare)
			})
		})
		b.Run(fmt.Sprintf("miss/streams=%d", conc), func(b *testing.B) {
			epoch += 1 << 40 // inputs unique across b.N rounds
			base := epoch
			run(b, conc, "miss", "stream", func(ctx context.Context, i int64) error {
				return exchange(ctx, e.client, missMsgs(base+i))
			})
		})
		b.Run(fmt.Sprintf("hit/streams=%d", conc), func(b *testing.B) {
			run(b, conc, "hit", "stream", func(ctx context.Context, _ int64) error {
				return exchange(ctx, e.client, hitMsgs)
			})
		})
	}
}
