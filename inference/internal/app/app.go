// Package app wires the inference service: configuration, the model
// registry, the HTTP server, metrics, catalog reloads and graceful shutdown.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/httpapi"
	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/inference/internal/llm/upstream"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/lifecycle"
	"github.com/modelgate/modelgate/internal/logging"
	"github.com/modelgate/modelgate/internal/tracing"
)

// BuildVersion is reported by GET /v2; the Makefile sets it with -ldflags.
var BuildVersion = "dev"

// Run starts the service and blocks until ctx is cancelled and shutdown has
// finished. ready, when not nil, receives the bound address once serving.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return run(ctx, args, getenv, stdout, stderr, nil)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, bound chan<- string) error {
	if len(args) > 0 && args[0] == "webhook-secret" {
		return secretCommand(args[1:], getenv, stdout, stderr)
	}
	cfg, err := config.Load(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log, err := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	opts := registryOptions(cfg, getenv)
	reg, err := registry.LoadWith(cfg.Catalog, cfg.Serve, opts)
	if err != nil {
		return fmt.Errorf("load models: %w", err)
	}
	if cfg.CheckConfig {
		_, _ = fmt.Fprintf(stdout, "configuration OK; would serve %v\n", reg.Served())
		return nil
	}

	tr, err := tracing.New(ctx, "modelgate-inference", getenv)
	if err != nil {
		return err
	}
	defer func() {
		if err := tr.Shutdown(context.Background()); err != nil {
			log.Warn("trace export shutdown", slog.String("error", err.Error()))
		}
	}()
	return serve(ctx, cfg, log, reg, opts, bound, tr)
}

// registryOptions lets the registry build generators for versions served
// by OpenAI-compatible upstreams: one shared client, SSRF-guarded, its keys
// read from this process's environment.
func registryOptions(cfg *config.Config, getenv func(string) string) registry.Options {
	client := upstream.NewClient(upstream.Config{
		AllowPrefixes: cfg.UpstreamAllow, Timeout: cfg.UpstreamTimeout,
		MaxResponseBytes: cfg.UpstreamMaxResponseBytes, Getenv: getenv,
	})
	return registry.Options{Upstream: func(m *catalog.Manifest) (llm.Generator, error) {
		g, err := client.Generator(m)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return g, nil
	}}
}

// newMetrics builds the OpenTelemetry meter the service records on and the
// Prometheus handler that serves it.
func newMetrics() (metric.Meter, http.Handler, func(), error) {
	promReg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(promReg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("metrics exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	stop := func() { _ = mp.Shutdown(context.Background()) }
	return mp.Meter("github.com/modelgate/modelgate/inference"), promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}), stop, nil
}

// serve answers HTTP until ctx ends, reloading the catalog on SIGHUP and
// (with --watch) on file changes, then shuts down gracefully.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, reg *registry.Registry, opts registry.Options, bound chan<- string, tr *tracing.Tracer) error {
	meter, metricsHandler, stopMetrics, err := newMetrics()
	if err != nil {
		return err
	}
	defer stopMetrics()
	var current atomic.Pointer[registry.Registry]
	current.Store(reg)
	var ready atomic.Bool
	jr, err := startJobs(cfg, log, meter, &current)
	if err != nil {
		return err
	}
	defer func() {
		if err := jr.stop(); err != nil {
			log.Warn("jobs: shutdown", slog.String("error", err.Error()))
		}
	}()
	hcfg := httpapi.Config{MaxBatchRows: cfg.MaxBatchRows, MaxBodyBytes: cfg.MaxBodyBytes, BuildVersion: BuildVersion}
	if jr != nil {
		hcfg.Jobs = jr.routes
	}
	srv, err := httpapi.New(hcfg, &current, &ready, log, meter, metricsHandler)
	if err != nil {
		return err
	}
	reloads, err := newReloader(cfg, opts, &current, log, meter)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	hs := &http.Server{
		// A span per request, child of Envoy's traceparent (off by default).
		Handler:           tracing.Middleware(tr, srv),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	src, err := reloads.newSource()
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer src.Stop()
	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	followErr := make(chan error, 1)
	go func() { followErr <- reloads.follow(followCtx, src) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	ready.Store(true)
	log.Info("inference serving", slog.String("addr", ln.Addr().String()), slog.Any("versions", reg.Served()),
		slog.String("catalog", cfg.Catalog))
	if bound != nil {
		bound <- ln.Addr().String()
	}
	var failed error
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case failed = <-followErr:
	case <-ctx.Done():
	}
	// Fail readiness first so load balancers stop sending, wait the drain
	// delay, then let in-flight requests finish.
	err = lifecycle.Shutdown(log, lifecycle.Config{DrainDelay: cfg.DrainDelay, Timeout: cfg.ShutdownTimeout},
		func() { ready.Store(false); stopFollow(); src.Stop() }, lifecycle.Named{Name: "http", Server: hs})
	err = errors.Join(failed, err)
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve: %w", serr))
	}
	return err
}
