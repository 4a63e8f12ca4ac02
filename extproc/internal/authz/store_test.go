package authz

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/modelgate/modelgate/internal/testutil"
)

var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// issue makes a key and its entry for client acme.
func issue(t testing.TB, pepper []byte, edit func(*Entry)) (string, Entry) {
	t.Helper()
	k, err := Issue(EnvLive, rand.Reader, pepper)
	require.NoError(t, err)
	e := Entry{
		ID: k.ID, Prefix: k.Prefix, Hash: k.Hash, Client: "acme", Tier: "pro",
		Models: []string{"iris"}, Created: epoch,
	}
	if edit != nil {
		edit(&e)
	}
	return k.Key, e
}

// writeKeys writes entries to path atomically, as keys revoke does.
func writeKeys(t testing.TB, path string, entries ...Entry) {
	t.Helper()
	data, err := (&File{Keys: entries}).Marshal()
	require.NoError(t, err)
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

func keysPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "keys.yaml")
}

func TestStore_Authenticate(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(epoch)
	active, activeEntry := issue(t, nil, nil)
	revoked, revokedEntry := issue(t, nil, func(e *Entry) { e.Disabled = true })
	expiring, expiringEntry := issue(t, nil, func(e *Entry) { e.Expires = epoch.Add(time.Hour) })
	stranger, _ := issue(t, nil, nil)
	path := keysPath(t)
	writeKeys(t, path, activeEntry, revokedEntry, expiringEntry)
	s, err := Open(path, Options{Now: clock.Now})
	require.NoError(t, err)
	require.Equal(t, 3, s.Len())

	// A key with a known id but a different secret.
	forged := active[:len(active)-4] + "aaaa"
	if forged == active {
		forged = active[:len(active)-4] + "bbbb"
	}

	tests := []struct {
		name    string
		key     string
		want    Principal
		wantErr error
	}{
		{name: "accepts an active key", key: active, want: Principal{KeyID: activeEntry.ID, Client: "acme", Tier: "pro", Models: []string{"iris"}}},
		{name: "accepts a key before its expiry", key: expiring, want: expiringEntry.Principal()},
		{name: "rejects a key that is in no file", key: stranger, wantErr: ErrUnknown},
		{name: "rejects a known id with the wrong secret", key: forged, wantErr: ErrUnknown},
		{name: "rejects a revoked key", key: revoked, wantErr: ErrRevoked},
		{name: "rejects a string that is not a key", key: "hunter2", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Authenticate(tt.key)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Zero(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("rejects a key once the clock passes its expiry", func(t *testing.T) {
		// Not parallel: it moves the shared clock after the others ran.
		t.Cleanup(func() { clock.Set(epoch) })
		clock.Set(epoch.Add(time.Hour))
		_, err := s.Authenticate(expiring)
		require.ErrorIs(t, err, ErrExpired)
		_, ok := s.Lookup(expiringEntry.ID)
		require.False(t, ok)
	})
}

func TestStore_Lookup(t *testing.T) {
	t.Parallel()
	_, active := issue(t, nil, nil)
	_, revoked := issue(t, nil, func(e *Entry) { e.Disabled = true })
	path := keysPath(t)
	writeKeys(t, path, active, revoked)
	s, err := Open(path, Options{})
	require.NoError(t, err)

	p, ok := s.Lookup(active.ID)
	require.True(t, ok)
	require.Equal(t, active.Principal(), p)
	_, ok = s.Lookup(revoked.ID)
	require.False(t, ok, "a revoked key is not in force")
	_, ok = s.Lookup("zzzzzzzz")
	require.False(t, ok)
}

func TestStore_pepper(t *testing.T) {
	t.Parallel()
	pepper := []byte("a pepper kept outside the file")
	key, entry := issue(t, pepper, nil)
	path := keysPath(t)
	writeKeys(t, path, entry)

	t.Run("authenticates a peppered key with the pepper", func(t *testing.T) {
		t.Parallel()
		s, err := Open(path, Options{Pepper: pepper})
		require.NoError(t, err)
		_, err = s.Authenticate(key)
		require.NoError(t, err)
	})
	t.Run("refuses to open peppered hashes without a pepper", func(t *testing.T) {
		t.Parallel()
		_, err := Open(path, Options{})
		require.ErrorContains(t, err, "keys[0].hash: hmac-sha256 needs a pepper")
	})
	t.Run("rejects a peppered key under the wrong pepper", func(t *testing.T) {
		t.Parallel()
		s, err := Open(path, Options{Pepper: []byte("another pepper")})
		require.NoError(t, err)
		_, err = s.Authenticate(key)
		require.ErrorIs(t, err, ErrUnknown)
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	t.Run("fails on a missing file", func(t *testing.T) {
		t.Parallel()
		_, err := Open(filepath.Join(t.TempDir(), "nope.yaml"), Options{})
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("fails on an invalid file with the field path", func(t *testing.T) {
		t.Parallel()
		_, err := Open(filepath.Join("testdata", "keys", "every_field_wrong.yaml"), Options{})
		require.ErrorContains(t, err, "keys[0].hash")
	})
}

// metricValue returns the sum of the counter or the last value of the gauge
// name with result attribute result ("" for none).
func metricValue(t testing.TB, r *sdkmetric.ManualReader, name, result string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(t.Context(), &rm))
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			for _, p := range points {
				if v, ok := p.Attributes.Value("result"); result == "" || (ok && v.AsString() == result) {
					total += p.Value
				}
			}
		}
	}
	return total
}

func TestStore_Reload(t *testing.T) {
	t.Parallel()
	key, entry := issue(t, nil, nil)
	path := keysPath(t)
	writeKeys(t, path, entry)
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := Open(path, Options{Meter: meter, Logger: logger})
	require.NoError(t, err)
	require.EqualValues(t, 1, metricValue(t, reader, MetricReloads, "ok"))
	require.EqualValues(t, 1, metricValue(t, reader, MetricLoaded, ""))

	// A broken file: the hash of the entry is cut short.
	broken := entry
	broken.Hash = broken.Hash[:40]
	writeKeys(t, path, broken)
	err = s.Reload(t.Context())
	require.ErrorContains(t, err, "keys[0].hash")
	_, err = s.Authenticate(key)
	require.NoError(t, err, "the previous keys stay in force")
	require.EqualValues(t, 1, metricValue(t, reader, MetricReloads, "error"))
	require.Contains(t, logs.String(), "keys[0].hash")
	require.NotContains(t, logs.String(), entry.Hash[len("sha256:"):][:16])
	require.NotContains(t, logs.String(), key[len(entry.Prefix):])

	// Unchanged contents are not reloaded again.
	require.NoError(t, s.Reload(t.Context()))
	require.EqualValues(t, 1, metricValue(t, reader, MetricReloads, "error"))

	// Fixing the file brings the new set in.
	revoked := entry
	revoked.Disabled = true
	writeKeys(t, path, revoked)
	require.NoError(t, s.Reload(t.Context()))
	_, err = s.Authenticate(key)
	require.ErrorIs(t, err, ErrRevoked)
	require.EqualValues(t, 2, metricValue(t, reader, MetricReloads, "ok"))
}

// watch starts s.Watch and stops it when the test ends.
func watch(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func TestStore_Watch(t *testing.T) {
	t.Parallel()
	const within = 2 * time.Second
	const poll = 10 * time.Millisecond

	t.Run("stops a key replaced by atomic rename within 2 s", func(t *testing.T) {
		t.Parallel()
		key, entry := issue(t, nil, nil)
		path := keysPath(t)
		writeKeys(t, path, entry)
		s, err := Open(path, Options{})
		require.NoError(t, err)
		watch(t, s)

		entry.Disabled = true
		writeKeys(t, path, entry)
		require.Eventually(t, func() bool {
			_, err := s.Authenticate(key)
			return errors.Is(err, ErrRevoked)
		}, within, poll)
	})
	t.Run("sees a file rewritten in place", func(t *testing.T) {
		t.Parallel()
		key, entry := issue(t, nil, nil)
		path := keysPath(t)
		writeKeys(t, path, entry)
		s, err := Open(path, Options{})
		require.NoError(t, err)
		watch(t, s)

		entry.Disabled = true
		data, err := (&File{Keys: []Entry{entry}}).Marshal()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		require.Eventually(t, func() bool {
			_, err := s.Authenticate(key)
			return errors.Is(err, ErrRevoked)
		}, within, poll)
	})
	t.Run("keeps the old set when the new file is broken", func(t *testing.T) {
		t.Parallel()
		key, entry := issue(t, nil, nil)
		path := keysPath(t)
		writeKeys(t, path, entry)
		reader := sdkmetric.NewManualReader()
		meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
		s, err := Open(path, Options{Meter: meter, Debounce: 10 * time.Millisecond})
		require.NoError(t, err)
		watch(t, s)

		require.NoError(t, os.WriteFile(path+".tmp", []byte("keys: [\n"), 0o600))
		require.NoError(t, os.Rename(path+".tmp", path))
		require.Eventually(t, func() bool {
			return metricValue(t, reader, MetricReloads, "error") >= 1
		}, within, poll)
		_, err = s.Authenticate(key)
		require.NoError(t, err)
	})
	t.Run("adds a key created after the watch started", func(t *testing.T) {
		t.Parallel()
		_, first := issue(t, nil, nil)
		second, secondEntry := issue(t, nil, nil)
		path := keysPath(t)
		writeKeys(t, path, first)
		s, err := Open(path, Options{})
		require.NoError(t, err)
		watch(t, s)

		writeKeys(t, path, first, secondEntry)
		require.Eventually(t, func() bool {
			_, err := s.Authenticate(second)
			return err == nil
		}, within, poll)
	})
}

func TestStore_Watch_returnsWhenCancelled(t *testing.T) {
	t.Parallel()
	_, entry := issue(t, nil, nil)
	path := keysPath(t)
	writeKeys(t, path, entry)
	s, err := Open(path, Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.NoError(t, s.Watch(ctx))
}
