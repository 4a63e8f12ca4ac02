// Command bench measures the full path through Envoy against the seed it
// replaces and against Envoy alone (`make bench-gateway`; how to read the
// output: tools/bench/README.md). Every target gets the same wrk load
// (tools/bench/wrk/predict.lua: POST /v2/predict, one iris row) at each
// connection count of -c, after a warmup:
//
//	seed-asyncio/hit|miss    tools/bench/seed/app.py, the one-file FastAPI
//	                         seed, under uvicorn --loop asyncio --http h11
//	seed-uvloop-2w/hit|miss  the same under --loop uvloop --http httptools
//	                         --workers 2
//	floor                    Envoy routes straight to inference: no plugin,
//	                         no quotas (bootstrap.Options{NoFilters: true})
//	hit, miss                the default modelgate chain; hit repeats one
//	                         body, miss makes every body unique
//	hit-limited, miss-limited
//	                         the same with a key of a limited tier (pro, with
//	                         the bench's huge limits): one ratelimit call and
//	                         Redis counters on every request, where the
//	                         internal tier of hit and miss is unlimited and
//	                         extproc remembers that answer for a second
//	hit-extauthz, miss-extauthz
//	                         the classic chain (bootstrap.Options{ExtAuthz: true})
//	hit-extauthz-limited, miss-extauthz-limited
//	                         the classic chain with the limited key
//	miss-1rl                 only with -scenarios: the classic chain with
//	                         one ratelimit stage
//
// Each scenario starts its own stack (or seed) once and runs every
// connection count on it. Around each measured run the bench reads
// utime+stime of every process of the target from /proc, so it reports
// CPU µs per request per process next to req/s and p50/p95/p99, and the
// ratios against the seed (same workload) and the floor. Any failed
// request (transport error, timeout or status >= 400) fails the bench.
//
// The old c=1 run through tools/loadgen is gone: wrk gives it with
// `-c 1,16,64` (one thread), with the same script and CPU accounting, so
// every number of a run comes from one tool.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/tools/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// scenario is one row of the report.
type scenario struct {
	name string
	// seed, if set, serves the seed in this mode instead of the stack.
	seed *seedMode
	opts bootstrap.Options
	// miss makes every request body unique; otherwise one body repeats.
	miss bool
	// limited sends the key of limitedClient, whose quotas the ratelimit
	// service counts on every request; otherwise the internal tier's key,
	// unlimited, so extproc skips most ratelimit calls.
	limited bool
	// extra scenarios run only when -scenarios names them.
	extra bool
	// extprocEnv are settings of extproc for this row (stack.Config.ExtprocEnv).
	extprocEnv []string
}

var scenarios = []scenario{
	{name: "seed-asyncio/hit", seed: &seedAsyncio},
	{name: "seed-asyncio/miss", seed: &seedAsyncio, miss: true},
	{name: "seed-uvloop-2w/hit", seed: &seedUvloop},
	{name: "seed-uvloop-2w/miss", seed: &seedUvloop, miss: true},
	// No cache in the floor: unique bodies only keep its load like miss's.
	{name: "floor", opts: bootstrap.Options{NoFilters: true}, miss: true},
	{name: "hit"},
	{name: "miss", miss: true},
	// The lean cache fill's A/B: every miss shows its response headers to
	// the plugin, one ext_proc message more.
	{name: "miss-fullfill", miss: true, extprocEnv: []string{"EXTPROC_CACHE_LEAN_FILL=false"}},
	{name: "hit-limited", limited: true},
	{name: "miss-limited", miss: true, limited: true},
	{name: "hit-extauthz", opts: bootstrap.Options{ExtAuthz: true}},
	{name: "miss-extauthz", opts: bootstrap.Options{ExtAuthz: true}, miss: true},
	{name: "hit-extauthz-limited", opts: bootstrap.Options{ExtAuthz: true}, limited: true},
	{name: "miss-extauthz-limited", opts: bootstrap.Options{ExtAuthz: true}, miss: true, limited: true},
	// SingleRateLimitStage only shapes the classic chain's ratelimit filters.
	{name: "miss-1rl", opts: bootstrap.Options{ExtAuthz: true, SingleRateLimitStage: true}, miss: true, extra: true},
}

// workload names the seed scenario a modelgate scenario is compared with.
func (sc scenario) workload() string {
	if sc.miss {
		return "miss"
	}
	return "hit"
}

type config struct {
	duration, warmup time.Duration
	conns            []int
	threads          int
	run              []scenario
	outDir           string
	base             int
	grpcTCP          bool
	envoyConcurrency int
	// goMaxProcs is stack.Config.GoMaxProcs; nil keeps the stack's default.
	goMaxProcs  map[string]int
	python, wrk string
	llm         bool
	// llmRounds is how many turns the direct and gateway paths take (-llm).
	llmRounds int
	// jobs measures a batch of jobs instead (runJobs).
	jobs                bool
	jobsCount, jobsRows int
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var c config
	fs.DurationVar(&c.duration, "d", 10*time.Second, "measured duration of each run (whole seconds)")
	fs.DurationVar(&c.warmup, "w", 2*time.Second, "unmeasured warmup before each run (whole seconds, 0 for none)")
	conns := fs.String("c", "16,64", "comma list of connection counts")
	fs.IntVar(&c.threads, "t", 2, "wrk threads (at most the connection count)")
	names := fs.String("scenarios", "", "comma list of scenarios to run (default: all but miss-1rl)")
	fs.StringVar(&c.outDir, "out", "", "prebuilt binaries; empty builds extproc, inference and ratelimit into a temp dir")
	fs.IntVar(&c.base, "port-base", 18000, "first of the ports the bench uses")
	fs.BoolVar(&c.grpcTCP, "grpc-tcp", false, "Envoy reaches extproc and ratelimit over loopback TCP instead of unix sockets")
	fs.IntVar(&c.envoyConcurrency, "envoy-concurrency", 2, "Envoy's --concurrency (worker threads) in every stack scenario, the floor included")
	maxProcs := fs.String("gomaxprocs", "", "GOMAXPROCS of the stack's Go services, e.g. inference=1,extproc=1 (0 for Go's default; empty keeps the stack's default: inference=1, and extproc=1,ratelimit=1 on 2 cores or fewer)")
	fs.StringVar(&c.python, "python", "/usr/bin/python3", "Debian's python3, where python3-fastapi and python3-uvicorn install (not a pyenv one)")
	fs.StringVar(&c.wrk, "wrk", "wrk", "wrk 4.1 binary")
	fs.BoolVar(&c.llm, "llm", false, "measure chat completion streams of the built-in model instead (-c are stream counts): tokens/s and time to first token, direct and through the gateway")
	fs.IntVar(&c.llmRounds, "llm-rounds", 4, "turns the direct and the gateway path take at each stream count, -d split between them (-llm)")
	fs.BoolVar(&c.jobs, "jobs", false, "measure async jobs instead: -jobs-count jobs of -jobs-rows rows through the gateway, rows/s and webhook delivery latency")
	fs.IntVar(&c.jobsCount, "jobs-count", 8, "jobs submitted at once (-jobs)")
	fs.IntVar(&c.jobsRows, "jobs-rows", 10000, "iris rows per job (-jobs)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	for s := range strings.SplitSeq(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("-c: %q is not a connection count", s))
			continue
		}
		c.conns = append(c.conns, n)
	}
	if _, err := wrkSeconds(c.duration); err != nil {
		errs = append(errs, fmt.Errorf("-d: %w", err))
	}
	if _, err := wrkSeconds(c.warmup); c.warmup != 0 && err != nil {
		errs = append(errs, fmt.Errorf("-w: %w", err))
	}
	if c.threads < 1 {
		errs = append(errs, errors.New("-t: at least 1"))
	}
	if c.jobsCount < 1 || c.jobsRows < 1 {
		errs = append(errs, errors.New("-jobs-count, -jobs-rows: at least 1"))
	}
	if c.envoyConcurrency < 1 {
		errs = append(errs, errors.New("-envoy-concurrency: at least 1"))
	}
	if *maxProcs != "" {
		c.goMaxProcs = map[string]int{}
		for kv := range strings.SplitSeq(*maxProcs, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || (k != stack.Extproc && k != stack.RateLimit && k != stack.Inference) {
				errs = append(errs, fmt.Errorf("-gomaxprocs: %q is not extproc=N, ratelimit=N or inference=N", kv))
				continue
			}
			c.goMaxProcs[k] = n
		}
	}
	for _, sc := range scenarios {
		if (*names == "" && !sc.extra) || slices.Contains(strings.Split(*names, ","), sc.name) {
			c.run = append(c.run, sc)
		}
	}
	for n := range strings.SplitSeq(*names, ",") {
		if n != "" && !slices.ContainsFunc(scenarios, func(sc scenario) bool { return sc.name == n }) {
			errs = append(errs, fmt.Errorf("-scenarios: no scenario %q", n))
		}
	}
	return c, errors.Join(errs...)
}

// env is what every scenario shares.
type env struct {
	cfg          config
	root, runDir string
	script       string
	bins         stack.Binaries
	// key is the internal tier's (unlimited), limitedKey limitedClient's.
	key, limitedKey stack.Key
	ports           bootstrap.Ports
}

func run(ctx context.Context, args []string) (err error) {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	e := &env{cfg: cfg}
	if e.root, err = stack.RepoRoot("."); err != nil {
		return err
	}
	e.script = filepath.Join(e.root, "tools", "bench", "wrk", "predict.lua")
	if cfg.wrk, err = exec.LookPath(cfg.wrk); err != nil && !cfg.llm && !cfg.jobs {
		return fmt.Errorf("wrk: %w: run `make bench-deps` (apt-get install wrk)", err)
	}
	if !cfg.llm && !cfg.jobs && slices.ContainsFunc(cfg.run, func(sc scenario) bool { return sc.seed != nil }) {
		if err := checkSeedDeps(ctx, cfg.python); err != nil {
			return err
		}
	}
	if e.runDir, err = os.MkdirTemp("", "mg-bench-"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(filepath.Join(e.runDir, "bin")) // only the logs are worth keeping
			err = fmt.Errorf("%w\n(logs kept in %s)", err, filepath.Join(e.runDir, "logs"))
			return
		}
		os.RemoveAll(e.runDir)
	}()
	if cfg.outDir == "" {
		cfg.outDir = filepath.Join(e.runDir, "bin")
		fmt.Fprintln(os.Stderr, "== building extproc, inference and ratelimit")
		if err := stack.Build(ctx, e.root, cfg.outDir); err != nil {
			return err
		}
	} else if !filepath.IsAbs(cfg.outDir) {
		cfg.outDir = filepath.Join(e.root, cfg.outDir)
	}
	if e.bins, err = stack.LookupBinaries(e.root, cfg.outDir); err != nil {
		return err
	}
	keys := filepath.Join(e.runDir, "keys.yaml")
	if e.key, err = stack.CreateKey(ctx, e.bins.Extproc, keys, internalClient, internalTier, "*", "--env", "test"); err != nil {
		return err
	}
	if e.limitedKey, err = stack.CreateKey(ctx, e.bins.Extproc, keys, limitedClient, limitedTier, "*", "--env", "test"); err != nil {
		return err
	}
	if err := writeRateLimitConfig(e.root, e.runDir); err != nil {
		return err
	}
	b := cfg.base
	e.ports = bootstrap.Ports{
		Envoy: b, EnvoyAdmin: b + 1, ExtprocGRPC: b + 2, ExtprocAdmin: b + 3,
		RateLimitGRPC: b + 4, RateLimitHTTP: b + 5, RateLimitDebug: b + 6, RateLimitMetrics: b + 7, InferenceBase: b + 10,
	}

	if cfg.llm {
		return e.runLLM(ctx)
	}
	if cfg.jobs {
		return e.runJobs(ctx)
	}
	rep := &report{cfg: cfg, start: time.Now(), load: loadAverage()}
	for _, sc := range cfg.run {
		ms, concurrency, err := e.scenario(ctx, sc)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if concurrency != "" {
			rep.envoyConcurrency = concurrency
		}
		rep.add(sc, ms)
		time.Sleep(500 * time.Millisecond) // let sockets in TIME_WAIT and stray timers settle
	}
	rep.print(os.Stdout)
	return nil
}

// stackConfig is the stack every bench mode starts, before a scenario's
// own options.
func (e *env) stackConfig() stack.Config {
	return stack.Config{
		Root: e.root, RunDir: e.runDir, Ports: e.ports, Bin: e.bins, KeysFile: filepath.Join(e.runDir, "keys.yaml"),
		RateLimitRoot: filepath.Join(e.runDir, rateLimitRoot), RateLimitSubdir: rateLimitSubdir,
		GRPCOverTCP: e.cfg.grpcTCP, EnvoyConcurrency: e.cfg.envoyConcurrency, GoMaxProcs: e.cfg.goMaxProcs,
	}
}

// target is a started scenario: where to send load and whose CPU counts.
type target struct {
	url     string
	headers []string // name=value, for predict.lua
	groups  []group
	stop    func()
	// envoyConcurrency is Envoy's --concurrency as started ("" for the seed).
	envoyConcurrency string
}

func (e *env) start(ctx context.Context, sc scenario) (*target, error) {
	if sc.seed != nil {
		s, err := startSeed(ctx, e.cfg.python, e.root, e.runDir, e.cfg.base+8, *sc.seed)
		if err != nil {
			return nil, err
		}
		return &target{
			url: s.url + "/v2/predict", headers: []string{header.APIKey + "=" + seedKey},
			groups: []group{{name: "uvicorn", column: colSeed, pid: s.pid()}}, stop: s.stop,
		}, nil
	}
	cfg := e.stackConfig()
	cfg.Options, cfg.ExtprocEnv = sc.opts, sc.extprocEnv
	s, err := stack.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t := &target{url: s.URL() + "/v2/predict", stop: s.Stop}
	if sc.opts.NoFilters {
		// No plugin to resolve the model: name it as the plugin would.
		t.headers = []string{header.Model + "=iris", header.ModelVersion + "=2"}
	} else if sc.limited {
		t.headers = []string{header.APIKey + "=" + e.limitedKey.Secret}
	} else {
		t.headers = []string{header.APIKey + "=" + e.key.Secret}
	}
	for _, name := range []string{stack.Envoy, stack.Extproc, stack.RateLimit, stack.Redis} {
		t.groups = append(t.groups, group{name: name, column: name, pid: s.Proc(name).Pid()})
	}
	for _, tg := range s.Targets() {
		n := stack.InferenceName(tg)
		t.groups = append(t.groups, group{name: n, column: colInference, pid: s.Proc(n).Pid()})
	}
	t.envoyConcurrency = flagValue(s.Proc(stack.Envoy).Pid(), "--concurrency")
	return t, nil
}

// scenario starts sc's target once and measures every connection count.
func (e *env) scenario(ctx context.Context, sc scenario) ([]measurement, string, error) {
	fmt.Fprintf(os.Stderr, "== %s: starting\n", sc.name)
	t, err := e.start(ctx, sc)
	if err != nil {
		return nil, "", err
	}
	defer t.stop()
	// Miss bodies are numbered from 1 (0 is the hit body) and never reused
	// within the scenario, so warmups do not fill the cache for the runs.
	next := int64(1)
	if err := checkAnswer(ctx, t, sc, &next); err != nil {
		return nil, "", err
	}
	var ms []measurement
	for _, c := range e.cfg.conns {
		w := wrkRun{
			bin: e.cfg.wrk, script: e.script, url: t.url, threads: e.cfg.threads, conns: c,
			miss: sc.miss, headers: t.headers,
		}
		if e.cfg.warmup > 0 {
			w.duration, w.base = e.cfg.warmup, next
			r, err := w.run(ctx)
			if err != nil {
				return nil, "", err
			}
			if err := failed(ctx, t, sc, c, "warmup", r); err != nil {
				return nil, "", err
			}
			next = r.NextBase
		}
		w.duration, w.base = e.cfg.duration, next
		before, err := snapshot(t.groups)
		if err != nil {
			return nil, "", err
		}
		r, err := w.run(ctx)
		if err != nil {
			return nil, "", err
		}
		after, err := snapshot(t.groups)
		if err != nil {
			return nil, "", err
		}
		if err := failed(ctx, t, sc, c, "run", r); err != nil {
			return nil, "", err
		}
		next = r.NextBase
		m := newMeasurement(sc.name, c, r, t.groups, cpuDelta(before, after), after)
		fmt.Fprintf(os.Stderr, "   %s\n", m)
		ms = append(ms, m)
	}
	return ms, t.envoyConcurrency, nil
}

// failed turns any error wrk counted into a failure that shows what the
// target answers now.
func failed(ctx context.Context, t *target, sc scenario, conns int, what string, r wrkResult) error {
	if r.Errors() == 0 {
		return nil
	}
	next := int64(1 << 40) // far from any body the runs used
	now := "a probe now succeeds"
	if err := checkAnswer(ctx, t, sc, &next); err != nil {
		now = "a probe now fails: " + err.Error()
	}
	return fmt.Errorf("c=%d %s: %d of %d requests failed (%s); %s", conns, what, r.Errors(), r.Requests, r.errorSummary(), now)
}

// flagValue returns the value of a --name value flag in a process's
// command line, "?" when absent.
func flagValue(pid int, name string) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return "?"
	}
	args := strings.Split(string(b), "\x00")
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return "?"
}

// loadAverage is /proc/loadavg's first three fields: how busy the
// machine was before the bench began.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
