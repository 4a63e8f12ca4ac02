package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate/tools/stack"
)

// Report columns of per-process CPU, in print order.
const (
	colInference = "inference"
	colSeed      = "seed"
)

var columns = []string{stack.Envoy, stack.Extproc, stack.RateLimit, stack.Redis, colInference, colSeed}

// measurement is one measured wrk run of one scenario.
type measurement struct {
	scenario string
	conns    int
	wrk      wrkResult
	// cpu is by report column, procs by process (group name).
	cpu, procs map[string]time.Duration
	// counts is how many processes each group's tree held.
	counts map[string]int
}

func newMeasurement(name string, conns int, r wrkResult, groups []group, delta map[string]time.Duration, after cpuSnapshot) measurement {
	m := measurement{scenario: name, conns: conns, wrk: r, cpu: map[string]time.Duration{}, procs: delta, counts: map[string]int{}}
	for _, g := range groups {
		m.cpu[g.column] += delta[g.name]
		m.counts[g.name] = after.processCount(g.name)
	}
	return m
}

// perReq is CPU time per request in µs.
func (m measurement) perReq(d time.Duration) float64 {
	return float64(d.Microseconds()) / float64(m.wrk.Requests)
}

// totalPerReq is the CPU µs per request of every process of the target
// (never wrk's).
func (m measurement) totalPerReq() float64 {
	var sum time.Duration
	for _, d := range m.cpu {
		sum += d
	}
	return m.perReq(sum)
}

// String is the progress line, with every process on its own.
func (m measurement) String() string {
	names := make([]string, 0, len(m.procs))
	for n := range m.procs {
		names = append(names, n)
	}
	sort.Strings(names)
	var per []string
	for _, n := range names {
		label := n
		if c := m.counts[n]; c > 1 {
			label = fmt.Sprintf("%s(%d procs)", n, c)
		}
		per = append(per, fmt.Sprintf("%s %.1f", label, m.perReq(m.procs[n])))
	}
	return fmt.Sprintf("c=%d: %d requests in %.1fs = %.0f req/s, p50/p95/p99 %s/%s/%s ms; CPU µs/req %.1f = %s; wrk %.1f",
		m.conns, m.wrk.Requests, m.wrk.Duration.Seconds(), m.wrk.RPS(), ms(m.wrk.P50), ms(m.wrk.P95), ms(m.wrk.P99),
		m.totalPerReq(), strings.Join(per, ", "), m.perReq(m.wrk.CPU))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d.Microseconds())/1000) }

// report collects every measurement and prints the tables.
type report struct {
	cfg              config
	start            time.Time
	load             string
	envoyConcurrency string
	order            []scenario
	results          map[string]map[int]measurement // scenario → conns → run
}

func (r *report) add(sc scenario, ms []measurement) {
	if r.results == nil {
		r.results = map[string]map[int]measurement{}
	}
	r.order = append(r.order, sc)
	r.results[sc.name] = map[int]measurement{}
	for _, m := range ms {
		r.results[sc.name][m.conns] = m
	}
}

func (r *report) get(name string, conns int) (measurement, bool) {
	m, ok := r.results[name][conns]
	return m, ok
}

func (r *report) print(w io.Writer) {
	transport := "unix sockets"
	if r.cfg.grpcTCP {
		transport = "loopback TCP"
	}
	ec := r.envoyConcurrency
	if ec == "" {
		ec = "(no stack scenario run)"
	}
	fmt.Fprintf(w, "\nmodelgate bench %s: POST /v2/predict, 1 iris row, loopback\n", r.start.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "machine: %d cores, load average %s at start; Envoy --concurrency %s; gRPC to extproc and ratelimit over %s\n",
		runtime.NumCPU(), r.load, ec, transport)
	fmt.Fprintf(w, "GOMAXPROCS of the Go services: %s\n", maxProcsText(r.cfg.goMaxProcs))
	fmt.Fprintf(w, "load: wrk -t%d, %s measured per run after a %s warmup; modelgate answers with iris v2 (latest), the seed with iris v1\n",
		r.cfg.threads, r.cfg.duration, r.cfg.warmup)
	// unlimited_ttl as extproc/config.yaml sets it.
	fmt.Fprintf(w, "keys: internal tier, unlimited (extproc remembers that answer 1 s: almost no ratelimit calls in the default chain); *-limited: tier %s, %d per window on each quota (every request counted in Redis)\n",
		limitedTier, limitedRequests)
	fmt.Fprintf(w, "CPU: utime+stime from /proc per process (and its children) over the measured run ÷ requests; wrk's own CPU is shown, not counted\n")
	for _, c := range r.cfg.conns {
		fmt.Fprintf(w, "\n%d connections\n", c)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "scenario\treq/s\tp50 ms\tp95 ms\tp99 ms\tCPU µs/req\t")
		for _, col := range columns {
			fmt.Fprintf(tw, "%s\t", col)
		}
		fmt.Fprint(tw, "(wrk)\t\n")
		for _, sc := range r.order {
			m, ok := r.get(sc.name, c)
			if !ok {
				continue
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%.1f\t", sc.name, m.wrk.RPS(), ms(m.wrk.P50), ms(m.wrk.P95), ms(m.wrk.P99), m.totalPerReq())
			for _, col := range columns {
				if d, ok := m.cpu[col]; ok {
					fmt.Fprintf(tw, "%.1f\t", m.perReq(d))
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			fmt.Fprintf(tw, "%.1f\t\n", m.perReq(m.wrk.CPU))
		}
		_ = tw.Flush()
		r.printRatios(w, c)
	}
}

// printRatios compares each modelgate scenario with the seed on the same
// workload (hit with seed hit, miss with seed miss) and with the floor.
func (r *report) printRatios(w io.Writer, c int) {
	floor, hasFloor := r.get("floor", c)
	type peer struct{ label, prefix string }
	peers := []peer{{"seed-asyncio", seedAsyncio.name + "/"}, {"seed-uvloop-2w", seedUvloop.name + "/"}}
	fmt.Fprintf(w, "\nratios at %d connections: each row ÷ the seed row of the same workload, and ÷ the floor (req/s: above 1 is better; p99, CPU: below 1 is better)\n", c)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "scenario\t")
	for _, p := range peers {
		fmt.Fprintf(tw, "req/s ÷ %s\tp99 ÷ %s\t", p.label, p.label)
	}
	fmt.Fprint(tw, "CPU/req ÷ floor\tCPU/req ÷ seed-asyncio\t\n")
	for _, sc := range r.order {
		m, ok := r.get(sc.name, c)
		if !ok || sc.seed != nil || sc.opts.NoFilters {
			continue
		}
		fmt.Fprintf(tw, "%s\t", sc.name)
		for _, p := range peers {
			if s, ok := r.get(p.prefix+sc.workload(), c); ok {
				fmt.Fprintf(tw, "%s\t%s\t", ratio(m.wrk.RPS(), s.wrk.RPS()), ratio(m.wrk.P99.Seconds(), s.wrk.P99.Seconds()))
			} else {
				fmt.Fprint(tw, "-\t-\t")
			}
		}
		if hasFloor {
			fmt.Fprintf(tw, "%s\t", ratio(m.totalPerReq(), floor.totalPerReq()))
		} else {
			fmt.Fprint(tw, "-\t")
		}
		if s, ok := r.get(seedAsyncio.name+"/"+sc.workload(), c); ok {
			fmt.Fprintf(tw, "%s\t\n", ratio(m.totalPerReq(), s.totalPerReq()))
		} else {
			fmt.Fprint(tw, "-\t\n")
		}
	}
	_ = tw.Flush()
}

// ratio is a/b to two decimals, "-" when b is zero (a run too short for
// one clock tick of CPU).
func ratio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// maxProcsText describes -gomaxprocs as the stack applies it.
func maxProcsText(m map[string]int) string {
	if m == nil {
		m = stack.DefaultGoMaxProcs(runtime.NumCPU())
	}
	var parts []string
	for _, k := range []string{stack.Extproc, stack.RateLimit, stack.Inference} {
		if n, ok := m[k]; ok && n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, n))
		}
	}
	if len(parts) == 0 {
		return "Go's default everywhere"
	}
	return strings.Join(parts, ", ") + " (the others Go's default)"
}
