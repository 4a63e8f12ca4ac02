package testutil

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(start)
	require.Equal(t, start, c.Now(), "stands still by default")
	require.Equal(t, start, c.Now())

	c.Advance(time.Minute)
	require.Equal(t, start.Add(time.Minute), c.Now())

	c.Set(start)
	c.Step(time.Second)
	require.Equal(t, start, c.Now(), "a reading returns the time before the step")
	require.Equal(t, start.Add(time.Second), c.Now())
	c.Step(0)
	require.Equal(t, start.Add(2*time.Second), c.Now())
	require.Equal(t, start.Add(2*time.Second), c.Now(), "stands still again")
}
