// Package app wires the control plane: flags → addresses → a snapshot
// publisher fed by a catalog file source → the ADS gRPC server (and an
// optional admin HTTP server with /healthz and /metrics).
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
	"os"
	"strconv"
	"strings"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/modelgate/modelgate/controlplane/internal/xds"
	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/configsource"
	"github.com/modelgate/modelgate/internal/lifecycle"
	"github.com/modelgate/modelgate/internal/logging"
)

// Config is the control plane's configuration, from flags.
type Config struct {
	// XDSAddr is where the ADS server listens: host:port or unix:path.
	XDSAddr string
	// AdminAddr serves /healthz and /metrics; empty turns it off.
	AdminAddr string
	// Catalog is the model catalog file; it is watched.
	Catalog string
	Watch   bool
	// Compose renders the compose network's addresses instead of the
	// local ones below.
	Compose bool
	// Listen, Extproc, RateLimit are endpoints (host:port or unix:path).
	Listen, Extproc, RateLimit string
	// InferenceBase is the local port of the first catalog target; target
	// i listens on InferenceBase+i (bootstrap.Ports.Inference).
	InferenceBase int
	AccessLog     string
	// Tracing is an OTLP/HTTP collector host:port, or empty.
	Tracing string
	// ExtAuthz renders the classic chain (bootstrap.Options.ExtAuthz).
	ExtAuthz             bool
	LogFormat, LogLevel  string
	CheckConfig          bool
	ShutdownTimeout      time.Duration
	SingleRateLimitStage bool
}

// ErrInvalidConfig is returned when flags or the catalog are invalid; the
// problems have been written to stderr.
var ErrInvalidConfig = errors.New("invalid configuration")

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.XDSAddr, "xds-addr", "127.0.0.1:18000", "ADS gRPC listen address (host:port or unix:path)")
	fs.StringVar(&c.AdminAddr, "admin-addr", "", "admin HTTP address for /healthz and /metrics (empty: off)")
	fs.StringVar(&c.Catalog, "catalog", "models/catalog.yaml", "model catalog file")
	fs.BoolVar(&c.Watch, "watch", true, "watch the catalog and publish a new snapshot on change (SIGHUP always reloads)")
	fs.BoolVar(&c.Compose, "compose", false, "serve the compose network's addresses (services by name)")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "Envoy's client listener")
	fs.StringVar(&c.Extproc, "extproc", "unix:.run/"+bootstrap.ExtprocSocket, "extproc gRPC endpoint")
	fs.StringVar(&c.RateLimit, "ratelimit", "unix:.run/"+bootstrap.RateLimitSocket, "ratelimit gRPC endpoint")
	fs.IntVar(&c.InferenceBase, "inference-base-port", bootstrap.DefaultPorts().InferenceBase, "port of the first catalog version; version i is on base+i")
	fs.StringVar(&c.AccessLog, "access-log", "/dev/stdout", "Envoy's access log path")
	fs.StringVar(&c.Tracing, "otlp", "", "OTLP/HTTP collector host:port for Envoy's traces (empty: off)")
	fs.BoolVar(&c.ExtAuthz, "ext-authz", false, "render the classic ext_authz + ratelimit filter chain")
	fs.BoolVar(&c.SingleRateLimitStage, "single-ratelimit-stage", false, "drop ratelimit stage 1 (measurement variant)")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.CheckConfig, "check-config", false, "load the catalog, build and check the snapshot, and exit")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", time.Second, "graceful stop bound (ADS streams never end by themselves)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	for name, v := range map[string]string{"listen": c.Listen, "extproc": c.Extproc, "ratelimit": c.RateLimit, "xds-addr": c.XDSAddr} {
		if _, err := ParseEndpoint(v); err != nil {
			errs = append(errs, fmt.Errorf("-%s: %w", name, err))
		}
	}
	if c.InferenceBase <= 0 || c.InferenceBase > 65535 {
		errs = append(errs, fmt.Errorf("-inference-base-port: %d is not a port", c.InferenceBase))
	}
	return c, errors.Join(errs...)
}

// ParseEndpoint reads host:port or unix:path.
func ParseEndpoint(s string) (bootstrap.Endpoint, error) {
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if p == "" {
			return bootstrap.Endpoint{}, errors.New("unix: needs a path")
		}
		return bootstrap.Unix(p), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return bootstrap.Endpoint{}, err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return bootstrap.Endpoint{}, fmt.Errorf("%q: bad port", s)
	}
	return bootstrap.Endpoint{Host: host, Port: n}, nil
}

// addresses are where Envoy reaches everything for catalog c.
func (c Config) addresses(cat *catalog.Catalog) bootstrap.Addresses {
	if c.Compose {
		return bootstrap.Compose(cat)
	}
	ep := func(s string) bootstrap.Endpoint { e, _ := ParseEndpoint(s); return e }
	a := bootstrap.Addresses{
		Listen: ep(c.Listen), Extproc: ep(c.Extproc), RateLimit: ep(c.RateLimit),
		Inference: map[string]bootstrap.Endpoint{}, AccessLog: c.AccessLog,
		// Rendered, never served: admin is the bootstrap's, not xDS's.
		Admin: bootstrap.Endpoint{Host: "127.0.0.1", Port: bootstrap.DefaultPorts().EnvoyAdmin},
	}
	for _, t := range bootstrap.Targets(cat) {
		a.Inference[t.Serve()] = bootstrap.Endpoint{Host: "127.0.0.1", Port: c.InferenceBase + t.Index}
	}
	if c.Tracing != "" {
		t := ep(c.Tracing)
		a.Tracing = &t
	}
	return a
}

func (c Config) build(cat *catalog.Catalog) (*bootstrap.Resources, error) {
	return bootstrap.BuildResources(cat, c.addresses(cat),
		bootstrap.Options{ExtAuthz: c.ExtAuthz, SingleRateLimitStage: c.SingleRateLimitStage})
}

// Run runs the control plane until ctx ends.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ErrInvalidConfig
	}
	logger, err := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ErrInvalidConfig
	}
	load := func() (*catalog.Catalog, error) { return catalog.Load(cfg.Catalog) }
	if cfg.CheckConfig {
		return checkConfig(cfg, load, stdout, stderr)
	}

	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	sc := cache.NewSnapshotCache(true, xds.NodeHash{}, cacheLogger(logger))
	pub, err := xds.NewPublisher(xds.PublisherConfig{Cache: sc, Node: bootstrap.NodeCluster, Build: cfg.build, Record: m, Logger: logger})
	if err != nil {
		return err
	}
	// The first catalog must be good: there is no last good snapshot yet.
	if _, err := pub.Publish(ctx, load); err != nil {
		return err
	}
	m.version.Set(1)
	src, err := configsource.NewFile(configsource.FileConfig[*catalog.Catalog]{
		Paths: []string{cfg.Catalog}, Watch: cfg.Watch, Load: load, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer src.Stop()

	lis, err := listen(cfg.XDSAddr)
	if err != nil {
		return err
	}
	gs := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, serverv3.NewServer(ctx, sc, nil))
	admin := adminServer(cfg.AdminAddr, reg, pub)
	logger.Info("control plane serving", "xds_addr", cfg.XDSAddr, "catalog", cfg.Catalog, "version", pub.Version())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return gs.Serve(lis) })
	if admin != nil {
		g.Go(func() error {
			if err := admin.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		return configsource.Follow(gctx, src, func(ctx context.Context, u configsource.Update[*catalog.Catalog]) {
			if _, err := pub.Publish(ctx, u.Load); err == nil {
				m.version.Inc()
			}
		})
	})
	g.Go(func() error {
		<-gctx.Done()
		servers := []lifecycle.Named{{Name: "xds", Server: lifecycle.Funcs{Graceful: gs.GracefulStop, Hard: gs.Stop}}}
		if admin != nil {
			servers = append(servers, lifecycle.Named{Name: "admin", Server: admin})
		}
		return lifecycle.Shutdown(logger, lifecycle.Config{Timeout: cfg.ShutdownTimeout}, nil, servers...)
	})
	return g.Wait()
}

// checkConfig is --check-config: the catalog loads, renders and makes a
// consistent snapshot, or every problem is reported.
func checkConfig(cfg Config, load func() (*catalog.Catalog, error), stdout, stderr io.Writer) error {
	c, err := load()
	if err == nil {
		var r *bootstrap.Resources
		if r, err = cfg.build(c); err == nil {
			_, err = xds.Snapshot(r)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ErrInvalidConfig
	}
	fmt.Fprintln(stdout, "configuration OK")
	return nil
}

// adminServer serves /healthz (with the snapshot version in force) and
// /metrics; nil without an address.
func adminServer(addr string, reg *prometheus.Registry, pub *xds.Publisher) *http.Server {
	if addr == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "{\"status\":\"ok\",\"version\":%q}\n", pub.Version())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}

// listen opens host:port, or a unix socket (replacing a stale one).
func listen(addr string) (net.Listener, error) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(p)
		}
		return net.Listen("unix", p)
	}
	return net.Listen("tcp", addr)
}

// cacheLogger sends go-control-plane's cache log to slog at debug level
// (it logs every watch), warnings and errors as such.
func cacheLogger(l *slog.Logger) log.Logger {
	f := func(level slog.Level) func(string, ...any) {
		return func(format string, args ...any) {
			l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "xds_cache")
		}
	}
	return log.LoggerFuncs{DebugFunc: f(slog.LevelDebug), InfoFunc: f(slog.LevelDebug), WarnFunc: f(slog.LevelWarn), ErrorFunc: f(slog.LevelError)}
}
