package stack

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
)

// Binaries are the executables the stack runs.
type Binaries struct {
	Envoy, Extproc, Inference, RateLimit, Redis string
	// Prometheus is optional: only a stack with PrometheusAddr runs it.
	Prometheus string
	// ControlPlane is optional: only a stack with XDS runs it.
	ControlPlane string
}

// Stack is a running stack.
type Stack struct {
	cfg     Config
	cat     *catalog.Catalog
	procs   map[string]*Proc
	order   []string
	targets []bootstrap.Target
	// sockets are the gRPC unix sockets (none with GRPCOverTCP).
	sockets []string
	// EnvoyConfig is the rendered bootstrap path.
	EnvoyConfig string
	// AccessLog is Envoy's JSON access log.
	AccessLog string
	// envoyAddrs are the addresses the bootstrap (or the control plane) names.
	envoyAddrs bootstrap.Addresses
}

// Process names.
const (
	Redis     = "redis"
	RateLimit = "ratelimit"
	Extproc   = "extproc"
	Envoy     = "envoy"
	// Inference names every inference process in [Config.GoMaxProcs].
	Inference = "inference"
)

// InferenceName is the process name of one inference target.
func InferenceName(t bootstrap.Target) string { return t.Service }

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// Start starts every process in dependency order and waits until each is
// healthy. On error everything already started is stopped.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	cat, err := catalog.Load(cfg.Catalog)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.RunDir, filepath.Join(cfg.RunDir, "logs"), filepath.Join(cfg.RunDir, "pids")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if killed, err := KillStale(filepath.Join(cfg.RunDir, "pids")); err != nil {
		return nil, err
	} else if len(killed) > 0 {
		fmt.Fprintf(cfg.Log, "stopped leftovers of an earlier run: %s\n", strings.Join(killed, ", "))
	}
	s := &Stack{cfg: cfg, cat: cat, procs: map[string]*Proc{}, targets: bootstrap.Targets(cat)}
	if err := s.checkPorts(); err != nil {
		return nil, err
	}
	if err := s.renderEnvoy(); err != nil {
		return nil, err
	}
	s.define()
	if cfg.PrometheusAddr != "" {
		if err := s.definePrometheus(); err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	// Start in waves; each wave's members start together and must all be
	// healthy before the next wave. extproc connects to ratelimit as it
	// starts, so it waits for ratelimit's gRPC listener: a dial that fails
	// puts its connection in backoff (about a second), and the requests of
	// that second would be admitted without a quota check (fail open).
	waves := [][]string{{Redis, JobsRedis}, {RateLimit}, {Extproc}, {Envoy}}
	if cfg.XDS {
		waves[2] = append(waves[2], ControlPlane)
	}
	for _, t := range s.targets {
		waves[2] = append(waves[2], InferenceName(t))
	}
	if cfg.PrometheusAddr != "" {
		waves = append(waves, []string{Prometheus})
	}
	for _, wave := range waves {
		for _, name := range wave {
			if err := s.procs[name].start(); err != nil {
				s.Stop()
				return nil, err
			}
		}
		for _, name := range wave {
			if err := s.procs[name].waitHealthy(ctx); err != nil {
				s.Stop()
				return nil, err
			}
			fmt.Fprintf(cfg.Log, "  %-22s ready (pid %d, log %s)\n", name, s.procs[name].Pid(), s.rel(s.procs[name].Log))
		}
	}
	return s, nil
}

func (s *Stack) rel(p string) string {
	if r, err := filepath.Rel(s.cfg.Root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// ports lists every port the stack binds, by owner.
func (s *Stack) ports() map[int]string {
	p := s.cfg.Ports
	m := map[int]string{
		p.Envoy: "envoy", p.EnvoyAdmin: "envoy admin",
		p.ExtprocGRPC: "extproc grpc", p.ExtprocAdmin: "extproc admin",
		p.RateLimitGRPC: "ratelimit grpc", p.RateLimitHTTP: "ratelimit http", p.RateLimitDebug: "ratelimit debug",
		s.cfg.Ports.RateLimitMetrics: "ratelimit metrics",
	}
	for _, t := range s.targets {
		m[p.Inference(t)] = "inference " + t.Serve()
	}
	if _, port, err := net.SplitHostPort(s.cfg.PrometheusAddr); err == nil {
		if n, err := strconv.Atoi(port); err == nil {
			m[n] = "prometheus"
		}
	}
	return m
}

// checkPorts fails early when a port is taken. This matters for ratelimit:
// it binds with SO_REUSEPORT, so a second instance would start without
// error next to a stale one and share its traffic.
func (s *Stack) checkPorts() error {
	m := s.ports()
	want := 8 + len(s.targets)
	if s.cfg.PrometheusAddr != "" {
		want++
	}
	if len(m) != want {
		return fmt.Errorf("stack: two services share a port: %v", m)
	}
	var busy []string
	for port, who := range m {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			busy = append(busy, fmt.Sprintf("%d (%s)", port, who))
			continue
		}
		l.Close()
	}
	if len(busy) > 0 {
		sort.Strings(busy)
		return fmt.Errorf("stack: ports in use: %s — another stack running? stop it (scripts/stop.sh) or change ports", strings.Join(busy, ", "))
	}
	return nil
}

func (s *Stack) renderEnvoy() error {
	s.AccessLog = filepath.Join(s.cfg.RunDir, "logs", "access.log")
	a := bootstrap.Local(s.cat, s.cfg.Ports, s.AccessLog)
	if !s.cfg.GRPCOverTCP {
		a = a.WithSockets(s.cfg.RunDir)
	}
	var err error
	if a.Tracing, err = s.cfg.otlpCollector(); err != nil {
		return err
	}
	s.envoyAddrs = a
	b, err := bootstrap.Render(s.cat, a, s.cfg.Options)
	if err != nil {
		return err
	}
	if err := bootstrap.Check(b, s.cat); err != nil {
		return fmt.Errorf("rendered envoy config: %w", err)
	}
	if b, err = s.renderADS(a, b); err != nil {
		return err
	}
	s.EnvoyConfig = filepath.Join(s.cfg.RunDir, "envoy.yaml")
	return os.WriteFile(s.EnvoyConfig, b, 0o644)
}

// RedisSocket is the unix socket Redis listens on (no TCP port, so it never
// clashes with a system Redis).
func (s *Stack) RedisSocket() string { return filepath.Join(s.cfg.RunDir, "redis.sock") }

// add defines one process, its log and pid file in the run directory.
func (s *Stack) add(pr *Proc) {
	pr.Log = filepath.Join(s.cfg.RunDir, "logs", pr.Name+".log")
	pr.pidFile = filepath.Join(s.cfg.RunDir, "pids", pr.Name+".pid")
	pr.dir = s.cfg.Root
	s.procs[pr.Name] = pr
	s.order = append(s.order, pr.Name)
}

// lo is a loopback address.
func lo(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

func (s *Stack) define() {
	c := s.cfg
	p := c.Ports
	add := s.add

	_ = os.Remove(s.RedisSocket())
	add(&Proc{
		Name: Redis, bin: c.Bin.Redis,
		args: []string{"--port", "0", "--unixsocket", s.RedisSocket(), "--unixsocketperm", "700",
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"},
		health: func(ctx context.Context) error { return redisPing(ctx, s.RedisSocket()) },
	})
	// gRPC listeners: unix sockets in RunDir unless GRPCOverTCP. The ports
	// stay reserved either way (checkPorts), so switching needs no new ports.
	extprocGRPC, rlGRPC := lo(p.ExtprocGRPC), []string(nil)
	var rlPrestart func()
	// ratelimit opens its gRPC listener apart from (and sometimes after)
	// the HTTP one that answers /healthcheck.
	rlListening := dialOK("tcp", lo(p.RateLimitGRPC))
	s.sockets = nil
	if !c.GRPCOverTCP {
		es, rs := filepath.Join(c.RunDir, bootstrap.ExtprocSocket), filepath.Join(c.RunDir, bootstrap.RateLimitSocket)
		extprocGRPC, rlGRPC, s.sockets = "unix:"+es, []string{"GRPC_UDS=" + rs}, []string{es, rs}
		rlListening = dialOK("unix", rs)
		// ratelimit will not listen where a socket file exists, and one is
		// left behind when it is killed. (extproc replaces a stale one.)
		rlPrestart = func() {
			if fi, err := os.Lstat(rs); err == nil && fi.Mode()&os.ModeSocket != 0 {
				_ = os.Remove(rs)
			}
		}
	}
	add(&Proc{
		Name: RateLimit, bin: c.Bin.RateLimit, prestart: rlPrestart,
		env: append([]string{
			"HOST=127.0.0.1", "PORT=" + strconv.Itoa(p.RateLimitHTTP),
			"GRPC_HOST=127.0.0.1", "GRPC_PORT=" + strconv.Itoa(p.RateLimitGRPC),
			"DEBUG_HOST=127.0.0.1", "DEBUG_PORT=" + strconv.Itoa(p.RateLimitDebug),
			"USE_STATSD=false", "USE_PROMETHEUS=true", "PROMETHEUS_ADDR=" + lo(p.RateLimitMetrics),
			"BACKEND_TYPE=redis", "REDIS_SOCKET_TYPE=unix", "REDIS_URL=" + s.RedisSocket(),
			"RUNTIME_ROOT=" + c.RateLimitRoot, "RUNTIME_SUBDIRECTORY=" + c.RateLimitSubdir,
			"RUNTIME_APPDIRECTORY=config", "RUNTIME_WATCH_ROOT=false", "RUNTIME_IGNOREDOTFILES=true",
			"HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED=true",
			"LOG_LEVEL=info", "LOG_FORMAT=json",
		}, append(rlGRPC, c.goMaxProcs(RateLimit)...)...),
		health: allOK(httpOK("http://"+lo(p.RateLimitHTTP)+"/healthcheck"), rlListening),
	})
	s.defineServices(extprocGRPC)
	if c.XDS {
		s.defineControlPlane(s.envoyAddrs)
	}
}

// defineServices adds extproc (serving gRPC at extprocGRPC), one inference
// process per target and Envoy.
func (s *Stack) defineServices(extprocGRPC string) {
	c := s.cfg
	p := c.Ports
	add := s.add
	// The plugin asks the ratelimit service itself unless Envoy's
	// ext_authz and ratelimit filters are in the chain.
	mode, rlAddr := "ext_proc", lo(p.RateLimitGRPC)
	if c.Options.ExtAuthz {
		mode = "ext_authz"
	}
	if len(s.sockets) > 1 {
		rlAddr = "unix:" + s.sockets[1]
	}
	env := []string{
		"EXTPROC_GATEWAY_MODE=" + mode, "EXTPROC_RATELIMIT_ADDR=" + rlAddr, "GOMEMLIMIT=512MiB",
		"EXTPROC_GRPC_ADDR=" + extprocGRPC, "EXTPROC_ADMIN_ADDR=" + lo(p.ExtprocAdmin),
		"EXTPROC_KEYS_FILE=" + c.KeysFile, "EXTPROC_CATALOG=" + c.Catalog, "EXTPROC_LOG_FORMAT=json",
	}
	if c.PrometheusAddr != "" {
		env = append(env, "EXTPROC_STATUS_PROMETHEUS_URL=http://"+c.PrometheusAddr)
	}
	env = append(env, c.otlpEnv("modelgate-extproc")...)
	env = append(env, c.goMaxProcs(Extproc)...)
	env = append(env, c.ExtprocEnv...)
	var args []string
	if c.ExtprocConfig != "" {
		args = []string{"--config", c.ExtprocConfig}
	}
	add(&Proc{Name: Extproc, bin: c.Bin.Extproc, args: args, env: env,
		health: httpOK("http://" + lo(p.ExtprocAdmin) + "/readyz")})
	s.defineJobsRedis(add)
	for _, t := range s.targets {
		s.defineInference(t)
	}
	add(&Proc{
		Name: Envoy, bin: c.Bin.Envoy,
		args: []string{"-c", s.EnvoyConfig, "--disable-hot-restart", "--log-level", "warn",
			"--concurrency", strconv.Itoa(c.EnvoyConcurrency), "--drain-time-s", "1", "--parent-shutdown-time-s", "2",
			// Access log lines reach the file within half a second.
			"--file-flush-interval-msec", "500"},
		health: httpBody("http://"+lo(p.EnvoyAdmin)+"/ready", "LIVE"),
	})
}

// Proc returns a process by name (see the constants and InferenceName).
func (s *Stack) Proc(name string) *Proc { return s.procs[name] }

// Targets are the inference targets, in port order.
func (s *Stack) Targets() []bootstrap.Target { return s.targets }

// Ports returns the stack's ports.
func (s *Stack) Ports() bootstrap.Ports { return s.cfg.Ports }

// URL is the client-facing base URL.
func (s *Stack) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.cfg.Ports.Envoy) }

// AdminURL is Envoy's admin base URL.
func (s *Stack) AdminURL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.cfg.Ports.EnvoyAdmin) }

// RateLimitDebugURL serves /rlconfig (the loaded ratelimit config).
func (s *Stack) RateLimitDebugURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", s.cfg.Ports.RateLimitDebug)
}

// RateLimitMetricsURL serves the ratelimit service's Prometheus metrics.
func (s *Stack) RateLimitMetricsURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", s.cfg.Ports.RateLimitMetrics)
}

// StopProc stops one process (SIGTERM, then SIGKILL after grace).
func (s *Stack) StopProc(name string, grace time.Duration) error {
	pr, ok := s.procs[name]
	if !ok {
		return fmt.Errorf("stack: no process %q", name)
	}
	return pr.stop(syscall.SIGTERM, grace)
}

// KillProc kills one process abruptly, as a crash would.
func (s *Stack) KillProc(name string) error {
	pr, ok := s.procs[name]
	if !ok {
		return fmt.Errorf("stack: no process %q", name)
	}
	return pr.stop(syscall.SIGKILL, time.Second)
}

// StartProc starts one stopped process again and waits until it is healthy.
func (s *Stack) StartProc(ctx context.Context, name string) error {
	pr, ok := s.procs[name]
	if !ok {
		return fmt.Errorf("stack: no process %q", name)
	}
	if err := pr.start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	return pr.waitHealthy(ctx)
}

// Stop stops everything, Envoy first and Redis last, and returns when every
// process group is gone.
func (s *Stack) Stop() {
	for i := len(s.order) - 1; i >= 0; i-- {
		_ = s.procs[s.order[i]].stop(syscall.SIGTERM, 5*time.Second)
	}
	_ = os.Remove(s.RedisSocket())
	for _, p := range s.sockets {
		_ = os.Remove(p)
	}
}

// Exited returns a channel that yields the name of the first process that
// exits on its own.
func (s *Stack) Exited() <-chan string {
	ch := make(chan string, len(s.procs))
	for _, name := range s.order {
		pr := s.procs[name]
		pr.mu.Lock()
		done := pr.done
		pr.mu.Unlock()
		go func() {
			if done != nil {
				<-done
				ch <- name
			}
		}()
	}
	return ch
}
