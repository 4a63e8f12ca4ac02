// Package jobs runs asynchronous predictions: it keeps jobs in Redis,
// queues them on a Redis Stream per model version, lets workers of that
// version run them (reclaiming the jobs of crashed workers) and puts the
// webhook message of each finished job into an outbox for the webhook
// dispatcher. It knows nothing of HTTP.
//
// Every state change goes through one check-and-set script, so a job's
// final state is written once and announced once, however often a job is
// run (execution is at-least-once).
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	api "github.com/modelgate/modelgate/api/jobs"
)

// Errors the store returns; the HTTP layer maps them.
var (
	// ErrNotFound is a job that does not exist, has expired or belongs to
	// another client: the three are indistinguishable to the caller.
	ErrNotFound = errors.New("job not found")
	// ErrIdempotencyMismatch is an idempotency key reused with another body.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different body")
	// ErrFinal is a change asked of a job that has finished.
	ErrFinal = errors.New("job has finished")
)

// TooManyActiveError refuses a job over the owner's limit of unfinished
// jobs.
type TooManyActiveError struct{ Active, Limit int }

func (e *TooManyActiveError) Error() string {
	return fmt.Sprintf("%d jobs are queued or running; the limit is %d", e.Active, e.Limit)
}

// Config tunes a Store.
type Config struct {
	// TTL is how long a finished job is kept, and how long one may wait
	// in the queue before it expires. Default 24 h.
	TTL time.Duration
	// IdempotencyTTL is how long an idempotency key is remembered.
	// Default 24 h.
	IdempotencyTTL time.Duration
	// Prefix starts every key; default "mg:{jobs}:". The braces are a
	// hash tag: every key is in one cluster slot, so the scripts may
	// touch several.
	Prefix string
	// MaxActive is the most queued and running jobs one client may have;
	// 0 means no limit.
	MaxActive int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store keeps jobs in Redis.
type Store struct {
	cfg Config
	rdb redis.UniversalClient
}

// NewStore returns a store over rdb.
func NewStore(cfg Config, rdb redis.UniversalClient) *Store {
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "mg:{jobs}:"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{cfg: cfg, rdb: rdb}
}

func (s *Store) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func (s *Store) jobKey(id string) string          { return s.cfg.Prefix + "job:" + id }
func (s *Store) ownerKey(owner string) string     { return s.cfg.Prefix + "owner:" + owner }
func (s *Store) deliveriesKey(id string) string   { return s.cfg.Prefix + "deliveries:" + id }
func (s *Store) outboxKey() string                { return s.cfg.Prefix + "outbox" }
func (s *Store) activeKey(owner string) string    { return s.cfg.Prefix + "active:" + owner }
func (s *Store) idemKey(owner, key string) string { return s.cfg.Prefix + "idem:" + owner + ":" + key }
func (s *Store) streamKey(model, version string) string {
	return s.cfg.Prefix + "stream:" + model + ":" + version
}

// Webhook is where and for which events a job is announced.
type Webhook struct {
	URL    string   `json:"url"`
	Events []string `json:"events,omitempty"`
}

// wants reports whether the filter lets an event type through; an empty
// filter lets everything through. Filters name "succeeded" or
// "job.succeeded"; "completed" is every final state.
func (w Webhook) wants(event string) bool {
	if w.URL == "" {
		return false
	}
	if len(w.Events) == 0 {
		return true
	}
	for _, e := range w.Events {
		if e == event || "job."+e == event || e == "completed" {
			return true
		}
	}
	return false
}

// NewJob is what a job is created from.
type NewJob struct {
	Owner, Model, Version string
	// Input is the prediction body the worker runs.
	Input    json.RawMessage
	Rows     int
	Webhook  Webhook
	Metadata map[string]string
	// IdempotencyKey and BodyHash make a retried creation return the
	// first one's job.
	IdempotencyKey, BodyHash string
}

// NewID returns a job id that sorts by creation time.
func NewID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("job_%011x%s", now.UnixMilli(), hex.EncodeToString(b[:]))
}

// Create stores and enqueues a job. With an idempotency key it returns
// the job created first under that key (created false), or
// ErrIdempotencyMismatch when that one had another body.
func (s *Store) Create(ctx context.Context, n NewJob) (api.Job, bool, error) {
	now := s.now()
	j := api.Job{
		ID: NewID(now), Object: api.ObjectJob, Status: api.Queued, Model: n.Model, Version: n.Version,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.TTL), Usage: api.Usage{Rows: n.Rows}, Metadata: n.Metadata,
	}
	if j.Metadata == nil {
		j.Metadata = map[string]string{}
	}
	jb, err := json.Marshal(j)
	if err != nil {
		return api.Job{}, false, fmt.Errorf("encode job: %w", err)
	}
	wb, _ := json.Marshal(n.Webhook)
	idem, idemKey := "", s.idemKey(n.Owner, "")
	if n.IdempotencyKey != "" {
		idem, idemKey = n.BodyHash, s.idemKey(n.Owner, n.IdempotencyKey)
	}
	res, err := createScript.Run(ctx, s.rdb,
		[]string{s.jobKey(j.ID), s.ownerKey(n.Owner), s.streamKey(n.Model, n.Version), idemKey, s.activeKey(n.Owner)},
		j.ID, n.Owner, jb, []byte(n.Input), wb, idem, int(s.cfg.IdempotencyTTL/time.Second), s.cfg.MaxActive).Slice()
	if err != nil {
		return api.Job{}, false, fmt.Errorf("create job: %w", err)
	}
	prev, _ := res[1].(string)
	switch code, _ := res[0].(int64); code {
	case 1:
		return j, true, nil
	case 2:
		active, _ := strconv.Atoi(prev)
		return api.Job{}, false, &TooManyActiveError{Active: active, Limit: s.cfg.MaxActive}
	}
	hash, id, _ := strings.Cut(prev, " ")
	if hash != n.BodyHash {
		return api.Job{}, false, ErrIdempotencyMismatch
	}
	got, err := s.Get(ctx, n.Owner, id)
	return got, false, err
}

// record is a job as stored.
type record struct {
	owner   string
	status  api.Status
	job     api.Job
	webhook Webhook
}

// load reads a job whoever owns it; ErrNotFound if it is gone.
func (s *Store) load(ctx context.Context, id string) (record, error) {
	vals, err := s.rdb.HMGet(ctx, s.jobKey(id), "owner", "status", "job", "webhook").Result()
	if err != nil {
		return record{}, fmt.Errorf("read job: %w", err)
	}
	owner, _ := vals[0].(string)
	jb, _ := vals[2].(string)
	if owner == "" || jb == "" {
		return record{}, ErrNotFound
	}
	st, _ := vals[1].(string)
	r := record{owner: owner, status: api.Status(st)}
	if err := json.Unmarshal([]byte(jb), &r.job); err != nil {
		return record{}, fmt.Errorf("decode job %s: %w", id, err)
	}
	r.job.Status = r.status
	if wb, _ := vals[3].(string); wb != "" {
		_ = json.Unmarshal([]byte(wb), &r.webhook)
	}
	return r, nil
}

// Get returns the owner's job. A queued job past its expiry is expired
// on the way.
func (s *Store) Get(ctx context.Context, owner, id string) (api.Job, error) {
	r, err := s.load(ctx, id)
	if err != nil {
		return api.Job{}, err
	}
	if r.owner != owner {
		return api.Job{}, ErrNotFound
	}
	if r.status == api.Queued && !s.now().Before(r.job.ExpiresAt) {
		if j, ok, err := s.finish(ctx, r, api.Expired, nil, nil); err == nil && ok {
			return j, nil
		}
		return s.Get(ctx, owner, id)
	}
	return r.job, nil
}

// transition runs the check-and-set; ok is false when the job's state did
// not allow the move.
func (s *Store) transition(ctx context.Context, j api.Job, owner, from string, ttl time.Duration, msg *Message) (bool, error) {
	jb, err := json.Marshal(j)
	if err != nil {
		return false, fmt.Errorf("encode job: %w", err)
	}
	member, due := "", int64(0)
	if msg != nil {
		mb, _ := json.Marshal(msg)
		member, due = string(mb), msg.Due.UnixMilli()
	}
	n, err := transitionScript.Run(ctx, s.rdb, []string{s.jobKey(j.ID), s.outboxKey(), s.deliveriesKey(j.ID), s.activeKey(owner)},
		from, string(j.Status), jb, int(ttl/time.Second), member, due).Int()
	if err != nil {
		return false, fmt.Errorf("update job %s: %w", j.ID, err)
	}
	if n < 0 {
		return false, ErrNotFound
	}
	return n == 1, nil
}

// finish moves an unfinished job to a final state and queues its webhook
// message if it wants one.
func (s *Store) finish(ctx context.Context, r record, st api.Status, result, prob json.RawMessage) (api.Job, bool, error) {
	now := s.now()
	j := r.job
	j.Status, j.CompletedAt, j.ExpiresAt, j.Result, j.Problem = st, &now, now.Add(s.cfg.TTL), result, prob
	var msg *Message
	if ev := api.EventFor(st); r.webhook.wants(ev) {
		msg = &Message{ID: "msg_" + strings.TrimPrefix(j.ID, "job_") + "_" + string(st), JobID: j.ID,
			Owner: r.owner, URL: r.webhook.URL, Event: ev, Attempt: 1, Due: now}
	}
	ok, err := s.transition(ctx, j, r.owner, string(api.Queued)+","+string(api.Running), s.cfg.TTL, msg)
	if ok && msg != nil {
		// The delivery log lives as long as the job.
		s.rdb.Expire(ctx, s.deliveriesKey(j.ID), s.cfg.TTL)
	}
	return j, ok, err
}

// Cancel cancels the owner's unfinished job. A finished one is returned
// with ErrFinal.
func (s *Store) Cancel(ctx context.Context, owner, id string) (api.Job, error) {
	for range 3 {
		r, err := s.load(ctx, id)
		if err != nil {
			return api.Job{}, err
		}
		if r.owner != owner {
			return api.Job{}, ErrNotFound
		}
		if r.status.Final() {
			return r.job, ErrFinal
		}
		j, ok, err := s.finish(ctx, r, api.Canceled, nil, nil)
		if err != nil || ok {
			return j, err
		}
		// The job moved on between the read and the write: read it again.
	}
	return api.Job{}, fmt.Errorf("cancel job %s: the job keeps changing", id)
}

// List returns a page of the owner's jobs, newest first, optionally only
// those in one state. The cursor is the last id of the previous page.
func (s *Store) List(ctx context.Context, owner string, status api.Status, limit int, cursor string) (api.List, error) {
	out := api.List{Object: api.ObjectList, Data: []api.Job{}}
	max := "+"
	if cursor != "" {
		max = "(" + cursor
	}
	// Pages of ids are read until the page is full: a status filter or
	// expired jobs may thin them out. Expired ids leave the index here.
	for range 20 {
		ids, err := s.rdb.ZRevRangeByLex(ctx, s.ownerKey(owner), &redis.ZRangeBy{Max: max, Min: "-", Count: int64(limit + 1)}).Result()
		if err != nil {
			return out, fmt.Errorf("list jobs: %w", err)
		}
		for _, id := range ids {
			j, err := s.Get(ctx, owner, id)
			if errors.Is(err, ErrNotFound) {
				s.rdb.ZRem(ctx, s.ownerKey(owner), id)
				continue
			}
			if err != nil {
				return out, err
			}
			if status != "" && j.Status != status {
				continue
			}
			if len(out.Data) == limit {
				out.NextCursor = &out.Data[limit-1].ID
				return out, nil
			}
			out.Data = append(out.Data, j)
		}
		if len(ids) < limit+1 {
			return out, nil
		}
		max = "(" + ids[len(ids)-1]
	}
	if len(out.Data) > 0 {
		out.NextCursor = &out.Data[len(out.Data)-1].ID
	}
	return out, nil
}
