// Package config holds the inference service settings: flags with
// INFERENCE_* environment overrides, defaulted and validated once.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Selection names one model version to serve.
type Selection struct {
	Model, Version string
}

// Config is the inference service configuration.
type Config struct {
	Addr            string
	Catalog         string
	Serve           []Selection // empty means every version in the catalog
	MaxBatchRows    int
	MaxBodyBytes    int64
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	Watch           bool
	CheckConfig     bool
	// UpstreamAllow are the private, loopback or other special-purpose
	// address ranges OpenAI-compatible upstreams may be reached at; empty
	// allows public addresses only.
	UpstreamAllow            []netip.Prefix
	UpstreamTimeout          time.Duration
	UpstreamMaxResponseBytes int64
}

// setting documents one flag and its environment variable; the README table
// is generated from the same list (see Settings).
type setting struct {
	flag, env, def, usage string
}

var settings = []setting{
	{"addr", "INFERENCE_ADDR", ":8000", "HTTP listen address"},
	{"catalog", "INFERENCE_CATALOG", "models/catalog.yaml", "model catalog file; versions live beside it in <name>/<version>/"},
	{"serve", "INFERENCE_SERVE", "*", "model versions to serve: * for all, or a comma list of model:version (aliases allowed, e.g. iris:latest)"},
	{"max-batch-rows", "INFERENCE_MAX_BATCH_ROWS", "1000", "most rows one request may carry"},
	{"max-body-bytes", "INFERENCE_MAX_BODY_BYTES", "1048576", "largest request body accepted (413 above)"},
	{"log-format", "INFERENCE_LOG_FORMAT", "json", "log format: json or text"},
	{"log-level", "INFERENCE_LOG_LEVEL", "info", "log level: debug, info, warn, error"},
	{"shutdown-timeout", "INFERENCE_SHUTDOWN_TIMEOUT", "15s", "how long in-flight requests may take to finish on shutdown"},
	{"drain-delay", "INFERENCE_DRAIN_DELAY", "0s", "time between failing readiness and closing the listener on shutdown, so load balancers stop sending"},
	{"watch", "INFERENCE_WATCH", "true", "reload the catalog when its files change (SIGHUP always reloads)"},
	{"upstream-allow", "INFERENCE_UPSTREAM_ALLOW", "", "comma list of address prefixes (e.g. 10.0.0.0/8,127.0.0.1) OpenAI-compatible upstreams may be reached at although private or loopback; empty allows public addresses only"},
	{"upstream-timeout", "INFERENCE_UPSTREAM_TIMEOUT", "5m", "longest one call to an upstream may take, stream included"},
	{"upstream-max-response-bytes", "INFERENCE_UPSTREAM_MAX_RESPONSE_BYTES", "16777216", "most bytes one upstream answer may hold"},
}

// Settings returns (flag, env, default, usage) rows for documentation.
func Settings() [][4]string {
	out := make([][4]string, len(settings))
	for i, s := range settings {
		out[i] = [4]string{s.flag, s.env, s.def, s.usage}
	}
	return out
}

// Load parses args (without the program name) over environment overrides
// over defaults; flags win over the environment. Every invalid value is
// reported at once.
func Load(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("inference", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := map[string]*string{}
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		vals[s.flag] = fs.String(s.flag, def, s.usage+" (env "+s.env+")")
	}
	check := fs.Bool("check-config", false, "validate the configuration and the catalog, then exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c := &Config{
		Addr:        *vals["addr"],
		Catalog:     *vals["catalog"],
		LogFormat:   *vals["log-format"],
		LogLevel:    *vals["log-level"],
		CheckConfig: *check,
	}
	var errs []error
	var err error
	if c.Serve, err = ParseServe(*vals["serve"]); err != nil {
		errs = append(errs, fmt.Errorf("serve: %w", err))
	}
	if c.MaxBatchRows, err = strconv.Atoi(*vals["max-batch-rows"]); err != nil || c.MaxBatchRows < 1 {
		errs = append(errs, fmt.Errorf("max-batch-rows: %q is not a positive integer", *vals["max-batch-rows"]))
	}
	if c.MaxBodyBytes, err = strconv.ParseInt(*vals["max-body-bytes"], 10, 64); err != nil || c.MaxBodyBytes < 1 {
		errs = append(errs, fmt.Errorf("max-body-bytes: %q is not a positive integer", *vals["max-body-bytes"]))
	}
	if c.ShutdownTimeout, err = time.ParseDuration(*vals["shutdown-timeout"]); err != nil || c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown-timeout: %q is not a duration", *vals["shutdown-timeout"]))
	}
	if c.DrainDelay, err = time.ParseDuration(*vals["drain-delay"]); err != nil || c.DrainDelay < 0 {
		errs = append(errs, fmt.Errorf("drain-delay: %q is not a duration", *vals["drain-delay"]))
	}
	if c.Watch, err = strconv.ParseBool(*vals["watch"]); err != nil {
		errs = append(errs, fmt.Errorf("watch: %q is not a boolean", *vals["watch"]))
	}
	if c.UpstreamAllow, err = ParsePrefixes(*vals["upstream-allow"]); err != nil {
		errs = append(errs, fmt.Errorf("upstream-allow: %w", err))
	}
	if c.UpstreamTimeout, err = time.ParseDuration(*vals["upstream-timeout"]); err != nil || c.UpstreamTimeout <= 0 {
		errs = append(errs, fmt.Errorf("upstream-timeout: %q is not a positive duration", *vals["upstream-timeout"]))
	}
	if c.UpstreamMaxResponseBytes, err = strconv.ParseInt(*vals["upstream-max-response-bytes"], 10, 64); err != nil || c.UpstreamMaxResponseBytes < 1 {
		errs = append(errs, fmt.Errorf("upstream-max-response-bytes: %q is not a positive integer", *vals["upstream-max-response-bytes"]))
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
	if c.Catalog == "" {
		errs = append(errs, errors.New("catalog: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
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
