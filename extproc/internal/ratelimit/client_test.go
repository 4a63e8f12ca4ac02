package ratelimit

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/internal/testutil"
)

// fakeRLS answers ShouldRateLimit with answer and records the requests.
type fakeRLS struct {
	rlsv3.UnimplementedRateLimitServiceServer
	mu     sync.Mutex
	reqs   []*rlsv3.RateLimitRequest
	answer *rlsv3.RateLimitResponse
	delay  time.Duration
}

func (f *fakeRLS) ShouldRateLimit(ctx context.Context, r *rlsv3.RateLimitRequest) (*rlsv3.RateLimitResponse, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	a, d := f.answer, f.delay
	f.mu.Unlock()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return a, nil
}

func (f *fakeRLS) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func start(t *testing.T, f *fakeRLS, now func() time.Time) *Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	rlsv3.RegisterRateLimitServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	c, err := Dial("passthrough:///"+lis.Addr().String(), Options{Domain: quota.Domain, Timeout: 200 * time.Millisecond, UnlimitedTTL: time.Second, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var subject = quota.Descriptors(quota.Subject{Client: "acme", Tier: "pro", Model: "iris", Version: "2"})

func limited(remaining uint32) *rlsv3.RateLimitResponse {
	return &rlsv3.RateLimitResponse{
		OverallCode: rlsv3.RateLimitResponse_OK,
		Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{
			{Code: rlsv3.RateLimitResponse_OK, CurrentLimit: &rlsv3.RateLimitResponse_RateLimit{RequestsPerUnit: 60, Unit: rlsv3.RateLimitResponse_RateLimit_MINUTE},
				LimitRemaining: remaining, DurationUntilReset: durationpb.New(20 * time.Second)},
			{Code: rlsv3.RateLimitResponse_OK, CurrentLimit: &rlsv3.RateLimitResponse_RateLimit{RequestsPerUnit: 5, Unit: rlsv3.RateLimitResponse_RateLimit_SECOND},
				LimitRemaining: 4, DurationUntilReset: durationpb.New(300 * time.Millisecond)},
			{Code: rlsv3.RateLimitResponse_OK},
		},
	}
}

func TestCheck_oneCallWithEveryDescriptor(t *testing.T) {
	t.Parallel()
	f := &fakeRLS{answer: limited(10)}
	c := start(t, f, time.Now)
	d, err := c.Check(t.Context(), subject)
	require.NoError(t, err)
	require.False(t, d.Over)
	require.Equal(t, &quota.Limit{Requests: 5, Window: time.Second, Remaining: 4, Reset: 300 * time.Millisecond}, d.Tightest,
		"the limit with the fewest requests left")

	require.Equal(t, 1, f.calls())
	r := f.reqs[0]
	require.Equal(t, quota.Domain, r.GetDomain())
	require.Equal(t, uint32(1), r.GetHitsAddend())
	require.Len(t, r.GetDescriptors(), 3)
	got := map[string]string{}
	for _, e := range r.GetDescriptors()[2].GetEntries() {
		got[e.GetKey()] = e.GetValue()
	}
	require.Equal(t, map[string]string{"quota": "client_model", "tier": "pro", "client": "acme", "model": "iris", "version": "2"}, got)

	// Limited sets are asked about every time: each request is counted.
	_, err = c.Check(t.Context(), subject)
	require.NoError(t, err)
	require.Equal(t, 2, f.calls())
}

func TestCheck_overLimit(t *testing.T) {
	t.Parallel()
	a := limited(0)
	a.OverallCode = rlsv3.RateLimitResponse_OVER_LIMIT
	a.Statuses[0].Code = rlsv3.RateLimitResponse_OVER_LIMIT
	c := start(t, &fakeRLS{answer: a}, time.Now)
	d, err := c.Check(t.Context(), subject)
	require.NoError(t, err)
	require.True(t, d.Over)
	require.Equal(t, uint32(0), d.Tightest.Remaining)
	require.Equal(t, int64(20), d.Tightest.ResetSeconds())
}

func TestCheck_unlimitedSetsAreRememberedBriefly(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := &fakeRLS{answer: &rlsv3.RateLimitResponse{OverallCode: rlsv3.RateLimitResponse_OK,
		Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{{Code: rlsv3.RateLimitResponse_OK}, {Code: rlsv3.RateLimitResponse_OK}}}}
	c := start(t, f, clock.Now)
	internal := quota.Descriptors(quota.Subject{Client: "batch", Tier: "internal"})
	for range 3 {
		d, err := c.Check(t.Context(), internal)
		require.NoError(t, err)
		require.False(t, d.Over)
		require.Nil(t, d.Tightest)
	}
	require.Equal(t, 1, f.calls(), "answered from memory within the TTL")

	other := quota.Descriptors(quota.Subject{Client: "batch", Tier: "internal", Model: "iris", Version: "1"})
	_, err := c.Check(t.Context(), other)
	require.NoError(t, err)
	require.Equal(t, 2, f.calls(), "another set is asked about")

	clock.Advance(1500 * time.Millisecond)
	_, err = c.Check(t.Context(), internal)
	require.NoError(t, err)
	require.Equal(t, 3, f.calls(), "asked again after the TTL")
}

func TestCheck_timeoutIsAnError(t *testing.T) {
	t.Parallel()
	c := start(t, &fakeRLS{answer: limited(1), delay: time.Second}, time.Now)
	_, err := c.Check(t.Context(), subject)
	require.Error(t, err)
}
