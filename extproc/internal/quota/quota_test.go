package quota_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/extproc/internal/quota"
)

func TestDescriptors(t *testing.T) {
	t.Parallel()
	require.Len(t, quota.Descriptors(quota.Subject{Client: "c", Tier: "free"}), 2, "no model: the client quotas only")
	ds := quota.Descriptors(quota.Subject{Client: "c", Tier: "free", Model: "iris", Version: "1"})
	require.Len(t, ds, 3)
	require.Equal(t, quota.Descriptor{Entries: []quota.Entry{{"quota", "client_model"}, {"tier", "free"}, {"client", "c"}, {"model", "iris"}, {"version", "1"}}}, ds[2])
	ds = quota.Descriptors(quota.Subject{Client: "c", Tier: "free", Model: "scribe", Version: "1", Tokens: 42})
	require.Len(t, ds, 7, "a prompt reserves tokens of the client's and the client+model's minute and day token quotas")
	require.Equal(t, quota.Descriptor{Entries: []quota.Entry{{"quota", "tokens_day"}, {"tier", "free"}, {"client", "c"}}, Hits: 42}, ds[4])
	require.Equal(t, quota.Descriptor{Entries: []quota.Entry{{"quota", "model_tokens_day"}, {"tier", "free"}, {"client", "c"}, {"model", "scribe"}}, Hits: 42}, ds[6])
	require.True(t, ds[3].Tokens())
	require.True(t, ds[6].Tokens())
	require.False(t, ds[0].Tokens())
	require.Len(t, quota.Descriptors(quota.Subject{Client: "c", Tier: "free", Model: "iris"}), 2, "an unresolved version names no model")
}

func TestTightestAndFields(t *testing.T) {
	t.Parallel()
	require.Nil(t, quota.Tightest(nil))
	l := quota.Tightest([]quota.Limit{
		{Requests: 60, Window: time.Minute, Remaining: 3, Reset: 10 * time.Second},
		{Requests: 5, Window: time.Second, Remaining: 3, Reset: 200 * time.Millisecond},
		{Requests: 1000, Window: time.Hour, Remaining: 900, Reset: time.Hour},
	})
	require.Equal(t, uint32(5), l.Requests, "a tie on remaining goes to the shorter window")
	f := l.Fields()
	require.Equal(t, quota.Field{Name: "x-ratelimit-limit", Value: "5, 5;w=1"}, f[0])
	require.Equal(t, quota.Field{Name: "x-ratelimit-remaining", Value: "3"}, f[1])
	require.Equal(t, quota.Field{Name: "x-ratelimit-reset", Value: "1"}, f[2], "rounded up, at least 1")
	require.Equal(t, int64(1), (&quota.ExceededError{}).RetryAfter())
	require.Equal(t, int64(11), (&quota.ExceededError{Limit: &quota.Limit{Reset: 10*time.Second + time.Millisecond}}).RetryAfter())
}
