package lifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeServer records the calls made to it; a busy server's Shutdown waits
// for its context.
type fakeServer struct {
	mu       sync.Mutex
	calls    []string
	busy     bool
	closeErr error
}

func (f *fakeServer) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeServer) Shutdown(ctx context.Context) error {
	f.record("shutdown")
	if f.busy {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeServer) Close() error {
	f.record("close")
	return f.closeErr
}

func (f *fakeServer) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		first     *fakeServer
		second    *fakeServer
		wantFirst []string
		wantErr   bool
	}{
		{
			name: "stops idle servers gracefully", first: &fakeServer{}, second: &fakeServer{},
			wantFirst: []string{"shutdown"},
		},
		{
			name:  "closes a server that overruns the timeout and still stops the next",
			first: &fakeServer{busy: true}, second: &fakeServer{},
			wantFirst: []string{"shutdown", "close"}, wantErr: true,
		},
		{
			name: "reports a failed close too", first: &fakeServer{busy: true, closeErr: errors.New("stuck")}, second: &fakeServer{},
			wantFirst: []string{"shutdown", "close"}, wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var order []string
			notReady := func() { order = append(order, "not ready") }
			err := Shutdown(slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Timeout: 20 * time.Millisecond}, notReady,
				Named{Name: "first", Server: tc.first}, Named{Name: "second", Server: tc.second})
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			if tc.first.closeErr != nil {
				require.ErrorIs(t, err, tc.first.closeErr, "the close failure is reported too")
			}
			require.Equal(t, []string{"not ready"}, order)
			require.Equal(t, tc.wantFirst, tc.first.got())
			require.Equal(t, []string{"shutdown"}, tc.second.got(), "the next server still stops gracefully")
		})
	}
}

func TestFuncs(t *testing.T) {
	t.Parallel()
	t.Run("waits for a graceful stop that finishes", func(t *testing.T) {
		t.Parallel()
		f := Funcs{Graceful: func() {}, Hard: func() { t.Error("hard stop not expected") }}
		require.NoError(t, f.Shutdown(t.Context()))
	})
	t.Run("gives up when the context ends and the hard stop ends the graceful one", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		ended := make(chan struct{})
		f := Funcs{Graceful: func() { <-release; close(ended) }, Hard: func() { close(release) }}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, f.Shutdown(ctx), context.DeadlineExceeded)
		require.NoError(t, f.Close())
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatal("graceful stop still running after the hard stop")
		}
	})
}
