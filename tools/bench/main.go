// Command bench measures what modelgate's filters cost, through real Envoy
// on loopback (`make bench`). It starts the stack three times, one scenario
// each, with the same processes and ports:
//
//	floor      Envoy routes straight to inference: no plugin, no quotas
//	miss       the full modelgate chain, every request a cache miss
//	hit        the full chain, every request a cache hit
//	miss-1rl   the full chain with ratelimit stage 1 removed (one ratelimit
//	           call per request instead of two), to price the second call
//
// and prints p50/p95/p99 and requests/s at a fixed concurrency, and the
// latency added over the floor.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/tools/loadgen"
	"github.com/modelgate/modelgate/tools/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type scenario struct {
	name string
	opts bootstrap.Options
	// hit repeats one body (cache hits); otherwise every body differs.
	hit bool
}

func run(ctx context.Context) error {
	n := flag.Int("n", 5000, "measured requests per scenario")
	conc := flag.Int("c", 16, "concurrency")
	outDir := flag.String("out", "", "prebuilt binaries; empty builds extproc, inference and ratelimit into a temp dir")
	base := flag.Int("port-base", 18000, "first of the ports the bench stack uses")
	grpcTCP := flag.Bool("grpc-tcp", false, "Envoy reaches extproc and ratelimit over loopback TCP instead of unix sockets")
	flag.Parse()

	root, err := stack.RepoRoot(".")
	if err != nil {
		return err
	}
	runDir, err := os.MkdirTemp("", "mg-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	if *outDir == "" {
		*outDir = filepath.Join(runDir, "bin")
		fmt.Fprintln(os.Stderr, "== building extproc, inference and ratelimit")
		if err := stack.Build(ctx, root, *outDir); err != nil {
			return err
		}
	} else if !filepath.IsAbs(*outDir) {
		*outDir = filepath.Join(root, *outDir)
	}
	bins, err := stack.LookupBinaries(root, *outDir)
	if err != nil {
		return err
	}
	keys := filepath.Join(runDir, "keys.yaml")
	key, err := stack.CreateKey(ctx, bins.Extproc, keys, "bench", "internal", "*", "--env", "test")
	if err != nil {
		return err
	}
	ports := bootstrap.Ports{
		Envoy: *base, EnvoyAdmin: *base + 1, ExtprocGRPC: *base + 2, ExtprocAdmin: *base + 3,
		RateLimitGRPC: *base + 4, RateLimitHTTP: *base + 5, RateLimitDebug: *base + 6, RateLimitMetrics: *base + 7, InferenceBase: *base + 10,
	}

	scenarios := []scenario{
		{name: "floor", opts: bootstrap.Options{NoFilters: true}},
		{name: "miss"},
		{name: "hit", hit: true},
		{name: "miss-authz", opts: bootstrap.Options{ExtAuthz: true}},
		{name: "hit-authz", hit: true, opts: bootstrap.Options{ExtAuthz: true}},
	}
	results := map[string]*loadgen.Result{}
	client := loadgen.NewClient(*conc)
	for _, sc := range scenarios {
		fmt.Fprintf(os.Stderr, "== %s: starting stack\n", sc.name)
		s, err := stack.Start(ctx, stack.Config{
			Root: root, RunDir: runDir, Ports: ports, Bin: bins, KeysFile: keys, Options: sc.opts,
			GRPCOverTCP: *grpcTCP,
		})
		if err != nil {
			return err
		}
		url := s.URL() + "/v2/predict"
		req := func(i int) (*http.Request, error) {
			v := 5.1
			if !sc.hit {
				v += float64(i) * 1e-6 // a new cache key every request
			}
			body := []byte(`{"model":"iris","inputs":[{"sepal_length":` + strconv.FormatFloat(v, 'f', -1, 64) +
				`,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`)
			r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			r.Header.Set("content-type", "application/json")
			if sc.opts.NoFilters {
				// No plugin to resolve the model: name it as the plugin would.
				r.Header.Set("x-model", "iris")
				r.Header.Set("x-model-version", "2")
			} else {
				r.Header.Set("x-api-key", key.Secret)
			}
			return r, nil
		}
		fmt.Fprintf(os.Stderr, "== %s: %d requests at concurrency %d\n", sc.name, *n, *conc)
		res, err := loadgen.Run(ctx, client, loadgen.Config{Requests: *n, Concurrency: *conc, Warmup: 500}, req)
		client.CloseIdleConnections()
		s.Stop()
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "   %s\n", res)
		if res.Errors > 0 || res.Status[200] != res.Requests {
			return fmt.Errorf("%s: not every answer was 200: %s (first error %v, bodies %v)", sc.name, res, res.FirstError, res.Bodies)
		}
		results[sc.name] = res
		time.Sleep(500 * time.Millisecond)
	}

	floor := results["floor"]
	transport := "unix sockets"
	if *grpcTCP {
		transport = "loopback TCP"
	}
	fmt.Printf("\nmodelgate bench: POST /v2/predict (iris v2, 1 row), %d requests per scenario, concurrency %d, gRPC to extproc and ratelimit over %s, %s\n\n", *n, *conc, transport, time.Now().Format(time.DateOnly))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tp50 ms\tp95 ms\tp99 ms\treq/s\tadded p50 ms\tadded p95 ms\t")
	for _, sc := range scenarios {
		r := results[sc.name]
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.0f\t%+.3f\t%+.3f\t\n", sc.name,
			msf(r.Percentile(50)), msf(r.Percentile(95)), msf(r.Percentile(99)), r.RPS(),
			msf(r.Percentile(50))-msf(floor.Percentile(50)), msf(r.Percentile(95))-msf(floor.Percentile(95)))
	}
	return tw.Flush()
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
