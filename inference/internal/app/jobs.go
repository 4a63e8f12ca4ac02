package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/httpapi"
	"github.com/modelgate/modelgate/inference/internal/jobs"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/inference/internal/webhook"
)

// jobsRuntime is the jobs machinery of one process: the store the routes
// use, a worker per served version (prediction or chat completion jobs)
// and the webhook dispatcher.
type jobsRuntime struct {
	routes httpapi.JobsConfig
	rdb    *redis.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startJobs connects to the jobs Redis and starts the workers and the
// dispatcher; nil when jobs are not configured. The workers serve the
// versions served at start.
func startJobs(cfg *config.Config, log *slog.Logger, meter metric.Meter, reg *atomic.Pointer[registry.Registry]) (*jobsRuntime, error) {
	if cfg.JobsRedis == "" {
		return nil, nil
	}
	jm, err := jobs.NewMetrics(meter)
	if err != nil {
		return nil, err
	}
	wm, err := webhook.NewMetrics(meter)
	if err != nil {
		return nil, err
	}
	opts := &redis.Options{Addr: cfg.JobsRedis}
	if strings.HasPrefix(cfg.JobsRedis, "/") {
		opts.Network = "unix"
	}
	rdb := redis.NewClient(opts)
	secrets, err := webhook.OpenSecrets(cfg.WebhookSecrets)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	store := jobs.NewStore(jobs.Config{TTL: cfg.JobsTTL, MaxActive: cfg.JobsMaxActive}, rdb)
	sender := webhook.NewSender(webhook.SenderConfig{AllowPrefixes: cfg.WebhookAllow, AllowHTTP: cfg.WebhookAllowHTTP})
	ctx, cancel := context.WithCancel(context.Background())
	rt := &jobsRuntime{rdb: rdb, cancel: cancel, routes: httpapi.JobsConfig{
		Store: store, MaxRows: cfg.JobsMaxRows, MaxBodyBytes: cfg.JobsMaxBodyBytes, CheckWebhook: sender.CheckURL,
		HasSecret: func(client string) bool { return len(secrets.Secrets(client)) > 0 },
	}}
	host, _ := os.Hostname()
	tabular, chat := jobs.NewTabular(reg), jobs.NewChat(reg, nil)
	for _, v := range reg.Load().Versions() {
		var runner jobs.Runner = tabular
		switch {
		case v.Generator != nil:
			runner = chat
		case v.Engine == nil:
			continue
		}
		w := jobs.NewWorker(jobs.WorkerConfig{Model: v.Name(), Version: v.ID(), Heartbeat: cfg.JobsHeartbeat, Metrics: jm,
			Consumer: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), jobs.NewID(time.Now())[4:])}, store, runner, log)
		rt.run(func() error { return w.Run(ctx) })
	}
	d := webhook.NewDispatcher(webhook.DispatcherConfig{Metrics: wm}, store, sender, secrets, log)
	rt.run(func() error { return d.Run(ctx) })
	return rt, nil
}

func (rt *jobsRuntime) run(f func() error) {
	rt.wg.Add(1)
	go func() { defer rt.wg.Done(); _ = f() }()
}

// stop ends the workers (a job in hand stays pending and is reclaimed by
// another worker) and the dispatcher, then closes Redis.
func (rt *jobsRuntime) stop() error {
	if rt == nil {
		return nil
	}
	rt.cancel()
	rt.wg.Wait()
	return rt.rdb.Close()
}

const secretUsage = `usage: inference webhook-secret create|rotate --client NAME [--file PATH]

  create  give the client a new webhook signing secret, dropping any other
  rotate  give the client a new secret and keep its newest previous one, so
          messages are signed with both until the next create or rotate

the secret is printed once (whsec_...); --file defaults to $INFERENCE_WEBHOOK_SECRETS,
else inference/webhook-secrets.yaml
`

// secretCommand runs `inference webhook-secret ...`.
func secretCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "rotate") {
		fmt.Fprint(stderr, secretUsage)
		return errors.New("webhook-secret: want create or rotate")
	}
	fs := flag.NewFlagSet("webhook-secret", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "the secrets file")
	client := fs.String("client", "", "the client the secret is for")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *file == "" {
		if *file = getenv("INFERENCE_WEBHOOK_SECRETS"); *file == "" {
			*file = "inference/webhook-secrets.yaml"
		}
	}
	sec, err := webhook.Rotate(*file, *client, args[0] == "rotate", nil)
	if err != nil {
		return fmt.Errorf("webhook-secret: %w", err)
	}
	_, _ = fmt.Fprintln(stdout, sec.String())
	return nil
}
