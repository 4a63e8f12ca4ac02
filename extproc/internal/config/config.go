// Package config reads extproc's YAML configuration, applies EXTPROC_*
// environment overrides and validates the result, reporting every problem
// at once with its field path.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/extproc/internal/deprecation"
)

// DefaultPath is the configuration file used when neither --config nor
// EXTPROC_CONFIG names one.
const DefaultPath = "extproc/config.yaml"

// EnvConfig names the configuration file.
const EnvConfig = "EXTPROC_CONFIG"

// Config is the whole extproc configuration.
type Config struct {
	// GRPCAddr serves ext_authz, ext_proc and gRPC health: host:port, or
	// unix:/path for a unix domain socket (see [ListenAddr]).
	GRPCAddr string `yaml:"grpc_addr"`
	// AdminAddr serves /metrics, /healthz and /readyz.
	AdminAddr string `yaml:"admin_addr"`
	// Pprof adds Go's /debug/pprof/ profiles to the admin address, for
	// profiling under load. Off by default.
	Pprof bool `yaml:"pprof"`
	// Catalog is the model catalog file (reloaded on change).
	Catalog string `yaml:"catalog"`
	// OpenAPI is the OpenAPI document whose schemas validate bodies.
	OpenAPI string `yaml:"openapi"`
	// KeysFile is the API keys file (reloaded on change).
	KeysFile string `yaml:"keys_file"`
	// Deprecations lists deprecated routes (reloaded on change).
	Deprecations []deprecation.Rule `yaml:"deprecations"`
	Gateway      Gateway            `yaml:"gateway"`
	Cache        Cache              `yaml:"cache"`
	Limits       Limits             `yaml:"limits"`
	LLM          LLM                `yaml:"llm"`
	Log          Log                `yaml:"log"`
	Shutdown     Shutdown           `yaml:"shutdown"`
	Status       Status             `yaml:"status"`
	// Watch reloads the configuration and catalog when their files change
	// (SIGHUP always reloads).
	Watch bool `yaml:"watch"`
}

// Gateway modes: which Envoy filter chain the plugin serves.
const (
	// ModeExtProc: the plugin checks keys and counts quotas inside the
	// ext_proc stream (Envoy runs no ext_authz or ratelimit filter).
	ModeExtProc = "ext_proc"
	// ModeExtAuthz: Envoy's ext_authz filter asks the plugin's Check and
	// Envoy's ratelimit filters ask the ratelimit service; the ext_proc
	// stream trusts the identity headers ext_authz set.
	ModeExtAuthz = "ext_authz"
)

// Gateway says which checks the plugin makes itself; it must match the
// Envoy filter chain in front of it (envoy/README.md).
type Gateway struct {
	// Mode is ext_proc or ext_authz.
	Mode      string    `yaml:"mode"`
	RateLimit RateLimit `yaml:"ratelimit"`
}

// RateLimit locates the envoyproxy/ratelimit service the plugin asks in
// ext_proc mode.
type RateLimit struct {
	// Addr is host:port or unix:/path.
	Addr string `yaml:"addr"`
	// Timeout bounds one call; past it the request is served (fail open).
	Timeout time.Duration `yaml:"timeout"`
	// UnlimitedTTL is how long a descriptor set the service answered with
	// no limit at all (an unlimited tier) is answered so without a call;
	// nothing is counted for such a set. 0 asks every time.
	UnlimitedTTL time.Duration `yaml:"unlimited_ttl"`
}

// Cache configures the response cache.
type Cache struct {
	Enabled bool `yaml:"enabled"`
	// MaxBytes bounds the stored responses.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxEntryBytes is the largest response stored.
	MaxEntryBytes int64 `yaml:"max_entry_bytes"`
	// TTL is how long a response is served from the cache.
	TTL time.Duration `yaml:"ttl"`
	// ShareAcrossClients serves one client's cached answer to another.
	// Off by default: tenants are isolated.
	ShareAcrossClients bool `yaml:"share_across_clients"`
	// CoalesceWait bounds how long identical concurrent requests wait for
	// the first one's answer. Keep it below Envoy's ext_proc
	// message_timeout.
	CoalesceWait time.Duration `yaml:"coalesce_wait"`
}

// Limits bound what a request may carry.
type Limits struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	MaxRows      int   `yaml:"max_rows"`
}

// LLM tunes the text-generation routes.
type LLM struct {
	// MaxTokens caps the completion length per tier (tier name → tokens);
	// a request asking for more, or for nothing, is given the cap. Tiers
	// not listed are capped only by the model's max_output_tokens.
	MaxTokens map[string]int `yaml:"max_tokens"`
}

// Log configures logging.
type Log struct {
	// Format is json (containers) or text (local).
	Format string `yaml:"format"`
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
}

// Shutdown configures graceful shutdown.
type Shutdown struct {
	// DrainDelay is the pause between reporting NOT_SERVING and stopping,
	// so Envoy's health checks move traffic away first.
	DrainDelay time.Duration `yaml:"drain_delay"`
	// Timeout bounds the graceful stop; then connections are cut.
	Timeout time.Duration `yaml:"timeout"`
}

// Status configures the status page on the admin address (/status).
type Status struct {
	// PrometheusURL is the Prometheus the page queries (its recording
	// rules from ops/prometheus/rules); empty: the page says it has none.
	PrometheusURL string `yaml:"prometheus_url"`
}

// Default returns the built-in configuration.
func Default() *Config {
	return &Config{
		GRPCAddr:  ":9000",
		AdminAddr: ":9001",
		Catalog:   "models/catalog.yaml",
		OpenAPI:   "api/openapi.yaml",
		KeysFile:  "extproc/keys.yaml",
		Gateway: Gateway{
			Mode:      ModeExtProc,
			RateLimit: RateLimit{Addr: "127.0.0.1:8081", Timeout: 100 * time.Millisecond, UnlimitedTTL: time.Second},
		},
		Cache: Cache{
			Enabled:       true,
			MaxBytes:      64 << 20,
			MaxEntryBytes: 1 << 20,
			TTL:           300 * time.Second,
			CoalesceWait:  250 * time.Millisecond,
		},
		Limits:   Limits{MaxBodyBytes: 1 << 20, MaxRows: 1000},
		Log:      Log{Format: "text", Level: "info"},
		Shutdown: Shutdown{DrainDelay: 0, Timeout: 10 * time.Second},
		Watch:    true,
	}
}

// Load reads the file at path over the defaults, then applies the
// environment overrides. A missing file is an error. Every decoding problem
// is reported; call [Config.Validate] for the semantic checks.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	if err := Decode(c, b); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.applyEnv(getenv); err != nil {
		return c, err
	}
	return c, nil
}

// Decode reads YAML over c. Unknown keys are errors.
func Decode(c *Config, b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file (io.EOF) leaves the defaults.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse: %w", err)
	}
	return nil
}

// Setting documents one environment override.
type Setting struct {
	Env, Key, Default, Usage string
}

// Settings lists every environment variable, its YAML key and default.
func Settings() []Setting {
	d := Default()
	return []Setting{
		{EnvConfig, "(flag --config)", DefaultPath, "configuration file"},
		{"EXTPROC_GRPC_ADDR", "grpc_addr", d.GRPCAddr, "gRPC address: ext_authz, ext_proc, health; host:port or unix:/path"},
		{"EXTPROC_ADMIN_ADDR", "admin_addr", d.AdminAddr, "admin HTTP address: /metrics, /healthz, /readyz"},
		{"EXTPROC_PPROF", "pprof", strconv.FormatBool(d.Pprof), "serve /debug/pprof/ on the admin address"},
		{"EXTPROC_CATALOG", "catalog", d.Catalog, "model catalog file"},
		{"EXTPROC_OPENAPI", "openapi", d.OpenAPI, "OpenAPI document with the request schemas"},
		{"EXTPROC_KEYS_FILE", "keys_file", d.KeysFile, "API keys file (hashes only)"},
		{"EXTPROC_KEYS_PEPPER", "(env only)", "", "HMAC key for peppered key hashes"},
		{"EXTPROC_GATEWAY_MODE", "gateway.mode", d.Gateway.Mode, "ext_proc (keys and quotas checked in the ext_proc stream) or ext_authz (by Envoy's ext_authz and ratelimit filters)"},
		{"EXTPROC_RATELIMIT_ADDR", "gateway.ratelimit.addr", d.Gateway.RateLimit.Addr, "ratelimit service gRPC address in ext_proc mode; host:port or unix:/path"},
		{"EXTPROC_RATELIMIT_TIMEOUT", "gateway.ratelimit.timeout", d.Gateway.RateLimit.Timeout.String(), "bound of one quota call; past it the request is served (fail open)"},
		{"EXTPROC_RATELIMIT_UNLIMITED_TTL", "gateway.ratelimit.unlimited_ttl", d.Gateway.RateLimit.UnlimitedTTL.String(), "skip the quota call this long for a descriptor set answered without any limit; 0s asks every time"},
		{"EXTPROC_CACHE_ENABLED", "cache.enabled", strconv.FormatBool(d.Cache.Enabled), "response cache on/off"},
		{"EXTPROC_CACHE_MAX_BYTES", "cache.max_bytes", strconv.FormatInt(d.Cache.MaxBytes, 10), "cache size bound in bytes"},
		{"EXTPROC_CACHE_MAX_ENTRY_BYTES", "cache.max_entry_bytes", strconv.FormatInt(d.Cache.MaxEntryBytes, 10), "largest response stored"},
		{"EXTPROC_CACHE_TTL", "cache.ttl", d.Cache.TTL.String(), "cache entry lifetime"},
		{"EXTPROC_CACHE_SHARE_ACROSS_CLIENTS", "cache.share_across_clients", strconv.FormatBool(d.Cache.ShareAcrossClients), "share cached answers between clients"},
		{"EXTPROC_CACHE_COALESCE_WAIT", "cache.coalesce_wait", d.Cache.CoalesceWait.String(), "wait for an identical in-flight request (< Envoy message_timeout)"},
		{"EXTPROC_MAX_BODY_BYTES", "limits.max_body_bytes", strconv.FormatInt(d.Limits.MaxBodyBytes, 10), "largest request body"},
		{"EXTPROC_MAX_ROWS", "limits.max_rows", strconv.Itoa(d.Limits.MaxRows), "most rows per request"},
		{"EXTPROC_LOG_FORMAT", "log.format", d.Log.Format, "json or text"},
		{"EXTPROC_LOG_LEVEL", "log.level", d.Log.Level, "debug, info, warn or error"},
		{"EXTPROC_DRAIN_DELAY", "shutdown.drain_delay", d.Shutdown.DrainDelay.String(), "NOT_SERVING period before stopping"},
		{"EXTPROC_SHUTDOWN_TIMEOUT", "shutdown.timeout", d.Shutdown.Timeout.String(), "graceful stop bound"},
		{"EXTPROC_STATUS_PROMETHEUS_URL", "status.prometheus_url", d.Status.PrometheusURL, "Prometheus the admin /status page queries (empty: no numbers)"},
		{"EXTPROC_WATCH", "watch", strconv.FormatBool(d.Watch), "reload config and catalog on file change"},
	}
}

func (c *Config) applyEnv(getenv func(string) string) error {
	var errs []error
	str := func(env string, dst *string) {
		if v := getenv(env); v != "" {
			*dst = v
		}
	}
	i64 := func(env string, dst *int64) {
		if v := getenv(env); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not an integer", env, v))
				return
			}
			*dst = n
		}
	}
	dur := func(env string, dst *time.Duration) {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration (such as 300s)", env, v))
				return
			}
			*dst = d
		}
	}
	boolean := func(env string, dst *bool) {
		if v := getenv(env); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a boolean", env, v))
				return
			}
			*dst = b
		}
	}
	str("EXTPROC_GRPC_ADDR", &c.GRPCAddr)
	str("EXTPROC_ADMIN_ADDR", &c.AdminAddr)
	str("EXTPROC_STATUS_PROMETHEUS_URL", &c.Status.PrometheusURL)
	boolean("EXTPROC_PPROF", &c.Pprof)
	str("EXTPROC_CATALOG", &c.Catalog)
	str("EXTPROC_OPENAPI", &c.OpenAPI)
	str("EXTPROC_KEYS_FILE", &c.KeysFile)
	str("EXTPROC_GATEWAY_MODE", &c.Gateway.Mode)
	str("EXTPROC_RATELIMIT_ADDR", &c.Gateway.RateLimit.Addr)
	dur("EXTPROC_RATELIMIT_TIMEOUT", &c.Gateway.RateLimit.Timeout)
	dur("EXTPROC_RATELIMIT_UNLIMITED_TTL", &c.Gateway.RateLimit.UnlimitedTTL)
	boolean("EXTPROC_CACHE_ENABLED", &c.Cache.Enabled)
	i64("EXTPROC_CACHE_MAX_BYTES", &c.Cache.MaxBytes)
	i64("EXTPROC_CACHE_MAX_ENTRY_BYTES", &c.Cache.MaxEntryBytes)
	dur("EXTPROC_CACHE_TTL", &c.Cache.TTL)
	boolean("EXTPROC_CACHE_SHARE_ACROSS_CLIENTS", &c.Cache.ShareAcrossClients)
	dur("EXTPROC_CACHE_COALESCE_WAIT", &c.Cache.CoalesceWait)
	i64("EXTPROC_MAX_BODY_BYTES", &c.Limits.MaxBodyBytes)
	if v := getenv("EXTPROC_MAX_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("EXTPROC_MAX_ROWS: %q is not an integer", v))
		} else {
			c.Limits.MaxRows = n
		}
	}
	str("EXTPROC_LOG_FORMAT", &c.Log.Format)
	str("EXTPROC_LOG_LEVEL", &c.Log.Level)
	dur("EXTPROC_DRAIN_DELAY", &c.Shutdown.DrainDelay)
	dur("EXTPROC_SHUTDOWN_TIMEOUT", &c.Shutdown.Timeout)
	boolean("EXTPROC_WATCH", &c.Watch)
	return errors.Join(errs...)
}

// UnixPrefix marks a unix domain socket path in grpc_addr.
const UnixPrefix = "unix:"

// maxSocketPath is the longest unix socket path Linux accepts (sun_path is
// 108 bytes including the terminating NUL).
const maxSocketPath = 107

// ListenAddr returns the network and address to listen on for grpc_addr:
// ("unix", path) for unix:/path, ("tcp", addr) otherwise.
func ListenAddr(addr string) (network, address string) {
	if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
		return "unix", path
	}
	return "tcp", addr
}

// MaxBodyLimit is the largest body limit accepted; Envoy buffers the whole
// body in memory for ext_proc.
const MaxBodyLimit = 64 << 20

// Validate returns every problem of the configuration, each with its field
// path, joined. Files named by the configuration must exist; their contents
// are checked by whoever loads them (see the app's --check-config).
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	c.validateAddrs(add)
	c.validateFiles(add)
	c.validateGateway(add)
	if _, err := deprecation.New(c.Deprecations); err != nil {
		errs = append(errs, err)
	}
	c.validateCache(add)
	c.validateRest(add)
	return errors.Join(errs...)
}

// problemFunc records one configuration problem.
type problemFunc func(format string, a ...any)

func (c *Config) validateAddrs(add problemFunc) {
	if path, ok := strings.CutPrefix(c.GRPCAddr, UnixPrefix); ok {
		switch {
		case path == "":
			add("grpc_addr: %q names no socket path", c.GRPCAddr)
		case len(path) > maxSocketPath:
			add("grpc_addr: socket path is %d bytes, longer than the %d a unix socket allows", len(path), maxSocketPath)
		}
	} else if _, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
		add("grpc_addr: %q is neither host:port nor unix:/path", c.GRPCAddr)
	}
	if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
		add("admin_addr: %q is not host:port", c.AdminAddr)
	}
	if c.GRPCAddr == c.AdminAddr && c.GRPCAddr != "" && !strings.HasSuffix(c.GRPCAddr, ":0") {
		add("admin_addr: must differ from grpc_addr")
	}
	if u := c.Status.PrometheusURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			add("status.prometheus_url: %q is not an http(s) URL", u)
		}
	}
}

func (c *Config) validateFiles(add problemFunc) {
	for _, f := range []struct{ key, v string }{{"catalog", c.Catalog}, {"openapi", c.OpenAPI}, {"keys_file", c.KeysFile}} {
		if f.v == "" {
			add("%s: required", f.key)
			continue
		}
		if _, err := os.Stat(f.v); err != nil {
			add("%s: %v", f.key, err)
		}
	}
}

func (c *Config) validateGateway(add problemFunc) {
	switch c.Gateway.Mode {
	case ModeExtProc:
		if c.Gateway.RateLimit.Addr == "" {
			add("gateway.ratelimit.addr: required in %s mode (the plugin counts quotas itself)", ModeExtProc)
		}
		if t := c.Gateway.RateLimit.UnlimitedTTL; t < 0 || t > time.Minute {
			add("gateway.ratelimit.unlimited_ttl: must be between 0s and 1m, got %s", t)
		}
		if t := c.Gateway.RateLimit.Timeout; t <= 0 || t > 5*time.Second {
			add("gateway.ratelimit.timeout: must be between 0s and 5s (and below Envoy's ext_proc message_timeout), got %s", t)
		}
	case ModeExtAuthz:
	default:
		add("gateway.mode: %q is neither %s nor %s", c.Gateway.Mode, ModeExtProc, ModeExtAuthz)
	}
}

func (c *Config) validateCache(add problemFunc) {
	if !c.Cache.Enabled {
		return
	}
	if c.Cache.MaxBytes <= 0 {
		add("cache.max_bytes: must be positive, got %d", c.Cache.MaxBytes)
	}
	if c.Cache.MaxEntryBytes <= 0 || c.Cache.MaxEntryBytes > c.Cache.MaxBytes {
		add("cache.max_entry_bytes: must be positive and at most cache.max_bytes, got %d", c.Cache.MaxEntryBytes)
	}
	if c.Cache.TTL <= 0 {
		add("cache.ttl: must be positive, got %s", c.Cache.TTL)
	}
	if c.Cache.CoalesceWait < 0 || c.Cache.CoalesceWait > 10*time.Second {
		add("cache.coalesce_wait: must be between 0s and 10s (and below Envoy's message_timeout), got %s", c.Cache.CoalesceWait)
	}
}

// validateRest checks the limits, log and shutdown settings.
func (c *Config) validateRest(add problemFunc) {
	if c.Limits.MaxBodyBytes <= 0 || c.Limits.MaxBodyBytes > MaxBodyLimit {
		add("limits.max_body_bytes: must be between 1 and %d, got %d", MaxBodyLimit, c.Limits.MaxBodyBytes)
	}
	if c.Limits.MaxRows <= 0 {
		add("limits.max_rows: must be positive, got %d", c.Limits.MaxRows)
	}
	for _, tier := range slices.Sorted(maps.Keys(c.LLM.MaxTokens)) {
		if c.LLM.MaxTokens[tier] < 1 {
			add("llm.max_tokens.%s: must be positive, got %d", tier, c.LLM.MaxTokens[tier])
		}
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		add("log.format: %q is neither json nor text", c.Log.Format)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Shutdown.DrainDelay < 0 {
		add("shutdown.drain_delay: must not be negative, got %s", c.Shutdown.DrainDelay)
	}
	if c.Shutdown.Timeout <= 0 {
		add("shutdown.timeout: must be positive, got %s", c.Shutdown.Timeout)
	}
}
