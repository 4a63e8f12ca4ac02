package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"code.dny.dev/ssrf"

	api "github.com/modelgate/modelgate/api/jobs"
)

// SenderConfig tunes a Sender.
type SenderConfig struct {
	// AllowPrefixes are the private, loopback or otherwise special-purpose
	// address ranges receivers may be at (the tests allow 127.0.0.1).
	// Empty allows public addresses only.
	AllowPrefixes []netip.Prefix
	// AllowHTTP lets receivers use plain http (tests, local runs); by
	// default only https URLs are delivered to.
	AllowHTTP bool
	// Timeout bounds one attempt. Default 15 s.
	Timeout time.Duration
}

// Sender makes single delivery attempts.
type Sender struct {
	cfg SenderConfig
	hc  *http.Client
}

// NewSender builds the SSRF-guarded client: the guard checks the address
// actually dialled, after DNS, so a name that resolves (or rebinds) to an
// internal address is refused before any packet is sent to it.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
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
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: guard.Safe}
	tr := &http.Transport{
		// No Proxy: a proxy would dial the receiver out of the guard's sight.
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &Sender{cfg: cfg, hc: &http.Client{
		Transport: tr, Timeout: cfg.Timeout,
		// A redirect is a failed delivery, never followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Attempt is the outcome of one delivery attempt.
type Attempt struct {
	Status  int
	Latency time.Duration
	// Error classifies a failure ("" on success); see [api.Delivery].
	Error string
	// RetryAfter is the receiver's Retry-After on 429, 502 and 503/504.
	RetryAfter time.Duration
}

// OK reports a delivered message.
func (a Attempt) OK() bool { return a.Error == "" }

// Gone reports a receiver that asked to be disabled.
func (a Attempt) Gone() bool { return a.Status == http.StatusGone }

// CheckURL refuses a receiver URL the sender would never deliver to.
func (s *Sender) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	switch {
	case u.Scheme == "https", u.Scheme == "http" && s.cfg.AllowHTTP:
		return nil
	}
	return errors.New("the scheme must be https")
}

// Send posts body to the URL with the Standard Webhooks headers. The
// receiver's answer body is read (to reuse the connection) and dropped.
func (s *Sender) Send(ctx context.Context, rawURL, id string, ts time.Time, signature string, body []byte) Attempt {
	if err := s.CheckURL(rawURL); err != nil {
		return Attempt{Error: "url"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Attempt{Error: "url"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "modelgate-webhooks/1")
	req.Header.Set(api.HeaderWebhookID, id)
	req.Header.Set(api.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(api.HeaderWebhookSignature, signature)
	start := time.Now()
	resp, err := s.hc.Do(req)
	lat := time.Since(start)
	if err != nil {
		return Attempt{Latency: lat, Error: classify(err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	a := Attempt{Status: resp.StatusCode, Latency: lat}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return a
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.Error = "redirect"
	case resp.StatusCode == http.StatusGone:
		a.Error = "gone"
	default:
		a.Error = "status"
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			a.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return a
}

// classify names a transport failure without its text, which may hold
// internal addresses.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ssrf.ErrProhibitedIP), errors.Is(err, ssrf.ErrProhibitedNetwork), errors.Is(err, ssrf.ErrProhibitedPort),
		errors.Is(err, ssrf.ErrInvalidHostPort):
		return "ssrf"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "dns"
	}
	return "network"
}
