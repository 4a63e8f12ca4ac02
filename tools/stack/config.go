package stack

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

// Config describes one stack.
type Config struct {
	// Root is the repository root; relative paths below are under it.
	Root string
	// RunDir holds logs, pid files, the rendered Envoy config, the Redis
	// socket, the extproc and ratelimit gRPC sockets and the keys file. Keep
	// it short: unix socket paths must fit in 107 bytes.
	RunDir string
	Ports  bootstrap.Ports
	Bin    Binaries
	// Catalog is the model catalog (default models/catalog.yaml).
	Catalog string
	// RateLimitRoot and RateLimitSubdir locate the ratelimit config: the
	// service watches RateLimitRoot/RateLimitSubdir/config/ and reloads
	// on every change. Defaults: Root and "ratelimit-config".
	RateLimitRoot, RateLimitSubdir string
	// ExtprocConfig is the plugin's config file (default extproc/config.yaml
	// if it exists).
	ExtprocConfig string
	// KeysFile is the API keys file the plugin reads (default RunDir/keys.yaml).
	KeysFile string
	// Envoy options (bench variants).
	Options bootstrap.Options
	// XDS runs the control plane and bootstraps Envoy over ADS (xds.go).
	XDS bool
	// GRPCOverTCP puts extproc's and ratelimit's gRPC on loopback TCP ports
	// instead of unix sockets in RunDir (the default, and faster). It exists
	// so the bench can compare the two.
	GRPCOverTCP bool
	// EnvoyConcurrency is Envoy's --concurrency, its worker thread count
	// (default 2).
	EnvoyConcurrency int
	// GoMaxProcs is each Go service's GOMAXPROCS, by process kind:
	// Extproc, RateLimit, or Inference for the tabular inference processes; a
	// kind left out, or 0, keeps Go's default (the cores it may use). The
	// default ([DefaultGoMaxProcs]) gives every tabular inference process
	// one P (a text-generation one keeps Go's default),
	// and extproc and ratelimit one too on a machine of two cores or
	// fewer: there, shared by Envoy's workers and all the other processes,
	// a process with fewer Ps spends less CPU per request (fewer idle Ps
	// spinning and waking) — measured in envoy/README.md, "Latency and CPU".
	GoMaxProcs map[string]int
	// ExtprocEnv are extra NAME=value settings for extproc (EXTPROC_*),
	// after the stack's own, so they win.
	ExtprocEnv []string
	// PrometheusAddr, when set (127.0.0.1:9090), starts Prometheus there,
	// scraping every process with the rules of ops/prometheus/rules, and
	// points extproc's status page at it.
	PrometheusAddr string
	// PrometheusInterval is its scrape and rule evaluation interval
	// (default 5s: a local stack shows numbers within seconds).
	PrometheusInterval string
	// OTLPEndpoint, when set (host:port of an OTLP/HTTP receiver), turns
	// tracing on: Envoy, extproc and every inference process send their
	// spans there, linked by W3C traceparent.
	OTLPEndpoint string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// StartTimeout bounds the wait for every process to be healthy.
	StartTimeout time.Duration
}

func (c *Config) defaults() error {
	if c.Root == "" {
		return errors.New("stack: Root is required")
	}
	if c.RunDir == "" {
		c.RunDir = filepath.Join(c.Root, ".run")
	}
	if c.Ports == (bootstrap.Ports{}) {
		c.Ports = bootstrap.DefaultPorts()
	}
	if c.Catalog == "" {
		c.Catalog = filepath.Join(c.Root, "models", "catalog.yaml")
	}
	if c.RateLimitRoot == "" {
		c.RateLimitRoot = c.Root
		c.RateLimitSubdir = "ratelimit-config"
	}
	if c.ExtprocConfig == "" {
		if p := filepath.Join(c.Root, "extproc", "config.yaml"); exists(p) {
			c.ExtprocConfig = p
		}
	}
	if c.KeysFile == "" {
		c.KeysFile = filepath.Join(c.RunDir, "keys.yaml")
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 60 * time.Second
	}
	if c.PrometheusInterval == "" {
		c.PrometheusInterval = "5s"
	}
	if c.EnvoyConcurrency == 0 {
		c.EnvoyConcurrency = 2
	}
	if c.GoMaxProcs == nil {
		c.GoMaxProcs = DefaultGoMaxProcs(runtime.NumCPU())
	}
	for kind, n := range c.GoMaxProcs {
		if kind != Extproc && kind != RateLimit && kind != Inference {
			return fmt.Errorf("stack: GoMaxProcs %q: want %s, %s or %s", kind, Extproc, RateLimit, Inference)
		}
		if n < 0 {
			return fmt.Errorf("stack: GoMaxProcs %s=%d: want at least 0", kind, n)
		}
	}
	if c.EnvoyConcurrency < 0 {
		return fmt.Errorf("stack: EnvoyConcurrency %d: want at least 1", c.EnvoyConcurrency)
	}
	return nil
}

// DefaultGoMaxProcs is [Config.GoMaxProcs] when none is given, on a
// machine of cores CPUs.
func DefaultGoMaxProcs(cores int) map[string]int {
	if cores <= 2 {
		return map[string]int{Inference: 1, Extproc: 1, RateLimit: 1}
	}
	return map[string]int{Inference: 1}
}

// goMaxProcs is the GOMAXPROCS environment entry of a process kind, none
// when Go's default applies.
func (c *Config) goMaxProcs(kind string) []string {
	if n := c.GoMaxProcs[kind]; n > 0 {
		return []string{"GOMAXPROCS=" + strconv.Itoa(n)}
	}
	return nil
}
