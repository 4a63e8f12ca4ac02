package jobs_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/inference/internal/jobs"
)

// clock is a settable fake clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t *testing.T) (*jobs.Store, *clock) {
	c := &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	return jobs.NewStore(jobs.Config{TTL: time.Hour, Now: c.now}, startRedis(t)), c
}

func newJob(owner string) jobs.NewJob {
	return jobs.NewJob{Owner: owner, Model: "iris", Version: "1", Rows: 1,
		Input: json.RawMessage(`{"model":"iris","inputs":[{}]}`), Metadata: map[string]string{"k": "v"}}
}

func TestStore_CreateGet(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	j, created, err := s.Create(ctx, newJob("alice"))
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, api.Queued, j.Status)
	require.Equal(t, time.Hour, j.ExpiresAt.Sub(j.CreatedAt))

	t.Run("the owner reads it", func(t *testing.T) {
		got, err := s.Get(ctx, "alice", j.ID)
		require.NoError(t, err)
		require.Equal(t, j.ID, got.ID)
		require.Equal(t, map[string]string{"k": "v"}, got.Metadata)
	})
	t.Run("another client does not see it", func(t *testing.T) {
		_, err := s.Get(ctx, "mallory", j.ID)
		require.ErrorIs(t, err, jobs.ErrNotFound)
		_, err = s.Cancel(ctx, "mallory", j.ID)
		require.ErrorIs(t, err, jobs.ErrNotFound)
		_, err = s.Deliveries(ctx, "mallory", j.ID)
		require.ErrorIs(t, err, jobs.ErrNotFound)
		l, err := s.List(ctx, "mallory", "", 10, "")
		require.NoError(t, err)
		require.Empty(t, l.Data)
	})
	t.Run("an unknown id is not found", func(t *testing.T) {
		_, err := s.Get(ctx, "alice", "job_nope")
		require.ErrorIs(t, err, jobs.ErrNotFound)
	})
}

func TestStore_Idempotency(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	n := newJob("alice")
	n.IdempotencyKey, n.BodyHash = "k1", "hash-a"
	first, created, err := s.Create(ctx, n)
	require.NoError(t, err)
	require.True(t, created)

	t.Run("same key and body give the same job", func(t *testing.T) {
		again, created, err := s.Create(ctx, n)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first.ID, again.ID)
	})
	t.Run("same key and another body is refused", func(t *testing.T) {
		other := n
		other.BodyHash = "hash-b"
		_, _, err := s.Create(ctx, other)
		require.ErrorIs(t, err, jobs.ErrIdempotencyMismatch)
	})
	t.Run("keys are per client", func(t *testing.T) {
		bob := n
		bob.Owner = "bob"
		j, created, err := s.Create(ctx, bob)
		require.NoError(t, err)
		require.True(t, created)
		require.NotEqual(t, first.ID, j.ID)
	})
}

func TestStore_Cancel(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	j, _, err := s.Create(ctx, newJob("alice"))
	require.NoError(t, err)
	got, err := s.Cancel(ctx, "alice", j.ID)
	require.NoError(t, err)
	require.Equal(t, api.Canceled, got.Status)
	require.NotNil(t, got.CompletedAt)

	t.Run("a finished job stays as it is", func(t *testing.T) {
		again, err := s.Cancel(ctx, "alice", j.ID)
		require.ErrorIs(t, err, jobs.ErrFinal)
		require.Equal(t, api.Canceled, again.Status)
	})
}

func TestStore_Expiry(t *testing.T) {
	t.Parallel()
	s, c := newStore(t)
	ctx := t.Context()
	j, _, err := s.Create(ctx, newJob("alice"))
	require.NoError(t, err)
	c.t = c.t.Add(time.Hour)
	got, err := s.Get(ctx, "alice", j.ID)
	require.NoError(t, err)
	require.Equal(t, api.Expired, got.Status)
}

func TestStore_List(t *testing.T) {
	t.Parallel()
	s, c := newStore(t)
	ctx := t.Context()
	var ids []string
	for range 5 {
		c.t = c.t.Add(time.Millisecond)
		j, _, err := s.Create(ctx, newJob("alice"))
		require.NoError(t, err)
		ids = append(ids, j.ID)
	}
	_, err := s.Cancel(ctx, "alice", ids[1])
	require.NoError(t, err)

	t.Run("pages newest first", func(t *testing.T) {
		p1, err := s.List(ctx, "alice", "", 2, "")
		require.NoError(t, err)
		require.Equal(t, []string{ids[4], ids[3]}, idsOf(p1))
		require.Equal(t, ids[3], *p1.NextCursor)
		p2, err := s.List(ctx, "alice", "", 2, *p1.NextCursor)
		require.NoError(t, err)
		require.Equal(t, []string{ids[2], ids[1]}, idsOf(p2))
		p3, err := s.List(ctx, "alice", "", 2, *p2.NextCursor)
		require.NoError(t, err)
		require.Equal(t, []string{ids[0]}, idsOf(p3))
		require.Nil(t, p3.NextCursor)
	})
	t.Run("filters by status", func(t *testing.T) {
		l, err := s.List(ctx, "alice", api.Canceled, 10, "")
		require.NoError(t, err)
		require.Equal(t, []string{ids[1]}, idsOf(l))
	})
}

func idsOf(l api.List) []string {
	var out []string
	for _, j := range l.Data {
		out = append(out, j.ID)
	}
	return out
}

func TestStore_MaxActive(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	s := jobs.NewStore(jobs.Config{TTL: time.Hour, MaxActive: 2, Now: c.now}, startRedis(t))
	ctx := t.Context()
	first, _, err := s.Create(ctx, newJob("alice"))
	require.NoError(t, err)
	_, _, err = s.Create(ctx, newJob("alice"))
	require.NoError(t, err)
	_, _, err = s.Create(ctx, newJob("alice"))
	var tm *jobs.TooManyActiveError
	require.ErrorAs(t, err, &tm)
	require.Equal(t, 2, tm.Active)

	t.Run("other clients have their own limit", func(t *testing.T) {
		_, _, err := s.Create(ctx, newJob("bob"))
		require.NoError(t, err)
	})
	t.Run("a finished job frees its place", func(t *testing.T) {
		_, err := s.Cancel(ctx, "alice", first.ID)
		require.NoError(t, err)
		_, err = s.Cancel(ctx, "alice", first.ID)
		require.ErrorIs(t, err, jobs.ErrFinal)
		_, _, err = s.Create(ctx, newJob("alice"))
		require.NoError(t, err)
		_, _, err = s.Create(ctx, newJob("alice"))
		require.ErrorAs(t, err, &tm)
	})
}

func TestStore_WebhookEventsFilter(t *testing.T) {
	t.Parallel()
	s, c := newStore(t)
	ctx := t.Context()
	tests := []struct {
		name     string
		events   []string
		wantSent bool
	}{
		{name: "no filter announces every final state", wantSent: true},
		{name: "completed announces every final state", events: []string{"completed"}, wantSent: true},
		{name: "the event's own name announces it", events: []string{"canceled"}, wantSent: true},
		{name: "the event's full type announces it", events: []string{"job.canceled"}, wantSent: true},
		{name: "another event's name does not", events: []string{"succeeded", "failed"}},
	}
	for _, tt := range tests {
		n := newJob("alice-" + tt.name)
		n.Webhook = jobs.Webhook{URL: "https://example.com/" + tt.name, Events: tt.events}
		j, _, err := s.Create(ctx, n)
		require.NoError(t, err)
		_, err = s.Cancel(ctx, n.Owner, j.ID)
		require.NoError(t, err)
		ms, err := s.Due(ctx, c.t.Add(time.Second), time.Minute, 100)
		require.NoError(t, err)
		sent := false
		for _, m := range ms {
			sent = sent || m.JobID == j.ID
		}
		require.Equal(t, tt.wantSent, sent, tt.name)
	}
}
