package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	api "github.com/modelgate/modelgate/api/jobs"
)

// Message is one webhook message waiting in the outbox. Its ID is the
// webhook-id: the same on every attempt and redelivery.
type Message struct {
	ID      string    `json:"id"`
	JobID   string    `json:"job_id"`
	Owner   string    `json:"owner"`
	URL     string    `json:"url"`
	Event   string    `json:"event"`
	Attempt int       `json:"attempt"`
	Due     time.Time `json:"due"`
	// Redelivery marks a message an owner asked to send again.
	Redelivery bool `json:"redelivery,omitempty"`
}

func member(m Message) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// Due leases up to n messages due at now for lease; a message not
// settled (Done or Retry) within its lease is due again.
func (s *Store) Due(ctx context.Context, now time.Time, lease time.Duration, n int) ([]Message, error) {
	members, err := s.rdb.ZRangeByScore(ctx, s.outboxKey(), &redis.ZRangeBy{
		Min: "-inf", Max: fmt.Sprint(now.UnixMilli()), Count: int64(n),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	var out []Message
	for _, mb := range members {
		got, err := claimScript.Run(ctx, s.rdb, []string{s.outboxKey()}, mb, now.UnixMilli(), now.Add(lease).UnixMilli()).Int()
		if err != nil {
			return out, fmt.Errorf("lease message: %w", err)
		}
		var m Message
		if got != 1 || json.Unmarshal([]byte(mb), &m) != nil {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// Done removes a delivered (or abandoned) message from the outbox.
func (s *Store) Done(ctx context.Context, m Message) error {
	return s.rdb.ZRem(ctx, s.outboxKey(), member(m)).Err()
}

// Retry replaces a message by its next attempt, due at at.
func (s *Store) Retry(ctx context.Context, m Message, at time.Time) error {
	next := m
	next.Attempt++
	next.Due = at
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, s.outboxKey(), member(m))
		p.ZAdd(ctx, s.outboxKey(), redis.Z{Score: float64(at.UnixMilli()), Member: member(next)})
		return nil
	})
	return err
}

// Event returns the webhook body of a message: the job as it is now.
func (s *Store) Event(ctx context.Context, m Message) (api.Event, error) {
	r, err := s.load(ctx, m.JobID)
	if err != nil {
		return api.Event{}, err
	}
	ts := s.now()
	if r.job.CompletedAt != nil {
		ts = *r.job.CompletedAt
	}
	return api.Event{Type: m.Event, Timestamp: ts, Data: r.job}, nil
}

// Record appends an attempt to the job's delivery log.
func (s *Store) Record(ctx context.Context, d api.Delivery, jobID string) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, s.deliveriesKey(jobID), b)
		p.Expire(ctx, s.deliveriesKey(jobID), s.cfg.TTL)
		return nil
	})
	return err
}

// Deliveries returns the delivery log of the owner's job.
func (s *Store) Deliveries(ctx context.Context, owner, id string) ([]api.Delivery, error) {
	r, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.owner != owner {
		return nil, ErrNotFound
	}
	raw, err := s.rdb.LRange(ctx, s.deliveriesKey(id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	out := make([]api.Delivery, 0, len(raw))
	for _, b := range raw {
		var d api.Delivery
		if json.Unmarshal([]byte(b), &d) == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// Redeliver queues the message of one recorded delivery again, now, with
// its original webhook-id. The endpoint is enabled again: the owner asked.
func (s *Store) Redeliver(ctx context.Context, owner, id, deliveryID string) (Message, error) {
	ds, err := s.Deliveries(ctx, owner, id)
	if err != nil {
		return Message{}, err
	}
	for _, d := range ds {
		if d.ID != deliveryID {
			continue
		}
		m := Message{ID: d.MessageID, JobID: id, Owner: owner, URL: d.URL, Event: d.Event, Attempt: 1, Due: s.now(), Redelivery: true}
		if err := s.rdb.Del(ctx, s.disabledKey(owner, d.URL)).Err(); err != nil {
			return Message{}, err
		}
		return m, s.rdb.ZAdd(ctx, s.outboxKey(), redis.Z{Score: float64(m.Due.UnixMilli()), Member: member(m)}).Err()
	}
	return Message{}, ErrNotFound
}

func (s *Store) disabledKey(owner, url string) string {
	h := sha256.Sum256([]byte(url))
	return s.cfg.Prefix + "disabled:" + owner + ":" + hex.EncodeToString(h[:16])
}

// Disable marks the owner's endpoint disabled (it answered 410, or every
// attempt failed); no message is sent to it until a redelivery.
func (s *Store) Disable(ctx context.Context, owner, url string) error {
	return s.rdb.Set(ctx, s.disabledKey(owner, url), "1", 0).Err()
}

// Disabled reports whether the owner's endpoint is disabled.
func (s *Store) Disabled(ctx context.Context, owner, url string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.disabledKey(owner, url)).Result()
	return n == 1, err
}
