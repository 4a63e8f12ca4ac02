package jobs_test

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/inference/internal/jobs"
	"github.com/modelgate/modelgate/internal/testutil"
)

// countingRunner answers every job with the same result and counts runs;
// block, when set, holds each run until it is closed.
type countingRunner struct {
	runs  atomic.Int32
	block chan struct{}
}

func (r *countingRunner) Run(ctx context.Context, _, _ string, _ json.RawMessage) (jobs.Outcome, error) {
	r.runs.Add(1)
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return jobs.Outcome{}, ctx.Err()
		}
	}
	return jobs.Outcome{Result: json.RawMessage(`{"predictions":[]}`), Rows: 1}, nil
}

func startWorker(t *testing.T, s *jobs.Store, r jobs.Runner, consumer string) context.CancelFunc {
	return startWorkerCfg(t, s, r, jobs.WorkerConfig{Consumer: consumer})
}

func startWorkerWith(t *testing.T, s *jobs.Store, r jobs.Runner, m *jobs.Metrics) context.CancelFunc {
	return startWorkerCfg(t, s, r, jobs.WorkerConfig{Consumer: "w", Metrics: m})
}

func startWorkerCfg(t *testing.T, s *jobs.Store, r jobs.Runner, cfg jobs.WorkerConfig) context.CancelFunc {
	ctx, cancel := context.WithCancel(t.Context())
	cfg.Model, cfg.Version, cfg.Heartbeat, cfg.Block = cmp.Or(cfg.Model, "iris"), "1", 50*time.Millisecond, 50*time.Millisecond
	w := jobs.NewWorker(cfg, s, r, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return cancel
}

func waitStatus(t *testing.T, s *jobs.Store, owner, id string, want api.Status) api.Job {
	t.Helper()
	var j api.Job
	require.Eventually(t, func() bool {
		var err error
		j, err = s.Get(t.Context(), owner, id)
		return err == nil && j.Status == want
	}, 10*time.Second, 10*time.Millisecond, "job %s never reached %s (last %s)", id, want, j.Status)
	return j
}

func TestWorker_RunsJob(t *testing.T) {
	t.Parallel()
	rdb := startRedis(t)
	s := jobs.NewStore(jobs.Config{}, rdb)
	n := newJob("alice")
	n.Webhook = jobs.Webhook{URL: "https://example.com/hook"}
	j, _, err := s.Create(t.Context(), n)
	require.NoError(t, err)
	r := &countingRunner{}
	startWorker(t, s, r, "w1")
	got := waitStatus(t, s, "alice", j.ID, api.Succeeded)
	require.JSONEq(t, `{"predictions":[]}`, string(got.Result))
	require.NotNil(t, got.StartedAt)
	require.NotNil(t, got.CompletedAt)

	t.Run("queues one webhook message", func(t *testing.T) {
		ms, err := s.Due(t.Context(), time.Now().Add(time.Second), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, ms, 1)
		require.Equal(t, api.EventSucceeded, ms[0].Event)
		require.Equal(t, j.ID, ms[0].JobID)
	})
	t.Run("a cancel after the finish changes nothing", func(t *testing.T) {
		_, err := s.Cancel(t.Context(), "alice", j.ID)
		require.ErrorIs(t, err, jobs.ErrFinal)
	})
}

func TestWorker_SkipsCanceledJob(t *testing.T) {
	t.Parallel()
	s := jobs.NewStore(jobs.Config{}, startRedis(t))
	j, _, err := s.Create(t.Context(), newJob("alice"))
	require.NoError(t, err)
	_, err = s.Cancel(t.Context(), "alice", j.ID)
	require.NoError(t, err)
	r := &countingRunner{}
	startWorker(t, s, r, "w1")
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, r.runs.Load())
	require.Equal(t, api.Canceled, waitStatus(t, s, "alice", j.ID, api.Canceled).Status)
}

func TestWorker_CancelWhileRunningWins(t *testing.T) {
	t.Parallel()
	s := jobs.NewStore(jobs.Config{}, startRedis(t))
	j, _, err := s.Create(t.Context(), newJob("alice"))
	require.NoError(t, err)
	r := &countingRunner{block: make(chan struct{})}
	startWorker(t, s, r, "w1")
	waitStatus(t, s, "alice", j.ID, api.Running)
	_, err = s.Cancel(t.Context(), "alice", j.ID)
	require.NoError(t, err)
	close(r.block)
	time.Sleep(200 * time.Millisecond)
	got := waitStatus(t, s, "alice", j.ID, api.Canceled)
	require.Nil(t, got.Result)
}

func TestWorker_ReclaimsJobOfCrashedWorker(t *testing.T) {
	t.Parallel()
	rdb := startRedis(t)
	s := jobs.NewStore(jobs.Config{}, rdb)
	j, _, err := s.Create(t.Context(), newJob("alice"))
	require.NoError(t, err)
	// A worker that read the job and died: the entry is pending under it
	// and nobody renews the claim.
	require.NoError(t, rdb.XGroupCreateMkStream(t.Context(), "mg:{jobs}:stream:iris:1", "workers", "0").Err())
	res, err := rdb.XReadGroup(t.Context(), &redis.XReadGroupArgs{Group: "workers", Consumer: "dead",
		Streams: []string{"mg:{jobs}:stream:iris:1", ">"}, Count: 1}).Result()
	require.NoError(t, err)
	require.Len(t, res[0].Messages, 1)

	r := &countingRunner{}
	startWorker(t, s, r, "w2")
	waitStatus(t, s, "alice", j.ID, api.Succeeded)
	require.Equal(t, int32(1), r.runs.Load())
	// The worker acknowledges the entry just after it sets the final
	// state, so the pending list empties a moment after the job shows
	// succeeded.
	require.Eventually(t, func() bool {
		pending, err := rdb.XPending(t.Context(), "mg:{jobs}:stream:iris:1", "workers").Result()
		return err == nil && pending.Count == 0
	}, 2*time.Second, 10*time.Millisecond, "the reclaimed entry is acknowledged")
}

func TestWorker_HeartbeatKeepsLongJob(t *testing.T) {
	t.Parallel()
	s := jobs.NewStore(jobs.Config{}, startRedis(t))
	j, _, err := s.Create(t.Context(), newJob("alice"))
	require.NoError(t, err)
	r := &countingRunner{block: make(chan struct{})}
	startWorker(t, s, r, "w1")
	startWorker(t, s, r, "w2")
	waitStatus(t, s, "alice", j.ID, api.Running)
	// Well past three heartbeats: the other worker must not take it.
	time.Sleep(400 * time.Millisecond)
	close(r.block)
	waitStatus(t, s, "alice", j.ID, api.Succeeded)
	require.Equal(t, int32(1), r.runs.Load())
}

func TestStore_SurvivesRedisCrash(t *testing.T) {
	t.Parallel()
	srv := testutil.NewRedis(t)
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket, MaxRetries: 5})
	t.Cleanup(func() { rdb.Close() })
	s := jobs.NewStore(jobs.Config{}, rdb)
	j, _, err := s.Create(t.Context(), newJob("alice"))
	require.NoError(t, err)
	srv.Kill()
	srv.Start()
	got, err := s.Get(t.Context(), "alice", j.ID)
	require.NoError(t, err, "a queued job outlives a crash of its Redis")
	require.Equal(t, api.Queued, got.Status)
	startWorker(t, s, &countingRunner{}, "w1")
	waitStatus(t, s, "alice", j.ID, api.Succeeded)
}

func TestWorker_GivesUpAJobThatKeepsCrashing(t *testing.T) {
	t.Parallel()
	rdb := startRedis(t)
	s := jobs.NewStore(jobs.Config{}, rdb)
	j, _, err := s.Create(t.Context(), newJob("alice"))
	require.NoError(t, err)
	stream := "mg:{jobs}:stream:iris:1"
	require.NoError(t, rdb.XGroupCreateMkStream(t.Context(), stream, "workers", "0").Err())
	res, err := rdb.XReadGroup(t.Context(), &redis.XReadGroupArgs{Group: "workers", Consumer: "dead-0",
		Streams: []string{stream, ">"}, Count: 1}).Result()
	require.NoError(t, err)
	// Three more workers took it up and died.
	for i := range 3 {
		require.NoError(t, rdb.XClaim(t.Context(), &redis.XClaimArgs{Stream: stream, Group: "workers",
			Consumer: "dead-" + string(rune('1'+i)), Messages: []string{res[0].Messages[0].ID}}).Err())
	}
	r := &countingRunner{}
	ctx, cancel := context.WithCancel(t.Context())
	w := jobs.NewWorker(jobs.WorkerConfig{Model: "iris", Version: "1", Consumer: "w", Heartbeat: 20 * time.Millisecond,
		Block: 20 * time.Millisecond, MaxAttempts: 3}, s, r, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	got := waitStatus(t, s, "alice", j.ID, api.Failed)
	require.Contains(t, string(got.Problem), "given up")
	require.Zero(t, r.runs.Load())
}
