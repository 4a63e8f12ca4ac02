package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	api "github.com/modelgate/modelgate/api/jobs"
)

// group is the consumer group of every jobs stream.
const group = "workers"

// Outcome is what running a job gave: a result, or a problem+json object
// for a job the input made fail.
type Outcome struct {
	Result  json.RawMessage
	Problem json.RawMessage
	Rows    int
	// Tokens is the usage of a chat completion job, nil for others.
	Tokens *Tokens
}

// Tokens are the tokens a chat completion job consumed.
type Tokens struct{ Prompt, Completion int }

// Runner runs the input of one job of a model version.
type Runner interface {
	Run(ctx context.Context, model, version string, input json.RawMessage) (Outcome, error)
}

// WorkerConfig tunes a Worker.
type WorkerConfig struct {
	// Model and Version name the stream the worker consumes.
	Model, Version string
	// Consumer names the worker in the consumer group; unique per process.
	Consumer string
	// Heartbeat is how often a running job's claim is renewed; a job whose
	// claim is older than three heartbeats is taken over by another
	// worker. Default 5 s.
	Heartbeat time.Duration
	// Block is how long one read waits for a new job. Default 2 s.
	Block time.Duration
	// MaxAttempts is how many times a job may be taken up before it is
	// failed: a job that crashes every worker that runs it must not crash
	// them forever. Default 5.
	MaxAttempts int
	// Metrics records the runs; nil records nothing.
	Metrics *Metrics
}

// Worker runs the jobs of one model version.
type Worker struct {
	cfg    WorkerConfig
	store  *Store
	runner Runner
	log    *slog.Logger
}

// NewWorker returns a worker; Run starts it.
func NewWorker(cfg WorkerConfig, store *Store, runner Runner, log *slog.Logger) *Worker {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.Block <= 0 {
		cfg.Block = 2 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	return &Worker{cfg: cfg, store: store, runner: runner, log: log.With(slog.String("model", cfg.Model), slog.String("model_version", cfg.Version))}
}

func (w *Worker) stream() string { return w.store.streamKey(w.cfg.Model, w.cfg.Version) }

// Run consumes jobs until ctx ends. The job in hand when ctx ends is left
// to be reclaimed by another worker.
func (w *Worker) Run(ctx context.Context) error {
	rdb := w.store.rdb
	// Creating the group at 0 picks up jobs queued before any worker ran.
	if err := rdb.XGroupCreateMkStream(ctx, w.stream(), group, "0").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group: %w", err)
	}
	for ctx.Err() == nil {
		msg, err := w.next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("jobs: read failed", slog.String("error", err.Error()))
			sleep(ctx, time.Second)
			continue
		}
		if msg == nil {
			continue
		}
		if err := w.handle(ctx, *msg); err != nil && ctx.Err() == nil {
			w.log.Warn("jobs: job failed to run", slog.String("error", err.Error()))
			sleep(ctx, time.Second)
		}
	}
	return nil
}

// next returns a job whose worker stopped renewing its claim, or else the
// next new one; nil when none came within the block time.
func (w *Worker) next(ctx context.Context) (*redis.XMessage, error) {
	rdb := w.store.rdb
	msgs, _, err := rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: w.stream(), Group: group, Consumer: w.cfg.Consumer, MinIdle: 3 * w.cfg.Heartbeat, Start: "0-0", Count: 1,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("reclaim: %w", err)
	}
	if len(msgs) > 0 {
		return w.unlessExhausted(ctx, msgs[0])
	}
	res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: w.cfg.Consumer, Streams: []string{w.stream(), ">"}, Count: 1, Block: w.cfg.Block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(res) == 0 || len(res[0].Messages) == 0 {
		return nil, nil
	}
	return &res[0].Messages[0], nil
}

// unlessExhausted returns a reclaimed entry, or fails its job (and returns
// nil) when it has been taken up more than MaxAttempts times.
func (w *Worker) unlessExhausted(ctx context.Context, m redis.XMessage) (*redis.XMessage, error) {
	p, err := w.store.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: w.stream(), Group: group, Start: m.ID, End: m.ID, Count: 1}).Result()
	if err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	if len(p) == 0 || p[0].RetryCount <= int64(w.cfg.MaxAttempts) {
		return &m, nil
	}
	id, _ := m.Values["id"].(string)
	w.log.Error("jobs: job failed after too many attempts", slog.String("job_id", id), slog.Int64("attempts", p[0].RetryCount))
	if r, err := w.store.load(ctx, id); err == nil && !r.status.Final() {
		if _, _, err := w.store.finish(ctx, r, api.Failed, nil, attemptsProblem); err != nil {
			return nil, err
		}
	}
	w.store.rdb.XAck(ctx, w.stream(), group, m.ID)
	w.store.rdb.XDel(ctx, w.stream(), m.ID)
	return nil, nil
}

var attemptsProblem = json.RawMessage(`{"type":"https://modelgate.dev/problems/internal-error","title":"Internal error","status":500,` +
	`"detail":"the job stopped its worker every time it ran and was given up"}`)

// handle runs one stream entry's job and acknowledges the entry once the
// job is final (by this run or any other).
func (w *Worker) handle(ctx context.Context, m redis.XMessage) error {
	id, _ := m.Values["id"].(string)
	done, err := w.run(ctx, m.ID, id)
	if err != nil {
		return err
	}
	if done {
		rdb := w.store.rdb
		rdb.XAck(ctx, w.stream(), group, m.ID)
		rdb.XDel(ctx, w.stream(), m.ID)
	}
	return nil
}

// run takes the job, runs it and records the outcome; done is false when
// the entry must stay pending (ctx ended mid-run).
func (w *Worker) run(ctx context.Context, entry, id string) (bool, error) {
	s := w.store
	r, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && r.status.Final()) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if !s.now().Before(r.job.ExpiresAt) && r.status == api.Queued {
		_, _, err := s.finish(ctx, r, api.Expired, nil, nil)
		return err == nil, err
	}
	now := s.now()
	r.job.Status, r.job.StartedAt = api.Running, &now
	ok, err := s.transition(ctx, r.job, r.owner, string(api.Queued)+","+string(api.Running), 0, nil)
	if err != nil || !ok {
		return err == nil, err
	}
	r.status = api.Running
	input, err := s.rdb.HGet(ctx, s.jobKey(id), "input").Bytes()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("read input: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var canceled atomic.Bool
	go w.heartbeat(runCtx, entry, id, func() { canceled.Store(true); stop() })
	began := time.Now()
	out, runErr := w.runner.Run(runCtx, r.job.Model, r.job.Version, input)
	took := time.Since(began)
	stop()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	st := api.Succeeded
	if runErr != nil || out.Problem != nil {
		st = api.Failed
		if out.Problem == nil {
			out.Problem = internalProblem
			if !canceled.Load() {
				w.log.Error("jobs: job failed", slog.String("job_id", id), slog.String("error", fmt.Sprint(runErr)))
			}
		}
	}
	r.job.Usage.Rows = max(r.job.Usage.Rows, out.Rows)
	if t := out.Tokens; t != nil {
		total := t.Prompt + t.Completion
		r.job.Usage.PromptTokens, r.job.Usage.CompletionTokens, r.job.Usage.TotalTokens = &t.Prompt, &t.Completion, &total
	}
	// A cancel that won the race keeps its state; this result is dropped.
	_, ok, err = s.finish(ctx, r, st, out.Result, out.Problem)
	if err == nil && !ok {
		st = api.Canceled
	}
	w.cfg.Metrics.ran(ctx, r.job.Model, r.job.Version, st, took, out.Rows)
	return err == nil, err
}

var internalProblem = json.RawMessage(`{"type":"https://modelgate.dev/problems/internal-error","title":"Internal error","status":500}`)

// heartbeat renews the worker's claim on the entry until ctx ends, so no
// other worker takes a job that is still running. It also watches the
// job's state: once the job is final (a client canceled it) the run is
// told to stop by calling cancel, so a canceled generation ends early
// instead of running to a result that would be dropped.
func (w *Worker) heartbeat(ctx context.Context, entry, id string, cancel func()) {
	t := time.NewTicker(w.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.store.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
				Stream: w.stream(), Group: group, Consumer: w.cfg.Consumer, MinIdle: 0, Messages: []string{entry},
			})
			if st, err := w.store.rdb.HGet(ctx, w.store.jobKey(id), "status").Result(); err == nil && api.Status(st).Final() {
				cancel()
				return
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
