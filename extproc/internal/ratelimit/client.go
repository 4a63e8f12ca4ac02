// Package ratelimit is the plugin's client of the envoyproxy/ratelimit
// service: it implements [quota.Checker] over the service's gRPC API
// (envoy.service.ratelimit.v3.RateLimitService), the same call Envoy's
// ratelimit filter makes. The plugin makes it once per request, with every
// descriptor of the request in it, from inside the ext_proc stream.
package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	rlcommonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/modelgate/modelgate/extproc/internal/quota"
)

// MetricChecks counts quota checks by result: ok, over_limit, unlimited
// (answered from the short-lived memory of unlimited sets, no call made) or
// error (the service did not answer in time; the request was served: fail
// open).
const MetricChecks = "modelgate.quota.checks"

// Client asks one ratelimit service. It is safe for concurrent use.
type Client struct {
	conn    *grpc.ClientConn
	rls     rlsv3.RateLimitServiceClient
	domain  string
	timeout time.Duration
	checks  metric.Int64Counter
	attrs   map[string][]metric.AddOption
	logger  *slog.Logger
	// unlimited skips calls for sets recently answered without a limit.
	unlimited *unlimitedCache
	// lastWarn is when the last fail-open warning was logged (unix ns):
	// one line per interval, not one per request, while the service is
	// down.
	lastWarn atomic.Int64
}

// warnEvery spaces the fail-open warnings.
const warnEvery = 10 * time.Second

var _ quota.Checker = (*Client)(nil)

// Options configure a [Client].
type Options struct {
	// Domain is the ratelimit domain of every call.
	Domain string
	// Timeout bounds one call.
	Timeout time.Duration
	// UnlimitedTTL is how long a descriptor set answered without any limit
	// is answered so without a call; 0 asks every time.
	UnlimitedTTL time.Duration
	Meter        metric.Meter
	Logger       *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Dial connects (lazily) to the service at target, a gRPC dial target
// (unix:///path, passthrough:///host:port, ...).
func Dial(target string, o Options) (*Client, error) {
	domain, timeout, meter, logger := o.Domain, o.Timeout, o.Meter, o.Logger
	if o.Now == nil {
		o.Now = time.Now
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
		// Reconnect within a fraction of a second after the service
		// (re)starts: every request in between is served unchecked.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		return nil, fmt.Errorf("ratelimit client %s: %w", target, err)
	}
	if meter == nil {
		meter = noop.NewMeterProvider().Meter("")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	checks, err := meter.Int64Counter(MetricChecks,
		metric.WithDescription("Calls to the ratelimit service by result (ok, over_limit, error: served anyway, fail open)."),
		metric.WithUnit("{call}"))
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("create %s: %w", MetricChecks, err)
	}
	c := &Client{conn: conn, rls: rlsv3.NewRateLimitServiceClient(conn), domain: domain, timeout: timeout,
		checks: checks, attrs: map[string][]metric.AddOption{}, logger: logger,
		unlimited: newUnlimitedCache(o.UnlimitedTTL, o.Now)}
	for _, r := range []string{"ok", "over_limit", "unlimited", "error"} {
		c.attrs[r] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("result", r)))}
	}
	// Connect now, so the first request does not pay for it.
	conn.Connect()
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Check implements [quota.Checker]: one ShouldRateLimit call counting one
// hit on every descriptor.
func (c *Client) Check(ctx context.Context, ds []quota.Descriptor) (quota.Decision, error) {
	var k string
	if c.unlimited != nil {
		if k = key(ds); c.unlimited.known(k) {
			c.checks.Add(ctx, 1, c.attrs["unlimited"]...)
			return quota.Decision{}, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rls.ShouldRateLimit(ctx, request(c.domain, ds))
	if err != nil {
		c.checks.Add(ctx, 1, c.attrs["error"]...)
		c.warn(err)
		return quota.Decision{}, fmt.Errorf("ratelimit service: %w", err)
	}
	d := decision(resp, ds)
	if c.unlimited != nil && !d.Over && d.Tightest == nil {
		c.unlimited.remember(k)
	}
	if d.Over {
		c.checks.Add(ctx, 1, c.attrs["over_limit"]...)
	} else {
		c.checks.Add(ctx, 1, c.attrs["ok"]...)
	}
	return d, nil
}

// warn logs a failed call, at most once per warnEvery.
func (c *Client) warn(err error) {
	now := time.Now().UnixNano()
	last := c.lastWarn.Load()
	if now-last < int64(warnEvery) || !c.lastWarn.CompareAndSwap(last, now) {
		return
	}
	c.logger.Warn("ratelimit service did not answer; serving without a quota check (fail open)",
		slog.String("error", err.Error()), slog.String("metric", MetricChecks+`{result="error"}`))
}

// request builds the call for ds. Each descriptor is one allocation of
// entries; the call runs once per request.
func request(domain string, ds []quota.Descriptor) *rlsv3.RateLimitRequest {
	out := make([]*rlcommonv3.RateLimitDescriptor, len(ds))
	for i, d := range ds {
		es := make([]rlcommonv3.RateLimitDescriptor_Entry, len(d.Entries))
		ptrs := make([]*rlcommonv3.RateLimitDescriptor_Entry, len(d.Entries))
		for j, e := range d.Entries {
			es[j].Key, es[j].Value = e.Key, e.Value
			ptrs[j] = &es[j]
		}
		out[i] = &rlcommonv3.RateLimitDescriptor{Entries: ptrs}
		if d.Hits > 0 {
			out[i].HitsAddend = wrapperspb.UInt64(d.Hits)
		}
	}
	return &rlsv3.RateLimitRequest{Domain: domain, Descriptors: out, HitsAddend: 1}
}

// decision reads the answer (one status per descriptor of ds, in order):
// over when the overall code says so, and which limit was exceeded; the
// tightest of the request descriptors that matched a limit.
func decision(resp *rlsv3.RateLimitResponse, ds []quota.Descriptor) quota.Decision {
	d := quota.Decision{Over: resp.GetOverallCode() == rlsv3.RateLimitResponse_OVER_LIMIT}
	limits := make([]quota.Limit, 0, len(resp.GetStatuses()))
	for i, s := range resp.GetStatuses() {
		cl := s.GetCurrentLimit()
		if cl == nil {
			continue // no rule matched, or an unlimited one
		}
		l := quota.Limit{
			Requests:  cl.GetRequestsPerUnit(),
			Window:    window(cl.GetUnit()),
			Remaining: s.GetLimitRemaining(),
			Reset:     s.GetDurationUntilReset().AsDuration(),
			Tokens:    i < len(ds) && ds[i].Tokens(),
		}
		if d.Exceeded == nil && s.GetCode() == rlsv3.RateLimitResponse_OVER_LIMIT {
			cp := l
			d.Exceeded = &cp
		}
		if !l.Tokens {
			limits = append(limits, l)
		}
	}
	d.Tightest = quota.Tightest(limits)
	return d
}

// window is the length of a rate-limit unit.
func window(u rlsv3.RateLimitResponse_RateLimit_Unit) time.Duration {
	switch u {
	case rlsv3.RateLimitResponse_RateLimit_SECOND:
		return time.Second
	case rlsv3.RateLimitResponse_RateLimit_MINUTE:
		return time.Minute
	case rlsv3.RateLimitResponse_RateLimit_HOUR:
		return time.Hour
	case rlsv3.RateLimitResponse_RateLimit_DAY:
		return 24 * time.Hour
	case rlsv3.RateLimitResponse_RateLimit_WEEK:
		return 7 * 24 * time.Hour
	case rlsv3.RateLimitResponse_RateLimit_MONTH:
		return 30 * 24 * time.Hour
	case rlsv3.RateLimitResponse_RateLimit_YEAR:
		return 365 * 24 * time.Hour
	default:
		return 0
	}
}
