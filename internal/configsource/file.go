package configsource

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// FileConfig configures a [File] source.
type FileConfig[T any] struct {
	// Paths are the configuration files. Their directories are watched,
	// not the files: editors and Kubernetes replace files by renaming,
	// which ends a watch on the old inode.
	Paths []string
	// Watch turns on the file watch; without it only the signal reloads.
	Watch bool
	// Tree watches the directories of Paths with every folder below them,
	// also folders created later: a model repository, where a training
	// run adds a version folder beside the catalog. A folder that cannot
	// be watched is logged and skipped.
	Tree bool
	// Relevant decides whether a change to the file name may change the
	// configuration. Nil: the base name of one of Paths, or Kubernetes'
	// ..data symlink swap.
	Relevant func(name string) bool
	// Load reads the configuration; each update carries it.
	Load func() (T, error)
	// Debounce is how long changes must be quiet before an update (100 ms
	// when zero): one save is several events.
	Debounce time.Duration
	// Signal is the operator's reload signal, SIGHUP when nil.
	Signal os.Signal
	// Logger gets watch errors; nil discards them.
	Logger *slog.Logger
}

// File is a [Source] of configuration files: an update when a watched
// file changes (debounced) or a watch error may have lost changes, and a
// requested update on the reload signal.
type File[T any] struct {
	cfg     FileConfig[T]
	updates chan Update[T]
	stop    chan struct{}
	once    sync.Once
	done    chan struct{}
}

var _ Source[int] = (*File[int])(nil)

// NewFile starts a file source. The signal is caught from the moment it
// returns.
func NewFile[T any](cfg FileConfig[T]) (*File[T], error) {
	if cfg.Load == nil {
		return nil, errors.New("configsource: FileConfig.Load is required")
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	if cfg.Signal == nil {
		cfg.Signal = syscall.SIGHUP
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Relevant == nil {
		cfg.Relevant = baseNames(cfg.Paths)
	}
	var w *fsnotify.Watcher
	if cfg.Watch {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			return nil, fmt.Errorf("watch configuration: %w", err)
		}
		for _, p := range cfg.Paths {
			if err := w.Add(dirOf(p)); err != nil {
				_ = w.Close()
				return nil, fmt.Errorf("watch %s: %w", dirOf(p), err)
			}
			if cfg.Tree {
				addTree(w, dirOf(p), cfg.Logger)
			}
		}
	}
	f := &File[T]{cfg: cfg, updates: make(chan Update[T]), stop: make(chan struct{}), done: make(chan struct{})}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, cfg.Signal)
	go f.run(w, sig)
	return f, nil
}

// Updates implements [Source.Updates].
func (f *File[T]) Updates() <-chan Update[T] { return f.updates }

// Stop implements [Source.Stop]; it returns once the watch is released.
func (f *File[T]) Stop() {
	f.once.Do(func() { close(f.stop) })
	<-f.done
}

func (f *File[T]) run(w *fsnotify.Watcher, sig chan os.Signal) {
	defer close(f.done)
	defer close(f.updates)
	defer signal.Stop(sig)
	var (
		events    <-chan fsnotify.Event
		watchErrs <-chan error
	)
	if w != nil {
		defer w.Close()
		events, watchErrs = w.Events, w.Errors
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-sig:
			if !f.send(Update[T]{Load: f.cfg.Load, Requested: true}) {
				return
			}
		case ev, ok := <-events:
			if !ok {
				f.fail(errors.New("watch configuration: event channel closed"))
				return
			}
			if f.cfg.Tree && ev.Has(fsnotify.Create) {
				addTree(w, ev.Name, f.cfg.Logger)
			}
			if f.cfg.Relevant(ev.Name) {
				debounce.Reset(f.cfg.Debounce)
			}
		case err, ok := <-watchErrs:
			if !ok {
				f.fail(errors.New("watch configuration: error channel closed"))
				return
			}
			// An overflow means events were lost; reload to be sure.
			f.cfg.Logger.Warn("configuration watch error", slog.String("error", err.Error()))
			debounce.Reset(f.cfg.Debounce)
		case <-debounce.C:
			if !f.send(Update[T]{Load: f.cfg.Load}) {
				return
			}
		}
	}
}

// send delivers u unless the source is stopped first.
func (f *File[T]) send(u Update[T]) bool {
	select {
	case f.updates <- u:
		return true
	case <-f.stop:
		return false
	}
}

// fail logs why the source ends; closing Updates tells the consumer.
func (f *File[T]) fail(err error) {
	f.cfg.Logger.Error("configuration source stopped", slog.String("error", err.Error()))
}

// baseNames is the default relevance: the base name of one of paths, or
// Kubernetes' ..data symlink swap.
func baseNames(paths []string) func(string) bool {
	names := map[string]bool{"..data": true}
	for _, p := range paths {
		names[filepath.Base(p)] = true
	}
	return func(name string) bool { return names[filepath.Base(name)] }
}

// addTree watches the folders below root, root included when it is a
// folder; a plain file is no error, as a created name may be either.
func addTree(w *fsnotify.Watcher, root string, logger *slog.Logger) {
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if err := w.Add(p); err != nil {
			logger.Warn("cannot watch folder", slog.String("path", p), slog.String("error", err.Error()))
		}
		return nil
	})
}

func dirOf(p string) string {
	d := filepath.Dir(filepath.Clean(p))
	if d == "" {
		return "."
	}
	return d
}
