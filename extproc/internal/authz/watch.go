package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the keys file whenever it changes, until ctx is done; then
// it returns nil. Call it once, in its own goroutine.
//
// It watches the file's directory rather than the file: editors and
// `extproc keys revoke` replace the file by renaming a new one over it,
// which ends a watch on the old inode, and Kubernetes swaps a "..data"
// symlink in the directory. Events are debounced, and a reload whose
// contents did not change does nothing. A broken file is rejected and the
// keys in force stay (see [Store.Reload]).
func (s *Store) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch keys file: %w", err)
	}
	defer w.Close()
	dir, base := filepath.Split(filepath.Clean(s.path))
	if dir == "" {
		dir = "."
	}
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch keys file directory %s: %w", dir, err)
	}
	// The file may have changed between Open and now.
	_, _ = s.load(ctx)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watch keys file: event channel closed")
			}
			if relevant(ev.Name, base) {
				timer.Reset(s.debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch keys file: error channel closed")
			}
			// An overflow means events were lost; reload to be sure.
			s.logger.LogAttrs(ctx, slog.LevelWarn, "api keys file watch error",
				slog.String("path", s.path), slog.String("error", err.Error()))
			timer.Reset(s.debounce)
		case <-timer.C:
			_, _ = s.load(ctx) // failures are logged and counted by load
		}
	}
}

// relevant reports whether an event on name may change the keys file
// named base: the file itself or a Kubernetes atomic-writer entry.
func relevant(name, base string) bool {
	n := filepath.Base(name)
	return n == base || strings.HasPrefix(n, "..")
}
