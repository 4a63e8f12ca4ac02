// Package loadgen sends a fixed number of HTTP requests at a fixed
// concurrency and reports latency percentiles, throughput and status
// counts. The end-to-end load test and `make bench` use it; it only ever
// targets the loopback stack it is given.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Request builds the i-th request. It must be safe for concurrent use.
type Request func(i int) (*http.Request, error)

// Config is one run.
type Config struct {
	Requests    int
	Concurrency int
	// Warmup requests are sent first and not measured.
	Warmup int
}

// Result summarises a run.
type Result struct {
	Requests  int
	Duration  time.Duration
	Latencies []time.Duration // sorted
	Status    map[int]int
	// Errors counts transport errors (no HTTP answer).
	Errors int
	// FirstError is an example transport error.
	FirstError error
	// Bodies holds one example body per non-2xx status.
	Bodies map[int]string
}

// Percentile returns the p-th percentile latency (0 < p <= 100).
func (r *Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*p/100+0.5) - 1
	i = max(0, min(i, len(r.Latencies)-1))
	return r.Latencies[i]
}

// RPS is the measured throughput.
func (r *Result) RPS() float64 { return float64(r.Requests) / r.Duration.Seconds() }

// String is a one-line summary.
func (r *Result) String() string {
	var st []string
	codes := make([]int, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		st = append(st, fmt.Sprintf("%d×%d", r.Status[c], c))
	}
	return fmt.Sprintf("n=%d rps=%.0f p50=%s p95=%s p99=%s status=[%s] errors=%d",
		r.Requests, r.RPS(), ms(r.Percentile(50)), ms(r.Percentile(95)), ms(r.Percentile(99)), strings.Join(st, " "), r.Errors)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d.Microseconds())/1000) }

// NewClient returns a keep-alive client sized for the concurrency.
func NewClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:        concurrency * 2,
			MaxIdleConnsPerHost: concurrency * 2,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// Run sends cfg.Warmup then cfg.Requests requests built by req, with
// cfg.Concurrency workers sharing one keep-alive client.
func Run(ctx context.Context, c *http.Client, cfg Config, req Request) (*Result, error) {
	if cfg.Concurrency <= 0 || cfg.Requests <= 0 {
		return nil, fmt.Errorf("loadgen: need positive requests and concurrency")
	}
	if cfg.Warmup > 0 {
		if _, err := run(ctx, c, cfg.Warmup, cfg.Concurrency, req, 0); err != nil {
			return nil, err
		}
	}
	return run(ctx, c, cfg.Requests, cfg.Concurrency, req, cfg.Warmup)
}

func run(ctx context.Context, c *http.Client, n, conc int, req Request, offset int) (*Result, error) {
	res := &Result{Requests: n, Status: map[int]int{}, Bodies: map[int]string{}}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	var buildErr error
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				r, err := req(offset + i)
				if err != nil {
					mu.Lock()
					buildErr = err
					mu.Unlock()
					return
				}
				r = r.WithContext(ctx)
				t0 := time.Now()
				resp, err := c.Do(r)
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				lat[i] = time.Since(t0)
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.FirstError == nil {
						res.FirstError = err
					}
				} else {
					res.Status[resp.StatusCode]++
					if resp.StatusCode/100 != 2 && res.Bodies[resp.StatusCode] == "" {
						res.Bodies[resp.StatusCode] = string(bytes.TrimSpace(body))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	if buildErr != nil {
		return nil, buildErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.Latencies = lat
	return res, nil
}
