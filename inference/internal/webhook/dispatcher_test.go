package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/inference/internal/jobs"
	"github.com/modelgate/modelgate/inference/internal/webhook"
	"github.com/modelgate/modelgate/internal/testutil"
)

type staticSecrets []webhook.Secret

func (s staticSecrets) Secrets(string) []webhook.Secret { return s }

// receiver answers each delivery with the next status of its script (the
// last one repeats) and keeps what it received.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []*http.Request
	bodies   [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got, r.bodies = append(r.got, req), append(r.bodies, b)
	st := r.statuses[min(len(r.got), len(r.statuses))-1]
	w.WriteHeader(st)
}

type fixture struct {
	store *jobs.Store
	disp  *webhook.Dispatcher
	clock *testutil.Clock
	rcv   *receiver
	url   string
	job   api.Job
	sec   webhook.Secret
}

// newFixture finishes one job whose webhook points at a receiver
// answering statuses.
func newFixture(t *testing.T, statuses ...int) *fixture {
	f := &fixture{clock: testutil.NewClock(time.Now().UTC().Truncate(time.Second)), rcv: &receiver{statuses: statuses}}
	srv := httptest.NewServer(f.rcv)
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/hook"
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: testutil.StartRedis(t)})
	t.Cleanup(func() { rdb.Close() })
	f.store = jobs.NewStore(jobs.Config{Now: f.clock.Now}, rdb)
	sec, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	f.sec = sec
	sender := webhook.NewSender(webhook.SenderConfig{AllowHTTP: true, AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	f.disp = webhook.NewDispatcher(webhook.DispatcherConfig{Now: f.clock.Now, Rand: func() float64 { return 0.5 }},
		f.store, sender, staticSecrets{sec}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	j, _, err := f.store.Create(t.Context(), jobs.NewJob{Owner: "alice", Model: "iris", Version: "1",
		Input: json.RawMessage(`{}`), Webhook: jobs.Webhook{URL: f.url}})
	require.NoError(t, err)
	f.job, err = f.store.Cancel(t.Context(), "alice", j.ID)
	require.NoError(t, err)
	return f
}

func (f *fixture) tick(t *testing.T) int {
	n, err := f.disp.Tick(t.Context())
	require.NoError(t, err)
	return n
}

func TestDispatcher_deliversSigned(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 204)
	require.Equal(t, 1, f.tick(t))
	require.Len(t, f.rcv.got, 1)
	req, body := f.rcv.got[0], f.rcv.bodies[0]
	require.NoError(t, webhook.Verify(f.sec, req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"),
		req.Header.Get("webhook-signature"), body, f.clock.Now(), 5*time.Minute))
	var ev api.Event
	require.NoError(t, json.Unmarshal(body, &ev))
	require.Equal(t, api.EventCanceled, ev.Type)
	require.Equal(t, f.job.ID, ev.Data.ID)
	require.Equal(t, 0, f.tick(t), "a delivered message is not sent again")
	ds, err := f.store.Deliveries(t.Context(), "alice", f.job.ID)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, "succeeded", ds[0].Outcome)
	require.Equal(t, 204, ds[0].Status)
}

func TestDispatcher_retriesOnSchedule(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 500, 500, 503, 200)
	require.Equal(t, 1, f.tick(t))
	for i, wait := range []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute} {
		f.clock.Advance(wait - time.Millisecond)
		require.Equal(t, 0, f.tick(t), "attempt %d is not due before its delay", i+2)
		f.clock.Advance(time.Millisecond)
		require.Equal(t, 1, f.tick(t), "attempt %d is due after %s", i+2, wait)
	}
	require.Len(t, f.rcv.got, 4)
	ids := map[string]bool{}
	for _, r := range f.rcv.got {
		ids[r.Header.Get("webhook-id")] = true
	}
	require.Len(t, ids, 1, "the webhook-id stays the same across retries")
	ds, err := f.store.Deliveries(t.Context(), "alice", f.job.ID)
	require.NoError(t, err)
	require.Len(t, ds, 4)
	require.Equal(t, []string{"retrying", "retrying", "retrying", "succeeded"},
		[]string{ds[0].Outcome, ds[1].Outcome, ds[2].Outcome, ds[3].Outcome})
}

func TestDispatcher_goneDisables(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 410)
	require.Equal(t, 1, f.tick(t))
	off, err := f.store.Disabled(t.Context(), "alice", f.url)
	require.NoError(t, err)
	require.True(t, off)
	f.clock.Advance(time.Hour)
	require.Equal(t, 0, f.tick(t), "no retry after 410")

	t.Run("a redelivery enables the endpoint again", func(t *testing.T) {
		f.rcv.statuses = []int{410, 200}
		ds, err := f.store.Deliveries(t.Context(), "alice", f.job.ID)
		require.NoError(t, err)
		_, err = f.store.Redeliver(t.Context(), "alice", f.job.ID, ds[0].ID)
		require.NoError(t, err)
		require.Equal(t, 1, f.tick(t))
		require.Len(t, f.rcv.got, 2)
		require.Equal(t, f.rcv.got[0].Header.Get("webhook-id"), f.rcv.got[1].Header.Get("webhook-id"))
	})
}

func TestDispatcher_redirectIsFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 302)
	require.Equal(t, 1, f.tick(t))
	ds, err := f.store.Deliveries(t.Context(), "alice", f.job.ID)
	require.NoError(t, err)
	require.Equal(t, "redirect", ds[0].Error)
	require.Equal(t, "retrying", ds[0].Outcome)
}

func TestNextDelay(t *testing.T) {
	t.Parallel()
	d, ok := webhook.NextDelay(2, 0, 0)
	require.True(t, ok)
	require.Equal(t, 4500*time.Millisecond, d, "jitter takes up to 10% off")
	d, _ = webhook.NextDelay(2, 0, 0.999999)
	require.InDelta(t, float64(5500*time.Millisecond), float64(d), float64(time.Millisecond))
	d, _ = webhook.NextDelay(2, time.Minute, 0.5)
	require.Equal(t, time.Minute, d, "Retry-After is a floor")
	_, ok = webhook.NextDelay(len(webhook.Schedule)+1, 0, 0.5)
	require.False(t, ok, "no attempt after the schedule")
}

func TestSender_refusesInternalAddresses(t *testing.T) {
	t.Parallel()
	s := webhook.NewSender(webhook.SenderConfig{AllowHTTP: true})
	for _, u := range []string{"http://127.0.0.1:1/hook", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/hook", "http://[::1]:1/"} {
		a := s.Send(context.Background(), u, "msg_1", time.Now(), "v1,x", []byte(`{}`))
		require.Equal(t, "ssrf", a.Error, u)
	}
	a := webhook.NewSender(webhook.SenderConfig{}).Send(context.Background(), "http://example.com/", "msg_1", time.Now(), "v1,x", nil)
	require.Equal(t, "url", a.Error, "plain http is refused unless allowed")
}
