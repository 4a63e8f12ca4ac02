package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/modelgate/modelgate/extproc/internal/config"
	"github.com/modelgate/modelgate/extproc/internal/status"
	"github.com/modelgate/modelgate/internal/lifecycle"
	"github.com/modelgate/modelgate/internal/logging"
	"github.com/modelgate/modelgate/internal/tracing"
)

// meterName is the instrumentation scope of extproc's metrics.
const meterName = "github.com/modelgate/modelgate/extproc"

// serve runs the servers until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, path string, cfg *config.Config, getenv func(string) string, stderr io.Writer) error {
	// One usage line per request: written in batches, off the request
	// path (flushed every 200 ms and on exit; nothing is dropped).
	logs := logging.NewBuffered(stderr, 64<<10, 200*time.Millisecond)
	defer func() { _ = logs.Close() }()
	logger, err := logging.New(logs, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}

	// Metrics go to a registry of our own (no globals), exported by the
	// admin port.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return fmt.Errorf("metrics exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() {
		if err := mp.Shutdown(context.Background()); err != nil {
			logger.Error("metrics shutdown", slog.String("error", err.Error()))
		}
	}()

	// Traces of the Check and Process calls, children of Envoy's spans
	// (off unless OTEL_EXPORTER_OTLP_ENDPOINT is set).
	tr, err := tracing.New(ctx, "modelgate-extproc", getenv)
	if err != nil {
		return err
	}
	defer func() {
		if err := tr.Shutdown(context.Background()); err != nil {
			logger.Error("trace export shutdown", slog.String("error", err.Error()))
		}
	}()

	var closers closeStack
	defer closers.run()
	svc, err := wire(path, cfg, getenv, logger, mp.Meter(meterName), &closers)
	if err != nil {
		return err
	}
	svc.grpcOptions = tracing.GRPCServerOptions(tr)
	return run(ctx, cfg, logger, reg, svc)
}

// streamWorkers is the size of the gRPC server's stream goroutine pool;
// streams beyond it get a goroutine of their own, as without a pool.
const streamWorkers = 256

// run serves gRPC and the admin port, follows the configuration and the
// keys file, and shuts down when ctx is done.
func run(ctx context.Context, cfg *config.Config, logger *slog.Logger, reg *prometheus.Registry, svc *services) error {
	hs := health.NewServer()
	gs := grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(maxRecvMsgSize(cfg)),
		// A pool of long-lived stream goroutines instead of one new
		// goroutine per ext_proc stream (one per HTTP request): their
		// stacks have already grown, so requests do not pay for stack
		// copying. A stream holds its worker for the whole request, so
		// the pool covers the concurrent requests of a busy replica.
		grpc.NumStreamWorkers(streamWorkers)}, svc.grpcOptions...)...)
	authv3.RegisterAuthorizationServer(gs, svc.authz)
	extprocv3.RegisterExternalProcessorServer(gs, svc.extproc)
	healthpb.RegisterHealthServer(gs, hs)
	for _, name := range []string{"", authv3.Authorization_ServiceDesc.ServiceName, extprocv3.ExternalProcessor_ServiceDesc.ServiceName} {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}

	var ready atomic.Bool
	mux := adminMux(reg, &ready, cfg.Pprof)
	// The SLA at a glance, from the Prometheus that scrapes this stack.
	mux.Handle("GET /status", status.New(status.Config{PrometheusURL: cfg.Status.PrometheusURL, Logger: logger}))
	admin := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	var lc net.ListenConfig
	glis, err := listenGRPC(ctx, cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("grpc_addr: %w", err)
	}
	alis, err := lc.Listen(ctx, "tcp", cfg.AdminAddr)
	if err != nil {
		_ = glis.Close()
		return fmt.Errorf("admin_addr: %w", err)
	}
	logger.Info("extproc serving",
		slog.String("grpc_addr", glis.Addr().String()), slog.String("admin_addr", alis.Addr().String()),
		slog.String("gateway_mode", cfg.Gateway.Mode), slog.Bool("cache", cfg.Cache.Enabled), slog.Int("models", len(svc.live.Catalog().Models)))
	ready.Store(true)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := gs.Serve(glis); err != nil {
			return fmt.Errorf("grpc server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := admin.Serve(alis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("admin server: %w", err)
		}
		return nil
	})
	g.Go(func() error { return svc.keys.Watch(gctx) })
	g.Go(func() error { return svc.live.follow(gctx, svc.updates) })
	g.Go(func() error {
		<-gctx.Done()
		shutdown(logger, cfg.Shutdown, hs, &ready, gs, admin)
		return nil
	})
	return g.Wait()
}

// listenGRPC listens on host:port, or on a unix socket for unix:/path. A
// socket file left behind by a process that was killed is replaced; one that
// something still answers on is not (the listen fails).
func listenGRPC(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	network, address := config.ListenAddr(addr)
	if network == "unix" {
		if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			d := net.Dialer{Timeout: time.Second}
			if c, err := d.DialContext(ctx, "unix", address); err == nil {
				_ = c.Close()
				return nil, fmt.Errorf("%s: in use by another process", address)
			}
			if err := os.Remove(address); err != nil {
				return nil, fmt.Errorf("remove stale socket: %w", err)
			}
		}
	}
	// A unix listener removes its socket file when closed.
	return lc.Listen(ctx, network, address)
}

// grpcTarget turns host:port or unix:/path into a gRPC dial target.
func grpcTarget(addr string) string {
	if network, path := config.ListenAddr(addr); network == "unix" {
		return "unix://" + path
	}
	return "passthrough:///" + addr
}

// shutdown stops the servers the way every service does (package
// lifecycle): not ready and NOT_SERVING first, the drain delay, then a
// graceful stop of gRPC and of the admin port within the timeout, each
// closed when it overruns; every failure is logged.
func shutdown(logger *slog.Logger, cfg config.Shutdown, hs *health.Server, ready *atomic.Bool, gs *grpc.Server, admin *http.Server) {
	notReady := func() {
		ready.Store(false)
		hs.Shutdown()
	}
	_ = lifecycle.Shutdown(logger, lifecycle.Config{DrainDelay: cfg.DrainDelay, Timeout: cfg.Timeout}, notReady,
		lifecycle.Named{Name: "grpc", Server: lifecycle.Funcs{Graceful: gs.GracefulStop, Hard: gs.Stop}},
		lifecycle.Named{Name: "admin", Server: admin})
	logger.Info("extproc stopped")
}

// maxRecvMsgSize lets whole buffered bodies through: a request body up to
// the limit, or a response body being stored, plus room for headers.
// grpc-go's 4 MiB default would turn larger bodies into Envoy 500s.
func maxRecvMsgSize(cfg *config.Config) int {
	n := max(cfg.Limits.MaxBodyBytes, cfg.Cache.MaxEntryBytes, cfg.Limits.JobsMaxBodyBytes)
	return int(2*n) + 4<<20
}

func adminMux(reg *prometheus.Registry, ready *atomic.Bool, profiles bool) *http.ServeMux {
	mux := http.NewServeMux()
	if profiles {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	return mux
}
