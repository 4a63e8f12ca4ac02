package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/config"
	"github.com/modelgate/modelgate/extproc/internal/deprecation"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/configsource"
	"github.com/modelgate/modelgate/internal/openapi"
)

// MetricReloads counts reloads of the configuration and catalog, by result.
const MetricReloads = "modelgate.extproc.config_reloads"

// snapshot is one generation of the reloadable configuration.
type snapshot struct {
	catalogPath string
	cat         *catalog.Catalog
	dep         *deprecation.Table
	// features holds each version's input features (model → version →
	// set), read from the manifests once per load; a version whose
	// manifest could not be read has none and is not feature-checked.
	features map[string]map[string]*policy.Features
	// generations holds each text-generation version's generation block.
	generations map[string]map[string]*catalog.Generation
	// manifestErrs are the manifests that could not be read, for the log.
	manifestErrs []error
	// docs renders the OpenAPI document of this catalog.
	docs *openapi.Generator
}

// liveConfig holds the reloadable configuration (catalog, deprecations,
// features) and swaps it atomically; a request sees one generation or the
// next, never a mix. It is the processors' CatalogSource,
// DeprecationSource and FeatureSource.
type liveConfig struct {
	cfgPath string
	getenv  func(string) string
	logger  *slog.Logger
	keys    *authz.Store

	snap    atomic.Pointer[snapshot]
	mu      sync.Mutex // serialises reloads
	reloads metric.Int64Counter
}

func newLiveConfig(cfgPath string, cfg *config.Config, getenv func(string) string, logger *slog.Logger, meter metric.Meter) (*liveConfig, error) {
	lc := &liveConfig{cfgPath: cfgPath, getenv: getenv, logger: logger}
	var err error
	if lc.reloads, err = meter.Int64Counter(MetricReloads,
		metric.WithDescription("Reloads of the extproc configuration and model catalog, by result (ok or error)."),
		metric.WithUnit("{reload}")); err != nil {
		return nil, fmt.Errorf("create %s: %w", MetricReloads, err)
	}
	s, err := build(cfg)
	if err != nil {
		return nil, err
	}
	lc.snap.Store(s)
	lc.logManifests(context.Background(), s)
	return lc, nil
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
	features, generations, manifestErrs := loadManifests(cat)
	docs, err := loadDocuments(cfg, cat)
	if err != nil {
		return nil, err
	}
	return &snapshot{catalogPath: cfg.Catalog, cat: cat, dep: dep, features: features, generations: generations, manifestErrs: manifestErrs, docs: docs}, nil
}

// loadManifests reads the manifest of every catalogued version: the input
// features of tabular versions, the generation block of text ones. A
// manifest that is missing or broken is not fatal: the gateway then leaves
// that version's checks to inference, which refuses to serve it anyway.
func loadManifests(cat *catalog.Catalog) (map[string]map[string]*policy.Features, map[string]map[string]*catalog.Generation, []error) {
	out := make(map[string]map[string]*policy.Features, len(cat.Models))
	gens := map[string]map[string]*catalog.Generation{}
	var errs []error
	for _, name := range cat.ModelNames() {
		versions := make(map[string]*policy.Features, len(cat.Models[name].Versions))
		for _, v := range cat.Models[name].Versions {
			m, err := catalog.LoadManifest(cat.VersionDir(name, v), name, v)
			if err != nil {
				errs = append(errs, fmt.Errorf("model %s version %s: %w", name, v, err))
				continue
			}
			if m.Generation != nil {
				if gens[name] == nil {
					gens[name] = map[string]*catalog.Generation{}
				}
				gens[name][v] = m.Generation
				continue
			}
			names := make([]string, len(m.Inputs))
			for i, f := range m.Inputs {
				names[i] = f.Name
			}
			versions[v] = policy.NewFeatures(names)
		}
		out[name] = versions
	}
	return out, gens, errs
}

// logManifests reports the versions that will not be feature-checked.
func (l *liveConfig) logManifests(ctx context.Context, s *snapshot) {
	for _, err := range s.manifestErrs {
		l.logger.LogAttrs(ctx, slog.LevelWarn, "model manifest unavailable; the gateway does not check this version's features",
			slog.String("error", err.Error()))
	}
}

// Features implements [processor.FeatureSource]: the input features of a
// concrete version of c, nil when unknown or when c is no longer the
// catalog in force (a reload happened in between).
func (l *liveConfig) Features(c *catalog.Catalog, model, version string) *policy.Features {
	s := l.snap.Load()
	if s.cat != c {
		return nil
	}
	return s.features[model][version]
}

// Generation implements [processor.GenerationSource].
func (l *liveConfig) Generation(c *catalog.Catalog, model, version string) *catalog.Generation {
	s := l.snap.Load()
	if s.cat != c {
		return nil
	}
	return s.generations[model][version]
}

// Catalog implements [processor.CatalogSource].
func (l *liveConfig) Catalog() *catalog.Catalog { return l.snap.Load().cat }

// Deprecations implements [processor.DeprecationSource].
func (l *liveConfig) Deprecations() *deprecation.Table { return l.snap.Load().dep }

// loadConfig reads and validates the configuration file: the Load of the
// file source's updates.
func (l *liveConfig) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(l.cfgPath, l.getenv)
	if err == nil {
		err = cfg.Validate()
	}
	return cfg, err
}

// follow applies the updates of src until ctx is done. Where updates come
// from (files and SIGHUP today) is the source's business.
func (l *liveConfig) follow(ctx context.Context, src configsource.Source[*config.Config]) error {
	return configsource.Follow(ctx, src, func(ctx context.Context, u configsource.Update[*config.Config]) {
		_ = l.apply(ctx, u)
		if u.Requested && l.keys != nil {
			_ = l.keys.Reload(ctx)
		}
	})
}

// apply swaps in the catalog and deprecations of an update. A bad update
// keeps the generation in force; the failure is logged, counted and
// returned. Settings other than the catalog and deprecations need a
// restart.
func (l *liveConfig) apply(ctx context.Context, u configsource.Update[*config.Config]) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cfg, err := u.Load()
	var s *snapshot
	if err == nil {
		s, err = build(cfg)
	}
	if err != nil {
		l.reloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "error")))
		l.logger.LogAttrs(ctx, slog.LevelError, "configuration reload rejected; keeping the configuration in force",
			slog.String("path", l.cfgPath), slog.String("error", err.Error()))
		return err
	}
	l.snap.Store(s)
	l.logManifests(ctx, s)
	l.reloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "ok")))
	l.logger.LogAttrs(ctx, slog.LevelInfo, "configuration reloaded",
		slog.String("path", l.cfgPath), slog.Int("models", len(s.cat.Models)))
	return nil
}

// relevant reports whether a change to name may change the configuration:
// the config file or the catalog in force, or Kubernetes' ..data symlink
// swap.
func (l *liveConfig) relevant(name string) bool {
	base := filepath.Base(name)
	return base == filepath.Base(l.cfgPath) || base == filepath.Base(l.snap.Load().catalogPath) || base == "..data"
}
