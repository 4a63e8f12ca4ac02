// Command stackrun runs the whole modelgate stack in the foreground for
// `make run` (via scripts/run.sh, which installs and builds first): Redis,
// ratelimit, extproc, one inference process per catalog version, Envoy.
// It prints the URL, a demo API key and a curl line, restarts a process
// that dies (with backoff, giving up on one that keeps crashing, the rest
// staying up), and stops everything on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/modelgate/modelgate/ops"
	"github.com/modelgate/modelgate/tools/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "stackrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stackrun", flag.ContinueOnError)
	runDir := fs.String("run-dir", ".run", "logs, pids, rendered configs and the dev keys file")
	outDir := fs.String("out", "out", "where scripts/run.sh built the binaries")
	catalogFile := fs.String("catalog", "", "the model catalog to serve (default models/catalog.yaml); tests use a copy with extra versions")
	// Not Debian's default 9090: its packaged service may hold that port.
	promAddr := fs.String("prometheus", "127.0.0.1:9190", "where the stack's Prometheus listens; \"\" runs none")
	hookAddr := fs.String("webhook-receiver", "127.0.0.1:8099", "where the demo webhook receiver listens; \"\" runs none")
	xds := fs.Bool("xds", false, "bootstrap Envoy with only the control plane's cluster: the controlplane process serves listeners, routes and clusters over ADS and pushes catalog edits live (make run XDS=1)")
	otlp := fs.String("otlp", "", "host:port of an OTLP/HTTP trace receiver (an OpenTelemetry collector, Jaeger): Envoy, extproc and inference send it their spans; off by default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := stack.RepoRoot(".")
	if err != nil {
		return err
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	bins, err := stack.LookupBinaries(root, abs(*outDir))
	if err != nil {
		return err
	}
	rd := abs(*runDir)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		return err
	}
	keysFile := filepath.Join(rd, "keys.yaml")
	demo, err := demoKey(ctx, bins.Extproc, keysFile, filepath.Join(rd, "demo-key"))
	if err != nil {
		return err
	}

	// scripts/stop.sh signals the runner first, which stops everything.
	if exe, err := os.Executable(); err == nil {
		pidFile := filepath.Join(rd, "stackrun.pid")
		_ = os.WriteFile(pidFile, []byte(fmt.Sprintf("%d %s\n", os.Getpid(), exe)), 0o644)
		defer os.Remove(pidFile)
	}
	cat := ""
	if *catalogFile != "" {
		cat = abs(*catalogFile)
	}
	fmt.Println("starting modelgate (logs in " + *runDir + "/logs)")
	s, err := stack.Start(ctx, stack.Config{Root: root, RunDir: rd, Bin: bins, KeysFile: keysFile, Log: os.Stdout,
		Catalog: cat, PrometheusAddr: *promAddr, OTLPEndpoint: *otlp, XDS: *xds})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("\nstopping modelgate ...")
		s.Stop()
		fmt.Println("stopped; nothing left running.")
	}()

	fmt.Printf(`
modelgate is up: %[1]s
  demo API key (client demo, tier pro, all models; from %[3]s):
    %[2]s
  try:
    curl -s %[1]s/v2/predict -H 'x-api-key: %[2]s' -H 'content-type: application/json' \
      -d '{"model":"iris","inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}'
  pin a version with -H 'x-model-version: 1'; see the response headers with curl -i.
%[7]s  Envoy admin %[4]s  ratelimit config %[5]s/rlconfig  access log %[6]s
  ratelimit-config/config/*.yaml is live: edit and save to change a quota.
`, s.URL(), demo, rel(root, keysFile), s.AdminURL(), s.RateLimitDebugURL(), rel(root, s.AccessLog), jobs(ctx, s, bins.Inference, demo, *hookAddr, rd))
	if u := s.PrometheusURL(); u != "" {
		fmt.Printf("  status page (SLA at a glance) %s\n  Prometheus %s (rules: %s, alerts: %s/alerts)\n",
			s.StatusURL(), u, ops.RulesDir, u)
	}
	if *xds {
		fmt.Printf("  Envoy takes its routes and clusters from the control plane (%s, log %s);\n  edit the catalog and save: aliases, weights and shadows apply live.\n",
			rel(root, filepath.Join(rd, stack.XDSSocket)), rel(root, s.Proc(stack.ControlPlane).Log))
	}
	fmt.Println("Ctrl-C stops everything.")

	// A process that dies is restarted with backoff; one that keeps
	// crashing is given up on. Either way the rest of the stack stays up.
	supervised := make(chan struct{})
	go func() {
		defer close(supervised)
		s.Supervise(ctx, stack.Restart{}, func(e stack.Event) {
			fmt.Printf("%s stackrun: %s\n", time.Now().Format("15:04:05"), e)
		})
	}()
	<-ctx.Done()
	<-supervised
	return nil
}

// demoKey returns the development key, issuing it (and the keys file) on
// the first run. The secret is kept in a 0600 file beside the keys file,
// because the keys file holds only its hash.
func demoKey(ctx context.Context, extproc, keysFile, secretFile string) (string, error) {
	if b, err := os.ReadFile(secretFile); err == nil {
		if _, err := os.Stat(keysFile); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	_ = os.Remove(keysFile)
	k, err := stack.CreateKey(ctx, extproc, keysFile, "demo", "pro", "*", "--env", "test")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(secretFile, []byte(k.Secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return k.Secret, nil
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// jobs sets up the demo client's webhook secret and receiver and returns
// the job example; a failure is reported in its place, the stack stays up.
func jobs(ctx context.Context, s *stack.Stack, inference, key, hookAddr, rd string) string {
	if hookAddr == "" {
		return ""
	}
	sec, err := demoSecret(ctx, inference, s.WebhookSecrets(), filepath.Join(rd, "demo-webhook-secret"))
	if err != nil {
		return "  (no job example: " + err.Error() + ")\n"
	}
	hook, err := startReceiver(ctx, hookAddr, sec)
	if err != nil {
		return "  (no job example: " + err.Error() + ")\n"
	}
	return jobExample(s.URL(), key, hook, s.WebhookSecrets())
}
