package app

import (
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc"

	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/cache"
	"github.com/modelgate/modelgate/extproc/internal/config"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/extproc/internal/ratelimit"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/extproc/internal/server"
	"github.com/modelgate/modelgate/extproc/internal/usage"
	"github.com/modelgate/modelgate/internal/configsource"
)

// services are what run serves: the two gRPC services and what keeps
// their configuration current.
type services struct {
	authz   *server.Authz
	extproc *server.ExtProc
	live    *liveConfig
	// grpcOptions are extra gRPC server options (tracing).
	grpcOptions []grpc.ServerOption
	keys        *authz.Store
	updates     configsource.Source[*config.Config]
}

// closeStack holds what to release on exit, released last first.
type closeStack []func()

func (c *closeStack) push(f func()) { *c = append(*c, f) }

func (c closeStack) run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// wire builds the services from the configuration; what it opens is
// pushed on closers.
func wire(path string, cfg *config.Config, getenv func(string) string, logger *slog.Logger, meter metric.Meter, closers *closeStack) (*services, error) {
	live, err := newLiveConfig(path, cfg, getenv, logger, meter)
	if err != nil {
		return nil, err
	}
	validator, err := policy.Load(cfg.OpenAPI, policy.RequestSchemas...)
	if err != nil {
		return nil, err
	}
	// Repeated bodies (cache hits among them) skip schema validation.
	memo, err := policy.NewMemo(1<<16, 64<<10)
	if err != nil {
		return nil, err
	}
	closers.push(memo.Close)
	keys, err := authz.Open(cfg.KeysFile, authz.Options{Logger: logger, Meter: meter, Pepper: pepper(getenv)})
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	live.keys = keys
	var store *cache.Store
	if cfg.Cache.Enabled {
		if store, err = cache.New(cache.Config{MaxBytes: cfg.Cache.MaxBytes, TTL: cfg.Cache.TTL, CoalesceWait: cfg.Cache.CoalesceWait}); err != nil {
			return nil, err
		}
		closers.push(store.Close)
	}
	predict := processor.PredictConfig{
		Catalog:     live,
		Features:    live,
		Validator:   validator,
		ValidBodies: memo,
		Cache: processor.CacheConfig{
			Store: store, ShareAcrossClients: cfg.Cache.ShareAcrossClients, MaxEntryBytes: cfg.Cache.MaxEntryBytes,
			LeanFill: cfg.Cache.LeanFill,
		},
		Limits: processor.Limits{MaxBodyBytes: cfg.Limits.MaxBodyBytes, MaxRows: cfg.Limits.MaxRows},
		Now:    time.Now,
	}
	svc := &services{authz: server.NewAuthz(keys, logger, meter), live: live, keys: keys}
	llm := processor.LLMConfig{
		Catalog: live, Generations: live, Validator: validator,
		MaxTokens: cfg.LLM.MaxTokens, LeanStream: cfg.LLM.LeanStream, MaxBodyBytes: cfg.Limits.MaxBodyBytes, Now: time.Now,
	}
	if svc.extproc, err = newExtProc(cfg, predict, llm, svc, logger, meter, closers); err != nil {
		return nil, err
	}
	// Catalog and deprecation updates: the files and SIGHUP. Another source
	// (a control plane) would be built here; liveConfig.follow does not
	// change.
	src, err := configsource.NewFile(configsource.FileConfig[*config.Config]{
		Paths: []string{path, cfg.Catalog}, Watch: cfg.Watch, Relevant: live.relevant, Load: live.loadConfig, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	closers.push(src.Stop)
	svc.updates = src
	return svc, nil
}

// newExtProc builds the ext_proc server with its admission (keys and
// quotas checked in the stream in ext_proc mode) and its processors.
func newExtProc(cfg *config.Config, predict processor.PredictConfig, llm processor.LLMConfig, svc *services, logger *slog.Logger, meter metric.Meter, closers *closeStack) (*server.ExtProc, error) {
	recorder, err := usage.New(logger, meter)
	if err != nil {
		return nil, err
	}
	static, err := loadStatic(cfg.OpenAPI)
	if err != nil {
		return nil, err
	}
	admission := processor.AdmissionConfig{Scopes: keyScopes{svc.keys}, Deprecations: svc.live, Methods: static, Now: time.Now}
	if cfg.Gateway.Mode == config.ModeExtProc {
		rl, err := ratelimit.Dial(grpcTarget(cfg.Gateway.RateLimit.Addr), ratelimit.Options{
			Domain: quota.Domain, Timeout: cfg.Gateway.RateLimit.Timeout, UnlimitedTTL: cfg.Gateway.RateLimit.UnlimitedTTL,
			Meter: meter, Logger: logger,
		})
		if err != nil {
			return nil, err
		}
		closers.push(func() { _ = rl.Close() })
		admission.Keys, admission.Quota = svc.authz, rl
	}
	adm := processor.NewAdmission(admission)
	ep := server.NewExtProc(adm, recorder, logger)
	ep.Register(routing.V1Predict, processor.NewV1Predict(predict, adm))
	ep.Register(routing.V2Predict, processor.NewV2Predict(predict, adm))
	ep.Register(routing.Infer, processor.NewInfer(predict, adm))
	ep.Register(routing.ModelMetadata, processor.NewMetadata(svc.live, adm))
	ep.Register(routing.Document, processor.NewDocument(svc.live, adm))
	ep.Register(routing.ChatCompletions, processor.NewChatCompletions(llm, adm))
	ep.Register(routing.Completions, processor.NewCompletions(llm, adm))
	ep.Register(routing.Models, processor.NewModels(adm))
	ep.Register(routing.ModelList, processor.NewModelList(svc.live, adm))
	ep.Register(routing.Jobs, processor.NewJobs(predict, processor.Limits{
		MaxBodyBytes: cfg.Limits.JobsMaxBodyBytes, MaxRows: cfg.Limits.JobsMaxRows, MaxDocumentBytes: cfg.Limits.JobsMaxDocumentBytes,
	}, llm, adm))
	return ep, nil
}

// keyScopes answers model scope questions from the API keys in force.
type keyScopes struct{ store *authz.Store }

// Allows implements [processor.Scopes].
func (k keyScopes) Allows(keyID, model string) bool {
	p, ok := k.store.Lookup(keyID)
	return ok && p.Allows(model)
}
