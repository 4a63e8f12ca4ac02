package configsource_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/configsource"
)

// next returns the next update, failing after a second.
func next(t *testing.T, src configsource.Source[string]) configsource.Update[string] {
	t.Helper()
	select {
	case u, ok := <-src.Updates():
		require.True(t, ok, "the source is still running")
		return u
	case <-time.After(time.Second):
		t.Fatal("no update")
		return configsource.Update[string]{}
	}
}

// none fails on any update within d.
func none(t *testing.T, src configsource.Source[string], d time.Duration) {
	t.Helper()
	select {
	case u := <-src.Updates():
		t.Fatalf("unexpected update (requested %v)", u.Requested)
	case <-time.After(d):
	}
}

func newFile(t *testing.T, cfg configsource.FileConfig[string]) *configsource.File[string] {
	t.Helper()
	src, err := configsource.NewFile(cfg)
	require.NoError(t, err)
	t.Cleanup(src.Stop)
	return src
}

func TestFile_updatesOnChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte("a"), 0o600))
	src := newFile(t, configsource.FileConfig[string]{
		Paths: []string{path}, Watch: true, Debounce: 20 * time.Millisecond,
		Signal: syscall.SIGUSR2, // never sent: only the watch speaks here
		Load: func() (string, error) {
			b, err := os.ReadFile(path)
			return string(b), err
		},
	})

	t.Run("a replaced file is one update carrying the new contents", func(t *testing.T) {
		require.NoError(t, os.WriteFile(path+".tmp", []byte("b"), 0o600))
		require.NoError(t, os.Rename(path+".tmp", path))
		u := next(t, src)
		require.False(t, u.Requested)
		got, err := u.Load()
		require.NoError(t, err)
		require.Equal(t, "b", got)
		none(t, src, 100*time.Millisecond)
	})
	t.Run("another file in the directory is no update", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "unrelated.txt"), []byte("x"), 0o600))
		none(t, src, 100*time.Millisecond)
	})
}

func TestFile_signalIsARequestedUpdate(t *testing.T) {
	t.Parallel()
	src := newFile(t, configsource.FileConfig[string]{
		Signal: syscall.SIGUSR1,
		Load:   func() (string, error) { return "loaded", nil },
	})
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	u := next(t, src)
	require.True(t, u.Requested)
	got, err := u.Load()
	require.NoError(t, err)
	require.Equal(t, "loaded", got)
}

func TestFile_stopClosesUpdates(t *testing.T) {
	t.Parallel()
	src, err := configsource.NewFile(configsource.FileConfig[string]{
		Paths: []string{filepath.Join(t.TempDir(), "c.yaml")}, Watch: true, Signal: syscall.SIGUSR2,
		Load: func() (string, error) { return "", nil },
	})
	require.NoError(t, err)
	src.Stop()
	src.Stop() // twice is fine
	_, ok := <-src.Updates()
	require.False(t, ok)
}

func TestNewFile_refusesWhatItCannotWatch(t *testing.T) {
	t.Parallel()
	_, err := configsource.NewFile(configsource.FileConfig[string]{
		Paths: []string{filepath.Join(t.TempDir(), "missing", "c.yaml")}, Watch: true, Signal: syscall.SIGUSR2,
		Load: func() (string, error) { return "", nil },
	})
	require.ErrorContains(t, err, "watch")
	_, err = configsource.NewFile(configsource.FileConfig[string]{})
	require.ErrorContains(t, err, "Load")
}

func TestFile_treeWatchesNewFolders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.yaml")
	require.NoError(t, os.WriteFile(path, []byte("a"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "iris", "1"), 0o755))
	src := newFile(t, configsource.FileConfig[string]{
		Paths: []string{path}, Watch: true, Tree: true, Debounce: 20 * time.Millisecond,
		Relevant: func(string) bool { return true },
		Signal:   syscall.SIGUSR2,
		Load:     func() (string, error) { return "", nil },
	})

	t.Run("a change in an existing subfolder is an update", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "iris", "1", "model.json"), []byte("{}"), 0o600))
		require.False(t, next(t, src).Requested)
	})
	t.Run("a change in a folder created later is an update", func(t *testing.T) {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "iris", "2"), 0o755))
		require.False(t, next(t, src).Requested) // the folder's creation
		require.NoError(t, os.WriteFile(filepath.Join(dir, "iris", "2", "model.json"), []byte("{}"), 0o600))
		require.False(t, next(t, src).Requested)
	})
}
