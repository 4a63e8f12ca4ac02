package stack

import (
	"context"
	"os"
	"path/filepath"
)

// JobsRedis is the process name of the jobs' own Redis: not the quota
// counters' instance, with AOF on and noeviction, because a job that is
// lost or evicted is a prediction a client paid for and never got.
const JobsRedis = "jobs-redis"

// JobsRedisSocket is the unix socket the jobs Redis listens on.
func (s *Stack) JobsRedisSocket() string { return filepath.Join(s.cfg.RunDir, "jobs-redis.sock") }

// WebhookSecrets is the webhook secrets file the inference processes read
// (create one with `inference webhook-secret create --file ...`).
func (s *Stack) WebhookSecrets() string { return filepath.Join(s.cfg.RunDir, "webhook-secrets.yaml") }

// defineJobsRedis adds the jobs Redis; its data (the AOF, fsynced on
// every write: a job is accepted only once it is on disk) lives in
// RunDir/jobs-redis, so a restart, or a crash, of the process keeps every
// job.
func (s *Stack) defineJobsRedis(add func(*Proc)) {
	dir := filepath.Join(s.cfg.RunDir, "jobs-redis")
	add(&Proc{
		Name: JobsRedis, bin: s.cfg.Bin.Redis,
		prestart: func() { _ = os.MkdirAll(dir, 0o755) },
		args: []string{"--port", "0", "--unixsocket", s.JobsRedisSocket(), "--unixsocketperm", "700",
			"--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
			"--maxmemory-policy", "noeviction", "--daemonize", "no", "--loglevel", "warning"},
		health: func(ctx context.Context) error { return redisPing(ctx, s.JobsRedisSocket()) },
	})
}

// jobsEnv is what an inference process needs to serve /v2/jobs here:
// the jobs Redis, the secrets file, receivers on this machine allowed (a
// local stack's receivers are local) and a short heartbeat.
func (s *Stack) jobsEnv() []string {
	return []string{
		"INFERENCE_JOBS_REDIS=" + s.JobsRedisSocket(), "INFERENCE_WEBHOOK_SECRETS=" + s.WebhookSecrets(),
		"INFERENCE_WEBHOOK_ALLOW=127.0.0.1", "INFERENCE_WEBHOOK_ALLOW_HTTP=true",
		// A crashed worker's job is taken over after three heartbeats.
		"INFERENCE_JOBS_HEARTBEAT=1s",
	}
}
