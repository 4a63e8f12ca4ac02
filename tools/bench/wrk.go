package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkRun is one invocation of wrk with tools/bench/wrk/predict.lua.
type wrkRun struct {
	bin, script, url string
	threads, conns   int
	duration         time.Duration
	// miss makes every body unique, numbered from base (see predict.lua).
	miss bool
	base int64
	// headers are name=value pairs sent with every request.
	headers []string
}

// wrkResult is what one run measured.
type wrkResult struct {
	Requests int64
	Duration time.Duration
	// Errors by wrk's kind; Status counts answers >= 400.
	Connect, Read, Write, Status, Timeout int64
	P50, P95, P99, Max                    time.Duration
	// NextBase is the first body number a following miss run may use.
	NextBase int64
	// CPU is wrk's own user+system time (reported, never counted).
	CPU time.Duration
}

// RPS is requests per second over wrk's measured duration.
func (r wrkResult) RPS() float64 { return float64(r.Requests) / r.Duration.Seconds() }

// Errors is the sum of every kind of failure wrk counted.
func (r wrkResult) Errors() int64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

func (r wrkResult) errorSummary() string {
	return fmt.Sprintf("connect %d, read %d, write %d, status>=400 %d, timeout %d", r.Connect, r.Read, r.Write, r.Status, r.Timeout)
}

// wrkSeconds formats a duration the way wrk's -d wants it: whole seconds.
func wrkSeconds(d time.Duration) (string, error) {
	s := int64(d / time.Second)
	if s < 1 || d%time.Second != 0 {
		return "", fmt.Errorf("wrk takes whole seconds, not %s", d)
	}
	return strconv.FormatInt(s, 10) + "s", nil
}

// run executes wrk and parses the wrk_result line predict.lua prints.
func (w wrkRun) run(ctx context.Context) (wrkResult, error) {
	d, err := wrkSeconds(w.duration)
	if err != nil {
		return wrkResult{}, err
	}
	threads := min(w.threads, w.conns) // wrk refuses more threads than connections
	mode := "hit"
	if w.miss {
		mode = "miss"
	}
	args := []string{
		"-t", strconv.Itoa(threads), "-c", strconv.Itoa(w.conns), "-d", d,
		// A stalled answer shows up as a timeout error instead of a long tail.
		"--timeout", "5s",
		"-s", w.script, w.url, "--", mode, strconv.FormatInt(w.base, 10), strconv.Itoa(threads),
	}
	args = append(args, w.headers...)
	cmd := exec.CommandContext(ctx, w.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w\n%s%s", err, stdout.String(), stderr.String())
	}
	// wrk prints Lua errors and goes on with a broken script, so stderr
	// output is a failure too.
	if s := strings.TrimSpace(stderr.String()); s != "" {
		return wrkResult{}, fmt.Errorf("wrk: %s", s)
	}
	r, err := parseWrkResult(stdout.String(), w.base, int64(threads))
	if err != nil {
		return wrkResult{}, fmt.Errorf("%w; wrk printed:\n%s", err, stdout.String())
	}
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, nil
}

// parseWrkResult reads the wrk_result line of predict.lua's done().
func parseWrkResult(out string, base, threads int64) (wrkResult, error) {
	var line string
	for l := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "wrk_result "); ok {
			line = rest
		}
	}
	if line == "" {
		return wrkResult{}, errors.New("wrk: no wrk_result line (did the script's done() run?)")
	}
	v := map[string]int64{}
	for _, kv := range strings.Fields(line) {
		k, s, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil {
			return wrkResult{}, fmt.Errorf("wrk: bad field %q", kv)
		}
		v[k] = n
	}
	for _, k := range []string{"requests", "duration_us", "connect", "read", "write", "status", "timeout", "p50_us", "p95_us", "p99_us", "max_us", "issued"} {
		if _, ok := v[k]; !ok {
			return wrkResult{}, fmt.Errorf("wrk: wrk_result lacks %s", k)
		}
	}
	us := func(k string) time.Duration { return time.Duration(v[k]) * time.Microsecond }
	r := wrkResult{
		Requests: v["requests"], Duration: us("duration_us"),
		Connect: v["connect"], Read: v["read"], Write: v["write"], Status: v["status"], Timeout: v["timeout"],
		P50: us("p50_us"), P95: us("p95_us"), P99: us("p99_us"), Max: us("max_us"),
		NextBase: base + (v["issued"]+1)*threads,
	}
	if r.Requests == 0 || r.Duration <= 0 {
		return wrkResult{}, fmt.Errorf("wrk: no request completed (%s)", r.errorSummary())
	}
	return r, nil
}
