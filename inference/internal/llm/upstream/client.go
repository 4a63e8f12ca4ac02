// Package upstream generates text with an OpenAI-compatible server (vLLM,
// llama.cpp, TGI, another modelgate, …) behind the [llm.Generator]
// interface, so a catalog version served by an upstream is driven exactly
// like the built-in model. It lives apart from package llm because it
// speaks HTTP, which the domain packages never do.
//
// Outbound calls go through an SSRF-safe dialer: private, loopback,
// link-local and other special-purpose addresses are refused unless the
// operator allows their prefixes, whatever a hostname resolves to, and
// redirects and environment proxies are never followed.
package upstream

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"code.dny.dev/ssrf"

	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/internal/catalog"
)

// Config tunes the outbound calls of every upstream generator.
type Config struct {
	// AllowPrefixes are the address ranges calls may reach although they
	// are private, loopback or otherwise special-purpose. Empty (the
	// default) allows public addresses only.
	AllowPrefixes []netip.Prefix
	// Timeout bounds one call, from the request to the stream's last byte.
	Timeout time.Duration
	// MaxResponseBytes bounds what one call may read.
	MaxResponseBytes int64
	// Getenv reads the process environment, where upstream API keys are.
	Getenv func(string) string
}

// Defaults for a zero Config.
const (
	DefaultTimeout          = 5 * time.Minute
	DefaultMaxResponseBytes = 16 << 20
)

// Client holds the HTTP client the upstream generators of one process
// share.
type Client struct {
	cfg Config
	hc  *http.Client
}

// NewClient builds the shared client.
func NewClient(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	var v4, v6 []netip.Prefix
	for _, p := range cfg.AllowPrefixes {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	guard := ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
	// The guard runs on the address actually dialled, after DNS, so a
	// name that resolves to an internal address is refused too.
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: guard.Safe}
	tr := &http.Transport{
		// No Proxy: a proxy would dial the destination on our behalf,
		// out of the guard's sight.
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &Client{cfg: cfg, hc: &http.Client{
		Transport: tr,
		// A redirect could point anywhere; the upstream's answer is final.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Generator returns the generator of a version whose manifest names an
// upstream. The API key is read from the environment now, so a missing
// one fails the load rather than every request.
func (c *Client) Generator(m *catalog.Manifest) (*Generator, error) {
	if m.Upstream == nil || m.Generation == nil {
		return nil, errors.New("the manifest names no upstream or no generation settings")
	}
	u := m.Upstream
	g := &Generator{c: c, base: strings.TrimRight(u.BaseURL, "/"), model: u.Model, gen: *m.Generation}
	if u.APIKeyEnv != "" {
		getenv := c.cfg.Getenv
		if getenv == nil {
			return nil, fmt.Errorf("api_key_env %s: no environment to read it from", u.APIKeyEnv)
		}
		if g.key = getenv(u.APIKeyEnv); g.key == "" {
			return nil, fmt.Errorf("api_key_env %s: not set", u.APIKeyEnv)
		}
	}
	return g, nil
}

var _ llm.Generator = (*Generator)(nil)
