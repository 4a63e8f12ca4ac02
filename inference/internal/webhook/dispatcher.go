package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/inference/internal/jobs"
)

// outbox is what the dispatcher needs of the job store.
type outbox interface {
	Due(ctx context.Context, now time.Time, lease time.Duration, n int) ([]jobs.Message, error)
	Done(ctx context.Context, m jobs.Message) error
	Retry(ctx context.Context, m jobs.Message, at time.Time) error
	Event(ctx context.Context, m jobs.Message) (api.Event, error)
	Record(ctx context.Context, d api.Delivery, jobID string) error
	Disable(ctx context.Context, owner, url string) error
	Disabled(ctx context.Context, owner, url string) (bool, error)
}

// secrets returns an owner's current signing secrets, newest first.
type secrets interface {
	Secrets(owner string) []Secret
}

// maxResultBytes bounds the body of a webhook: past it the event carries
// the job without its result, which the receiver reads with GET.
const maxResultBytes = 256 << 10

// DispatcherConfig tunes a Dispatcher.
type DispatcherConfig struct {
	// Poll is how often the outbox is read. Default 200 ms.
	Poll time.Duration
	// Lease is how long a message is held by one attempt; longer than the
	// sender's timeout. Default 1 min.
	Lease time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the jitter source in [0,1); nil means math/rand.
	Rand func() float64
	// Metrics records the attempts; nil records nothing.
	Metrics *Metrics
}

// Dispatcher delivers the outbox's messages.
type Dispatcher struct {
	cfg     DispatcherConfig
	box     outbox
	sender  *Sender
	secrets secrets
	log     *slog.Logger
}

// NewDispatcher returns a dispatcher; Run starts it.
func NewDispatcher(cfg DispatcherConfig, box outbox, sender *Sender, sec secrets, log *slog.Logger) *Dispatcher {
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = randFloat
	}
	return &Dispatcher{cfg: cfg, box: box, sender: sender, secrets: sec, log: log}
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := d.Tick(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("webhooks: dispatch failed", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick makes one attempt for every message due now and returns how many
// it made.
func (d *Dispatcher) Tick(ctx context.Context) (int, error) {
	ms, err := d.box.Due(ctx, d.cfg.Now(), d.cfg.Lease, 16)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, m := range ms {
		errs = append(errs, d.deliver(ctx, m))
	}
	return len(ms), errors.Join(errs...)
}

// deliver makes one attempt, records it and settles the message.
func (d *Dispatcher) deliver(ctx context.Context, m jobs.Message) error {
	now := d.cfg.Now()
	rec := api.Delivery{
		ID: fmt.Sprintf("dlv_%s_%d_%d", m.ID[len("msg_"):], m.Attempt, now.UnixMilli()), Object: api.ObjectDelivery,
		MessageID: m.ID, Event: m.Event, URL: m.URL, Attempt: m.Attempt, At: now.UTC(),
	}
	if off, err := d.box.Disabled(ctx, m.Owner, m.URL); err != nil {
		return err
	} else if off {
		rec.Outcome, rec.Error = "disabled", "disabled"
		return errors.Join(d.box.Record(ctx, rec, m.JobID), d.box.Done(ctx, m))
	}
	body, err := d.body(ctx, m)
	if errors.Is(err, jobs.ErrNotFound) {
		return d.box.Done(ctx, m) // the job expired before it was announced
	}
	if err != nil {
		return err
	}
	// Never unsigned: without a secret the attempt fails (and is retried
	// on the schedule, in case the operator creates one).
	a := Attempt{Error: "no_secret"}
	if secs := d.secrets.Secrets(m.Owner); len(secs) > 0 {
		a = d.sender.Send(ctx, m.URL, m.ID, now, Sign(secs, m.ID, now, body), body)
	}
	rec.Status, rec.LatencyMS, rec.Error = a.Status, float64(a.Latency.Microseconds())/1000, a.Error
	var settle error
	switch delay, again := NextDelay(m.Attempt+1, a.RetryAfter, d.cfg.Rand()); {
	case a.OK():
		rec.Outcome = "succeeded"
		settle = d.box.Done(ctx, m)
	case a.Gone() || !again:
		// 410 asks us to stop; a message out of attempts stops too. Both
		// disable the endpoint until its owner redelivers.
		rec.Outcome = "disabled"
		settle = errors.Join(d.box.Disable(ctx, m.Owner, m.URL), d.box.Done(ctx, m))
	default:
		next := now.Add(delay).UTC()
		rec.Outcome, rec.NextAttemptAt = "retrying", &next
		settle = d.box.Retry(ctx, m, next)
	}
	d.cfg.Metrics.attempt(ctx, rec.Outcome, a.Error, a.Latency)
	d.log.Info("webhook attempt", slog.String("job_id", m.JobID), slog.String("webhook_id", m.ID),
		slog.Int("attempt", m.Attempt), slog.Int("status", a.Status), slog.String("outcome", rec.Outcome),
		slog.String("error_class", a.Error))
	return errors.Join(d.box.Record(ctx, rec, m.JobID), settle)
}

// body renders the event; a result too large for a webhook is left out.
func (d *Dispatcher) body(ctx context.Context, m jobs.Message) ([]byte, error) {
	ev, err := d.box.Event(ctx, m)
	if err != nil {
		return nil, err
	}
	if len(ev.Data.Result) > maxResultBytes {
		ev.Data.Result = nil
	}
	return json.Marshal(ev)
}
