// Package config holds the inference service settings: one typed struct
// whose tags give each setting's flag, INFERENCE_* environment variable,
// default and meaning; defaulted, overridden and validated once.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/settings"
)

// Selection names one model version to serve.
type Selection struct {
	Model, Version string
}

// Config is the inference service configuration. Each setting is one
// field; its tags name its flag, its INFERENCE_* variable, its default and
// its meaning (see package [settings]), and the README table is generated
// from them (TestSettings_documented). To add a setting, add a field.
type Config struct {
	Addr    string `flag:"addr" env:"INFERENCE_ADDR" default:":8000" usage:"HTTP listen address"`
	Catalog string `flag:"catalog" env:"INFERENCE_CATALOG" default:"models/catalog.yaml" usage:"model catalog file; versions live beside it in folders model/version/"`
	// ServeSpec is the text of the serve setting; Serve is what it means.
	ServeSpec       string        `flag:"serve" env:"INFERENCE_SERVE" default:"*" usage:"model versions to serve: * for all, or a comma list of model:version (aliases allowed, e.g. iris:latest); production runs one process per version"`
	MaxBatchRows    int           `flag:"max-batch-rows" env:"INFERENCE_MAX_BATCH_ROWS" default:"1000" usage:"most rows one request may carry"`
	MaxBodyBytes    int64         `flag:"max-body-bytes" env:"INFERENCE_MAX_BODY_BYTES" default:"1048576" usage:"largest request body accepted (413 above)"`
	LogFormat       string        `flag:"log-format" env:"INFERENCE_LOG_FORMAT" default:"json" usage:"log format: json or text"`
	LogLevel        string        `flag:"log-level" env:"INFERENCE_LOG_LEVEL" default:"info" usage:"log level: debug, info, warn, error"`
	ShutdownTimeout time.Duration `flag:"shutdown-timeout" env:"INFERENCE_SHUTDOWN_TIMEOUT" default:"15s" usage:"how long in-flight requests may take to finish on shutdown"`
	DrainDelay      time.Duration `flag:"drain-delay" env:"INFERENCE_DRAIN_DELAY" default:"0s" usage:"time between failing readiness and closing the listener on shutdown, so load balancers stop sending"`
	Watch           bool          `flag:"watch" env:"INFERENCE_WATCH" default:"true" usage:"reload the catalog when its files change (SIGHUP always reloads)"`
	CheckConfig     bool          `flag:"check-config" usage:"validate the configuration and the catalog, print what would be served, then exit"`
	// UpstreamAllowSpec is the text of the upstream-allow setting;
	// UpstreamAllow is what it means.
	UpstreamAllowSpec        string        `flag:"upstream-allow" env:"INFERENCE_UPSTREAM_ALLOW" usage:"comma list of address prefixes (e.g. 10.0.0.0/8,127.0.0.1) OpenAI-compatible upstreams may be reached at although private or loopback; empty allows public addresses only"`
	UpstreamTimeout          time.Duration `flag:"upstream-timeout" env:"INFERENCE_UPSTREAM_TIMEOUT" default:"5m" usage:"longest one call to an upstream may take, stream included"`
	UpstreamMaxResponseBytes int64         `flag:"upstream-max-response-bytes" env:"INFERENCE_UPSTREAM_MAX_RESPONSE_BYTES" default:"16777216" usage:"most bytes one upstream answer may hold"`

	JobsRedis        string        `flag:"jobs-redis" env:"INFERENCE_JOBS_REDIS" usage:"the jobs Redis (its own, AOF on, noeviction): a unix socket path or host:port; empty disables /v2/jobs"`
	JobsMaxRows      int           `flag:"jobs-max-rows" env:"INFERENCE_JOBS_MAX_ROWS" default:"100000" usage:"most rows one job may carry"`
	JobsMaxBodyBytes int64         `flag:"jobs-max-body-bytes" env:"INFERENCE_JOBS_MAX_BODY_BYTES" default:"67108864" usage:"largest job body accepted (413 above)"`
	JobsTTL          time.Duration `flag:"jobs-ttl" env:"INFERENCE_JOBS_TTL" default:"24h" usage:"how long a finished job and its result are kept, and how long a job may wait in the queue"`
	JobsMaxActive    int           `flag:"jobs-max-active" env:"INFERENCE_JOBS_MAX_ACTIVE" default:"100" usage:"most queued and running jobs one client may have (429 above); 0 for no limit"`
	JobsHeartbeat    time.Duration `flag:"jobs-heartbeat" env:"INFERENCE_JOBS_HEARTBEAT" default:"5s" usage:"how often a worker renews its claim on a running job; a job unclaimed for three heartbeats is taken over"`
	WebhookSecrets   string        `flag:"webhook-secrets" env:"INFERENCE_WEBHOOK_SECRETS" default:"inference/webhook-secrets.yaml" usage:"the webhook signing secrets file (see inference webhook-secret)"`
	// WebhookAllowSpec is the text of the webhook-allow setting;
	// WebhookAllow is what it means.
	WebhookAllowSpec string `flag:"webhook-allow" env:"INFERENCE_WEBHOOK_ALLOW" usage:"comma list of address prefixes webhook receivers may be at although private or loopback; empty allows public addresses only"`
	WebhookAllowHTTP bool   `flag:"webhook-allow-http" env:"INFERENCE_WEBHOOK_ALLOW_HTTP" default:"false" usage:"deliver webhooks to plain http URLs too (local runs and tests); https only otherwise"`

	// Serve is ServeSpec parsed; empty means every version in the catalog.
	Serve []Selection
	// UpstreamAllow are the private, loopback or other special-purpose
	// address ranges OpenAI-compatible upstreams may be reached at; empty
	// allows public addresses only.
	UpstreamAllow []netip.Prefix
	// WebhookAllow are the special-purpose address ranges webhook
	// receivers may be at.
	WebhookAllow []netip.Prefix
}

// Settings lists the settings with their defaults, for documentation.
func Settings() ([]settings.Setting, error) {
	c := &Config{}
	if err := settings.Defaults(c); err != nil {
		return nil, err
	}
	return settings.List(c)
}

// Load parses args (without the program name) over environment overrides
// over defaults; flags win over the environment. Every invalid value is
// reported at once.
func Load(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	if err := settings.Defaults(c); err != nil {
		return nil, err
	}
	envErr := settings.FromEnv(c, getenv)
	fs := flag.NewFlagSet("inference", flag.ContinueOnError)
	fs.SetOutput(stderr)
	applyFlags, err := settings.Flags(fs, c)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	errs := []error{envErr, applyFlags()}
	if c.Serve, err = ParseServe(c.ServeSpec); err != nil {
		errs = append(errs, fmt.Errorf("serve: %w", err))
	}
	if c.UpstreamAllow, err = ParsePrefixes(c.UpstreamAllowSpec); err != nil {
		errs = append(errs, fmt.Errorf("upstream-allow: %w", err))
	}
	if c.WebhookAllow, err = ParsePrefixes(c.WebhookAllowSpec); err != nil {
		errs = append(errs, fmt.Errorf("webhook-allow: %w", err))
	}
	errs = append(errs, c.validate()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// validate returns the problems of values that parsed, each named by its
// flag.
func (c *Config) validate() []error {
	var errs []error
	if c.MaxBatchRows < 1 {
		errs = append(errs, fmt.Errorf("max-batch-rows: %d is not a positive integer", c.MaxBatchRows))
	}
	if c.MaxBodyBytes < 1 {
		errs = append(errs, fmt.Errorf("max-body-bytes: %d is not a positive integer", c.MaxBodyBytes))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown-timeout: %s is negative", c.ShutdownTimeout))
	}
	if c.DrainDelay < 0 {
		errs = append(errs, fmt.Errorf("drain-delay: %s is negative", c.DrainDelay))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("log-format: %q is neither json nor text", c.LogFormat))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: required"))
	}
	if c.UpstreamTimeout <= 0 {
		errs = append(errs, fmt.Errorf("upstream-timeout: %s is not a positive duration", c.UpstreamTimeout))
	}
	if c.UpstreamMaxResponseBytes < 1 {
		errs = append(errs, fmt.Errorf("upstream-max-response-bytes: %d is not a positive integer", c.UpstreamMaxResponseBytes))
	}
	if c.Catalog == "" {
		errs = append(errs, errors.New("catalog: required"))
	}
	if c.JobsMaxRows < 1 || c.JobsMaxBodyBytes < 1 {
		errs = append(errs, errors.New("jobs-max-rows, jobs-max-body-bytes: want positive integers"))
	}
	if c.JobsTTL <= 0 || c.JobsHeartbeat <= 0 {
		errs = append(errs, errors.New("jobs-ttl, jobs-heartbeat: want positive durations"))
	}
	return errs
}

// ParseServe parses "*" or "model:version,model:version".
func ParseServe(s string) ([]Selection, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "*" {
		return nil, nil
	}
	var out []Selection
	var errs []error
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		model, version, ok := strings.Cut(part, ":")
		if !ok || model == "" || version == "" {
			errs = append(errs, fmt.Errorf("%q: want model:version", part))
			continue
		}
		out = append(out, Selection{Model: model, Version: version})
	}
	return out, errors.Join(errs...)
}

// ParsePrefixes reads a comma list of address prefixes; a bare address is
// a /32 or /128.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is neither a prefix nor an address", part))
			continue
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, errors.Join(errs...)
}
