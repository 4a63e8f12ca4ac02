// Package modelgate is the Go client of the modelgate gateway: predictions,
// the Open Inference Protocol, OpenAI-compatible chat completions (whole or
// streamed), asynchronous jobs and webhook verification. It speaks the wire
// types of the api/ packages and retries as the Python and TypeScript SDKs
// do.
package modelgate

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/api/problem"
)

// Version is the SDK version sent in User-Agent.
const Version = "0.1.0"

// Defaults of [Config].
const (
	DefaultBaseURL       = "http://localhost:8080"
	DefaultTimeout       = 60 * time.Second
	DefaultMaxRetries    = 2
	DefaultMaxRetryDelay = 60 * time.Second
	initialRetryDelay    = 500 * time.Millisecond
	maxBackoff           = 8 * time.Second
)

// Config configures a [Client]. Zero fields take the defaults; APIKey and
// BaseURL fall back to MODELGATE_API_KEY and MODELGATE_BASE_URL.
type Config struct {
	APIKey  string
	BaseURL string
	// Timeout bounds one attempt; for a stream, until its headers arrive.
	Timeout time.Duration
	// MaxRetries is the retries after the first attempt; -1 means none.
	MaxRetries int
	// MaxRetryDelay caps one wait; a server asking for longer is not retried.
	MaxRetryDelay time.Duration
	// NoDeprecationWarnings silences the one log line per deprecated route.
	NoDeprecationWarnings bool
	// HTTPClient defaults to a client that never follows redirects.
	HTTPClient *http.Client
	// Warn receives deprecation notices (default: standard error).
	Warn func(msg string)
	// Sleep waits between retries and polls (tests pass a fake).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls a modelgate gateway. It is safe for concurrent use.
type Client struct {
	cfg    Config
	warned sync.Map
}

// New returns a client, or an error when no API key is configured.
func New(cfg Config) (*Client, error) {
	if cfg.APIKey == "" {
		cfg.APIKey = os.Getenv("MODELGATE_API_KEY")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("modelgate: no API key: set Config.APIKey or MODELGATE_API_KEY")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = os.Getenv("MODELGATE_BASE_URL")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.MaxRetryDelay == 0 {
		cfg.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Warn == nil {
		cfg.Warn = func(msg string) { fmt.Fprintln(os.Stderr, msg) }
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	return &Client{cfg: cfg}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RequestOption changes one call.
type RequestOption func(*call)

// WithHeader sets a request header.
func WithHeader(name, value string) RequestOption {
	return func(c *call) { c.header.Set(name, value) }
}

// WithModelVersion pins a version or alias (the x-model-version header).
func WithModelVersion(v string) RequestOption { return WithHeader("x-model-version", v) }

// WithIdempotencyKey replaces the key generated for this call.
func WithIdempotencyKey(k string) RequestOption { return WithHeader("idempotency-key", k) }

// WithMaxRetries overrides the client's retries for this call.
func WithMaxRetries(n int) RequestOption { return func(c *call) { c.maxRetries = n } }

// WithResponse stores the final HTTP response (body already consumed) in *r.
func WithResponse(r **http.Response) RequestOption { return func(c *call) { c.into = r } }

type call struct {
	method, path, route string
	query               url.Values
	body                any
	header              http.Header
	maxRetries          int
	into                **http.Response
}

func (c *Client) newCall(method, path, route string, body any, opts []RequestOption) *call {
	k := &call{method: method, path: path, route: route, body: body, header: http.Header{}, maxRetries: c.cfg.MaxRetries}
	for _, o := range opts {
		o(k)
	}
	return k
}

// send runs the call with retries and returns a 2xx response whose body the
// caller must close, with cancel releasing the attempt's timeout.
func (c *Client) send(ctx context.Context, k *call, stream bool) (*http.Response, context.CancelFunc, error) {
	var payload []byte
	if k.body != nil {
		b, err := json.Marshal(k.body)
		if err != nil {
			return nil, nil, fmt.Errorf("modelgate: encoding the request: %w", err)
		}
		payload = b
	}
	// One key per call, reused by every retry, so the server can tell a
	// retry from a second request.
	if k.method != http.MethodGet && k.header.Get("idempotency-key") == "" {
		var b [16]byte
		_, _ = crand.Read(b[:])
		k.header.Set("idempotency-key", "mg-"+hex.EncodeToString(b[:]))
	}
	u := c.cfg.BaseURL + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	for retries := 0; ; retries++ {
		actx, cancelCtx := context.WithCancel(ctx)
		var timedOut atomic.Bool
		timer := time.AfterFunc(c.cfg.Timeout, func() { timedOut.Store(true); cancelCtx() })
		cancel := func() { timer.Stop(); cancelCtx() }
		req, err := http.NewRequestWithContext(actx, k.method, u, bytes.NewReader(payload))
		if err != nil {
			cancel()
			return nil, nil, fmt.Errorf("modelgate: building the request: %w", err)
		}
		req.Header = k.header.Clone()
		req.Header.Set("x-api-key", c.cfg.APIKey)
		req.Header.Set("user-agent", "modelgate-go/"+Version)
		if req.Header.Get("accept") == "" {
			req.Header.Set("accept", "application/json")
		}
		if payload != nil {
			req.Header.Set("content-type", "application/json")
		}
		if retries > 0 {
			req.Header.Set("x-retry-count", strconv.Itoa(retries))
		}
		resp, err := c.cfg.HTTPClient.Do(req)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			if retries < k.maxRetries {
				if err := c.cfg.Sleep(ctx, c.backoff(retries)); err != nil {
					return nil, nil, err
				}
				continue
			}
			return nil, nil, &ConnectionError{Timeout: timedOut.Load(), Err: err}
		}
		if resp.StatusCode >= 400 {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
			cancel()
			apiErr := newAPIError(resp, body)
			if retries < k.maxRetries && shouldRetry(resp, apiErr) {
				if wait, ok := c.retryDelay(retries, resp.Header); ok {
					if err := c.cfg.Sleep(ctx, wait); err != nil {
						return nil, nil, err
					}
					continue
				}
			}
			return nil, nil, apiErr
		}
		c.notice(k, resp.Header)
		if k.into != nil {
			*k.into = resp
		}
		if stream {
			// A stream's timeout covers only the wait for its headers; a
			// long answer is bounded by the caller's ctx.
			timer.Stop()
		}
		return resp, cancel, nil
	}
}

func (c *Client) backoff(retries int) time.Duration {
	base := min(initialRetryDelay<<retries, maxBackoff)
	// Jitter spreads clients that failed together.
	d := time.Duration(float64(base) * (1 - 0.25*rand.Float64()))
	return min(d, c.cfg.MaxRetryDelay)
}

func (c *Client) retryDelay(retries int, h http.Header) (time.Duration, bool) {
	if d, ok := retryAfter(h); ok {
		return d, d <= c.cfg.MaxRetryDelay
	}
	return c.backoff(retries), true
}

func shouldRetry(resp *http.Response, e *APIError) bool {
	switch strings.ToLower(strings.TrimSpace(resp.Header.Get("x-should-retry"))) {
	case "true":
		return true
	case "false":
		return false
	}
	if resp.StatusCode == http.StatusConflict && (e.Type == TypeJobFinished || e.Type == TypeIdempotencyKeyReused) {
		return false
	}
	s := resp.StatusCode
	return s == http.StatusRequestTimeout || s == http.StatusConflict || s == http.StatusTooManyRequests || s >= 500
}

// retryAfter reads retry-after-ms, then Retry-After (seconds or HTTP-date).
func retryAfter(h http.Header) (time.Duration, bool) {
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := h.Get("retry-after")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(max(s, 0) * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func (c *Client) notice(k *call, h http.Header) {
	if c.cfg.NoDeprecationWarnings {
		return
	}
	dep, sunset := h.Get("deprecation"), h.Get("sunset")
	if dep == "" && sunset == "" {
		return
	}
	key := k.method + " " + k.route
	if _, seen := c.warned.LoadOrStore(key, true); seen {
		return
	}
	msg := "modelgate: " + key + " is deprecated"
	if dep != "" {
		msg += "; Deprecation: " + dep
	}
	if sunset != "" {
		msg += "; Sunset: " + sunset
	}
	c.cfg.Warn(msg)
}

// doJSON sends the call and decodes a JSON answer into out (when non-nil).
func (c *Client) doJSON(ctx context.Context, k *call, out any) error {
	resp, cancel, err := c.send(ctx, k, false)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return &ConnectionError{Err: err}
	}
	if out == nil || len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("modelgate: decoding %s %s: %w", k.method, k.route, err)
	}
	return nil
}

// Problem type URIs the SDK branches on, beside those in api/problem.
const (
	TypeJobFinished          = problem.TypeBase + "job-finished"
	TypeIdempotencyKeyReused = problem.TypeBase + "idempotency-key-reused"
)

func seg(s string) string { return url.PathEscape(s) }
