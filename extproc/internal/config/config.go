// Package config reads extproc's YAML configuration, applies EXTPROC_*
// environment overrides and validates the result, reporting every problem
// at once with its field path. Each setting is one field of [Config]
// whose tags give its YAML key, its variable, its default and its meaning
// (see package [settings]); the README tables are generated from them.
// To add a setting, add a field.
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
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/extproc/internal/deprecation"
	"github.com/modelgate/modelgate/internal/settings"
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
	GRPCAddr string `yaml:"grpc_addr" env:"EXTPROC_GRPC_ADDR" default:":9000" usage:"gRPC address: ext_authz, ext_proc, health; host:port or unix:/path"`
	// AdminAddr serves /metrics, /healthz and /readyz.
	AdminAddr string `yaml:"admin_addr" env:"EXTPROC_ADMIN_ADDR" default:":9001" usage:"admin HTTP address: /metrics, /healthz, /readyz"`
	// Pprof adds Go's /debug/pprof/ profiles to the admin address, for
	// profiling under load. Off by default.
	Pprof bool `yaml:"pprof" env:"EXTPROC_PPROF" default:"false" usage:"serve /debug/pprof/ on the admin address"`
	// Catalog is the model catalog file (reloaded on change).
	Catalog string `yaml:"catalog" env:"EXTPROC_CATALOG" default:"models/catalog.yaml" usage:"model catalog file"`
	// OpenAPI is the OpenAPI document whose schemas validate bodies.
	OpenAPI string `yaml:"openapi" env:"EXTPROC_OPENAPI" default:"api/openapi.yaml" usage:"OpenAPI document with the request schemas"`
	// KeysFile is the API keys file (reloaded on change).
	KeysFile string `yaml:"keys_file" env:"EXTPROC_KEYS_FILE" default:"extproc/keys.yaml" usage:"API keys file (hashes only)"`
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
	Watch bool `yaml:"watch" env:"EXTPROC_WATCH" default:"true" usage:"reload config and catalog on file change"`
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
	Mode      string    `yaml:"mode" env:"EXTPROC_GATEWAY_MODE" default:"ext_proc" usage:"ext_proc (keys and quotas checked in the ext_proc stream) or ext_authz (by Envoy's ext_authz and ratelimit filters)"`
	RateLimit RateLimit `yaml:"ratelimit"`
}

// RateLimit locates the envoyproxy/ratelimit service the plugin asks in
// ext_proc mode.
type RateLimit struct {
	// Addr is host:port or unix:/path.
	Addr string `yaml:"addr" env:"EXTPROC_RATELIMIT_ADDR" default:"127.0.0.1:8081" usage:"ratelimit service gRPC address in ext_proc mode; host:port or unix:/path"`
	// Timeout bounds one call; past it the request is served (fail open).
	Timeout time.Duration `yaml:"timeout" env:"EXTPROC_RATELIMIT_TIMEOUT" default:"100ms" usage:"bound of one quota call; past it the request is served (fail open)"`
	// UnlimitedTTL is how long a descriptor set the service answered with
	// no limit at all (an unlimited tier) is answered so without a call;
	// nothing is counted for such a set. 0 asks every time.
	UnlimitedTTL time.Duration `yaml:"unlimited_ttl" env:"EXTPROC_RATELIMIT_UNLIMITED_TTL" default:"1s" usage:"skip the quota call this long for a descriptor set answered without any limit; 0s asks every time"`
}

// Cache configures the response cache.
type Cache struct {
	Enabled bool `yaml:"enabled" env:"EXTPROC_CACHE_ENABLED" default:"true" usage:"response cache on/off"`
	// MaxBytes bounds the stored responses.
	MaxBytes int64 `yaml:"max_bytes" env:"EXTPROC_CACHE_MAX_BYTES" default:"67108864" usage:"cache size bound in bytes"`
	// MaxEntryBytes is the largest response stored.
	MaxEntryBytes int64 `yaml:"max_entry_bytes" env:"EXTPROC_CACHE_MAX_ENTRY_BYTES" default:"1048576" usage:"largest response stored"`
	// TTL is how long a response is served from the cache.
	TTL time.Duration `yaml:"ttl" env:"EXTPROC_CACHE_TTL" default:"300s" usage:"cache entry lifetime"`
	// ShareAcrossClients serves one client's cached answer to another.
	// Off by default: tenants are isolated.
	ShareAcrossClients bool `yaml:"share_across_clients" env:"EXTPROC_CACHE_SHARE_ACROSS_CLIENTS" default:"false" usage:"share cached answers between clients"`
	// LeanFill answers a cache miss without the response-headers
	// message: the request-headers answer skips the response headers and
	// buffers the response body (BUFFERED_PARTIAL), the request-body answer
	// leaves x-cache, deprecation and x-ratelimit-* as dynamic metadata
	// the prediction routes add, and the status and headers the cache
	// needs come with the body as response_attributes. Both need the
	// bootstrap envoy/bootstrap renders; off, every miss sends its
	// response headers to the plugin as before.
	LeanFill bool `yaml:"lean_fill" env:"EXTPROC_CACHE_LEAN_FILL" default:"true" usage:"fill the cache from the response body alone: one ext_proc message fewer per miss (needs the rendered bootstrap's response_attributes and route headers)"`
	// CoalesceWait bounds how long identical concurrent requests wait for
	// the first one's answer. Keep it below Envoy's ext_proc
	// message_timeout.
	CoalesceWait time.Duration `yaml:"coalesce_wait" env:"EXTPROC_CACHE_COALESCE_WAIT" default:"250ms" usage:"wait for an identical in-flight request (< Envoy message_timeout)"`
}

// Limits bound what a request may carry.
type Limits struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes" env:"EXTPROC_MAX_BODY_BYTES" default:"1048576" usage:"largest request body"`
	MaxRows      int   `yaml:"max_rows" env:"EXTPROC_MAX_ROWS" default:"1000" usage:"most rows per request"`
	JobsMaxRows  int   `yaml:"jobs_max_rows" env:"EXTPROC_JOBS_MAX_ROWS" default:"100000" usage:"most rows per POST /v2/jobs request"`
	// JobsMaxBodyBytes must not exceed Envoy's request_body_buffer_limit
	// on the jobs-unresolved route (bootstrap.JobsMaxBodyBytes).
	JobsMaxBodyBytes int64 `yaml:"jobs_max_body_bytes" env:"EXTPROC_JOBS_MAX_BODY_BYTES" default:"16777216" usage:"largest POST /v2/jobs body"`
	// JobsMaxDocumentBytes bounds the heap one decoded job body may take
	// while it is validated (the prediction routes' bound is 9 MiB). The
	// default admits 100,000 rows of four features (7.6 MB of body, about
	// 35 MB decoded) with room to spare.
	JobsMaxDocumentBytes int `yaml:"jobs_max_document_bytes" env:"EXTPROC_JOBS_MAX_DOCUMENT_BYTES" default:"67108864" usage:"most heap one decoded POST /v2/jobs body may take"`
}

// LLM tunes the text-generation routes.
type LLM struct {
	// MaxTokens caps the completion length per tier (tier name → tokens);
	// a request asking for more, or for nothing, is given the cap. Tiers
	// not listed are capped only by the model's max_output_tokens.
	MaxTokens map[string]int `yaml:"max_tokens" usage:"most completion tokens a request of each tier may ask for (tier: tokens); unlisted tiers are capped by the model only"`
	// LeanStream watches a completion without its response-headers
	// message: the request-headers answer skips the response headers and
	// streams the body, the request-body answer leaves x-model-version,
	// deprecation and x-ratelimit-* as dynamic metadata the text-generation
	// routes add, and the status comes with the body as a response
	// attribute (as for cache.lean_fill, whose bootstrap it needs). The
	// first token reaches the client one ext_proc exchange sooner.
	LeanStream bool `yaml:"lean_stream" env:"EXTPROC_LLM_LEAN_STREAM" default:"true" usage:"watch completions from the response body alone: one ext_proc message fewer before the first token (needs the rendered bootstrap's response_attributes and route headers)"`
}

// Log configures logging.
type Log struct {
	// Format is json (containers) or text (local).
	Format string `yaml:"format" env:"EXTPROC_LOG_FORMAT" default:"text" usage:"json or text"`
	// Level is debug, info, warn or error.
	Level string `yaml:"level" env:"EXTPROC_LOG_LEVEL" default:"info" usage:"debug, info, warn or error"`
}

// Shutdown configures graceful shutdown.
type Shutdown struct {
	// DrainDelay is the pause between reporting NOT_SERVING and stopping,
	// so Envoy's health checks move traffic away first.
	DrainDelay time.Duration `yaml:"drain_delay" env:"EXTPROC_DRAIN_DELAY" default:"0s" usage:"NOT_SERVING period before stopping"`
	// Timeout bounds the graceful stop; then connections are cut.
	Timeout time.Duration `yaml:"timeout" env:"EXTPROC_SHUTDOWN_TIMEOUT" default:"10s" usage:"graceful stop bound"`
}

// Status configures the status page on the admin address (/status).
type Status struct {
	// PrometheusURL is the Prometheus the page queries (its recording
	// rules from ops/prometheus/rules); empty: the page says it has none.
	PrometheusURL string `yaml:"prometheus_url" env:"EXTPROC_STATUS_PROMETHEUS_URL" default:"" usage:"Prometheus the admin /status page queries (empty: no numbers)"`
}

// Default returns the built-in configuration: every setting at its
// default tag. The tags are code, not input; TestDefault checks that they
// parse, so a bad one panics here only in a build that fails its tests.
func Default() *Config {
	c := &Config{}
	if err := settings.Defaults(c); err != nil {
		panic(err)
	}
	return c
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
	if err := settings.FromEnv(c, getenv); err != nil {
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

// Settings lists every environment variable with its YAML key, default
// and meaning: the tagged fields of [Config], and the two variables read
// outside it (the file's path, and the key pepper, a secret that stays out
// of the configuration).
func Settings() []settings.Setting {
	list, err := settings.List(Default())
	if err != nil {
		panic(err) // as in Default
	}
	out := []settings.Setting{{Env: EnvConfig, Key: "(flag --config)", Default: DefaultPath, Usage: "configuration file"}}
	for _, s := range list {
		out = append(out, s)
		if s.Env == "EXTPROC_KEYS_FILE" {
			out = append(out, settings.Setting{Env: "EXTPROC_KEYS_PEPPER", Key: "-", Usage: "HMAC key for peppered key hashes; unset, keys are plain SHA-256 digests"})
		}
	}
	return out
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
	if c.Limits.JobsMaxBodyBytes <= 0 || c.Limits.JobsMaxBodyBytes > MaxBodyLimit {
		add("limits.jobs_max_body_bytes: must be between 1 and %d, got %d", MaxBodyLimit, c.Limits.JobsMaxBodyBytes)
	}
	if c.Limits.JobsMaxDocumentBytes < 1<<20 {
		add("limits.jobs_max_document_bytes: must be at least 1 MiB, got %d", c.Limits.JobsMaxDocumentBytes)
	}
	if c.Limits.JobsMaxRows <= 0 {
		add("limits.jobs_max_rows: must be positive, got %d", c.Limits.JobsMaxRows)
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
