package logging_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/logging"
)

// lockedBuffer is a bytes.Buffer safe for the flusher goroutine.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) snapshot() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

func TestBuffered_batchesWholeLinesAndLosesNothing(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	b := logging.NewBuffered(&out, 64, time.Hour)
	line := strings.Repeat("x", 19) + "\n" // 20 bytes
	for range 10 {
		_, err := b.Write([]byte(line))
		require.NoError(t, err)
	}
	got, writes := out.snapshot()
	require.Equal(t, strings.Repeat(line, 9), got, "full buffers were written out, whole lines only")
	require.Equal(t, 3, writes, "three lines per write instead of one")
	require.NoError(t, b.Close())
	got, _ = out.snapshot()
	require.Equal(t, strings.Repeat(line, 10), got, "Close flushes the rest")
}

func TestBuffered_flushesOnInterval(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	b := logging.NewBuffered(&out, 1<<16, 10*time.Millisecond)
	defer b.Close()
	_, err := b.Write([]byte("one line\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { s, _ := out.snapshot(); return s == "one line\n" }, 2*time.Second, 5*time.Millisecond)
}

func TestBuffered_longerThanTheBuffer(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	b := logging.NewBuffered(&out, 16, time.Hour)
	long := strings.Repeat("y", 100) + "\n"
	_, err := b.Write([]byte("short\n"))
	require.NoError(t, err)
	_, err = b.Write([]byte(long))
	require.NoError(t, err)
	require.NoError(t, b.Close())
	got, _ := out.snapshot()
	require.Equal(t, "short\n"+long, got)
}
