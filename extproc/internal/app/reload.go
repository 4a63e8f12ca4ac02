package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/config"
	"github.com/modelgate/modelgate/extproc/internal/deprecation"
	"github.com/modelgate/modelgate/internal/catalog"
)

// MetricReloads counts reloads of the configuration and catalog, by result.
const MetricReloads = "modelgate.extproc.config_reloads"

// snapshot is one generation of the reloadable configuration.
type snapshot struct {
	catalogPath string
	cat         *catalog.Catalog
	dep         *deprecation.Table
}

// runtime holds the reloadable configuration (catalog, deprecations) and
// swaps it atomically; a request sees one generation or the next, never a
// mix. It implements processor.Runtime.
type runtime struct {
	cfgPath string
	getenv  func(string) string
	logger  *slog.Logger
	keys    *authz.Store

	snap    atomic.Pointer[snapshot]
	mu      sync.Mutex // serialises reloads
	reloads metric.Int64Counter
}

func newRuntime(cfgPath string, cfg *config.Config, getenv func(string) string, logger *slog.Logger, meter metric.Meter) (*runtime, error) {
	rt := &runtime{cfgPath: cfgPath, getenv: getenv, logger: logger}
	var err error
	if rt.reloads, err = meter.Int64Counter(MetricReloads,
		metric.WithDescription("Reloads of the extproc configuration and model catalog, by result (ok or error)."),
		metric.WithUnit("{reload}")); err != nil {
		return nil, fmt.Errorf("create %s: %w", MetricReloads, err)
	}
	s, err := build(cfg)
	if err != nil {
		return nil, err
	}
	rt.snap.Store(s)
	return rt, nil
}

func build(cfg *config.Config) (*snapshot, error) {
	cat, err := catalog.Load(cfg.Catalog)
	if err != nil {
		return nil, err
	}
	dep, err := deprecation.New(cfg.Deprecations)
	if err != nil {
		return nil, err
	}
	return &snapshot{catalogPath: cfg.Catalog, cat: cat, dep: dep}, nil
}

// Catalog implements processor.Runtime.
func (r *runtime) Catalog() *catalog.Catalog { return r.snap.Load().cat }

// Deprecations implements processor.Runtime.
func (r *runtime) Deprecations() *deprecation.Table { return r.snap.Load().dep }

// Reload re-reads the configuration file and the catalog. A bad file keeps
// the generation in force; the failure is logged, counted and returned.
// Settings other than the catalog and deprecations need a restart.
func (r *runtime) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := config.Load(r.cfgPath, r.getenv)
	if err == nil {
		err = cfg.Validate()
	}
	var s *snapshot
	if err == nil {
		s, err = build(cfg)
	}
	if err != nil {
		r.reloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "error")))
		r.logger.LogAttrs(ctx, slog.LevelError, "configuration reload rejected; keeping the configuration in force",
			slog.String("path", r.cfgPath), slog.String("error", err.Error()))
		return err
	}
	r.snap.Store(s)
	r.reloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "ok")))
	r.logger.LogAttrs(ctx, slog.LevelInfo, "configuration reloaded",
		slog.String("path", r.cfgPath), slog.Int("models", len(s.cat.Models)))
	return nil
}

// watch reloads on SIGHUP and, when enabled, on changes to the
// configuration or catalog file, until ctx is done. It watches the
// directories, not the files: editors and Kubernetes replace files by
// renaming, which ends a watch on the old inode.
func (r *runtime) watch(ctx context.Context, files bool) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if files {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return fmt.Errorf("watch configuration: %w", err)
		}
		defer w.Close()
		for _, p := range []string{r.cfgPath, r.snap.Load().catalogPath} {
			if err := w.Add(dirOf(p)); err != nil {
				return fmt.Errorf("watch %s: %w", dirOf(p), err)
			}
		}
		events, watchErrs = w.Events, w.Errors
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			_ = r.Reload(ctx)
			if r.keys != nil {
				_ = r.keys.Reload(ctx)
			}
		case ev, ok := <-events:
			if !ok {
				return errors.New("watch configuration: event channel closed")
			}
			if r.relevant(ev.Name) {
				debounce.Reset(100 * time.Millisecond)
			}
		case err, ok := <-watchErrs:
			if !ok {
				return errors.New("watch configuration: error channel closed")
			}
			r.logger.LogAttrs(ctx, slog.LevelWarn, "configuration watch error", slog.String("error", err.Error()))
			debounce.Reset(100 * time.Millisecond)
		case <-debounce.C:
			_ = r.Reload(ctx)
		}
	}
}

// relevant reports whether a change to name may change the configuration:
// the config or catalog file itself, or Kubernetes' ..data symlink swap.
func (r *runtime) relevant(name string) bool {
	base := filepath.Base(name)
	return base == filepath.Base(r.cfgPath) || base == filepath.Base(r.snap.Load().catalogPath) || base == "..data"
}

func dirOf(p string) string {
	d := filepath.Dir(filepath.Clean(p))
	if d == "" {
		return "."
	}
	return d
}
