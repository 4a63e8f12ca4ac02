package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/tools/stack"
)

// The jobs bench (`make bench-jobs`, -jobs): -jobs-count jobs of
// -jobs-rows iris rows each, submitted at once through Envoy with a
// webhook to a receiver on loopback, measured from the first submission
// to the last job's completed_at (rows/s through the whole job path:
// extproc's validation, the jobs Redis, a worker, the stored result) and
// from each job's completed_at to its webhook's arrival (delivery
// latency), with CPU per 1,000 rows per process.

// jobsResult is one job as the bench saw it.
type jobsResult struct {
	completed, delivered time.Time
}

// runJobs starts the stack once and measures one batch of jobs.
func (e *env) runJobs(ctx context.Context) error {
	s, err := stack.Start(ctx, e.stackConfig())
	if err != nil {
		return err
	}
	defer s.Stop()
	if out, err := exec.CommandContext(ctx, e.bins.Inference, "webhook-secret", "create",
		"--client", internalClient, "--file", s.WebhookSecrets()).CombinedOutput(); err != nil {
		return fmt.Errorf("webhook-secret create: %w: %s", err, out)
	}
	var groups []group
	for _, name := range []string{stack.Envoy, stack.Extproc, stack.RateLimit, stack.Redis, stack.JobsRedis} {
		groups = append(groups, group{name: name, column: name, pid: s.Proc(name).Pid()})
	}
	for _, tg := range s.Targets() {
		n := stack.InferenceName(tg)
		groups = append(groups, group{name: n, column: colInference, pid: s.Proc(n).Pid()})
	}

	var mu sync.Mutex
	arrived := map[string]time.Time{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Data struct{ ID string } }
		_ = json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		if _, ok := arrived[ev.Data.ID]; !ok {
			arrived[ev.Data.ID] = time.Now()
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	n, rows := e.cfg.jobsCount, e.cfg.jobsRows
	row := `{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}`
	body := []byte(`{"model":"iris","inputs":[` + strings.TrimSuffix(strings.Repeat(row+",", rows), ",") +
		`],"webhook":"` + rcv.URL + `/hook"}`)
	client := &http.Client{Timeout: 60 * time.Second}
	before, err := snapshot(groups)
	if err != nil {
		return err
	}
	start := time.Now()
	ids := make([]string, 0, n)
	for range n {
		id, err := submitJob(ctx, client, s.URL(), e.key.Secret, body)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	results := map[string]*jobsResult{}
	deadline := time.Now().Add(5 * time.Minute)
	for len(results) < n || countDelivered(&mu, arrived, ids) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("after 5 minutes: %d of %d jobs done, %d webhooks", len(results), n, countDelivered(&mu, arrived, ids))
		}
		for _, id := range ids {
			if results[id] != nil {
				continue
			}
			done, at, err := jobDone(ctx, client, s.URL(), e.key.Secret, id)
			if err != nil {
				return err
			}
			if done {
				results[id] = &jobsResult{completed: at}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	after, err := snapshot(groups)
	if err != nil {
		return err
	}
	var last time.Time
	var latency []time.Duration
	mu.Lock()
	for id, r := range results {
		r.delivered = arrived[id]
		latency = append(latency, r.delivered.Sub(r.completed))
		if r.completed.After(last) {
			last = r.completed
		}
	}
	mu.Unlock()
	slices.Sort(latency)
	cpu := map[string]time.Duration{}
	for name, d := range cpuDelta(before, after) {
		for _, g := range groups {
			if g.name == name {
				cpu[g.column] += d
			}
		}
	}
	total := float64(n * rows)
	per := func(col string) string { return fmt.Sprintf("%.0f", float64(cpu[col].Microseconds())/(total/1000)) }
	elapsed := last.Sub(start)
	fmt.Printf("\nmodelgate jobs bench %s: %d jobs × %d iris rows (%d bytes each) through Envoy, one webhook each to a loopback receiver\n",
		start.UTC().Format("2006-01-02 15:04 MST"), n, rows, len(body))
	fmt.Printf("machine: %d cores, load average %s at start; GOMAXPROCS of the Go services: %s\n", runtime.NumCPU(), loadAverage(), maxProcsText(e.cfg.goMaxProcs))
	fmt.Printf("rows/s (first submission to last completed_at): %.0f over %s\n", total/elapsed.Seconds(), elapsed.Round(time.Millisecond))
	fmt.Printf("webhook delivery (completed_at to arrival): p50 %s ms, p95 %s ms, max %s ms\n",
		ms(latency[len(latency)/2]), ms(latency[len(latency)*95/100]), ms(latency[len(latency)-1]))
	fmt.Printf("CPU µs per 1,000 rows: envoy %s, extproc %s, inference %s, jobs-redis %s, ratelimit %s, redis %s\n",
		per(stack.Envoy), per(stack.Extproc), per(colInference), per(stack.JobsRedis), per(stack.RateLimit), per(stack.Redis))
	return nil
}

// submitJob posts one job and returns its id.
func submitJob(ctx context.Context, c *http.Client, base, key string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v2/jobs", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set(header.ContentType, header.MediaJSON)
	req.Header.Set(header.APIKey, key)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /v2/jobs: %d %s", resp.StatusCode, b)
	}
	var j struct{ ID string }
	if err := json.Unmarshal(b, &j); err != nil || j.ID == "" {
		return "", fmt.Errorf("POST /v2/jobs: no job id in %s", b)
	}
	return j.ID, nil
}

// jobDone reads a job: whether it succeeded and when. A job that failed
// or was canceled stops the bench.
func jobDone(ctx context.Context, c *http.Client, base, key, id string) (bool, time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v2/jobs/"+id, nil)
	if err != nil {
		return false, time.Time{}, err
	}
	req.Header.Set(header.APIKey, key)
	resp, err := c.Do(req)
	if err != nil {
		return false, time.Time{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var j struct {
		Status      string
		CompletedAt *time.Time `json:"completed_at"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &j) != nil {
		return false, time.Time{}, fmt.Errorf("GET /v2/jobs/%s: %d %s", id, resp.StatusCode, b)
	}
	switch j.Status {
	case "succeeded":
		if j.CompletedAt == nil {
			return false, time.Time{}, fmt.Errorf("job %s succeeded without completed_at", id)
		}
		return true, *j.CompletedAt, nil
	case "queued", "running":
		return false, time.Time{}, nil
	}
	return false, time.Time{}, fmt.Errorf("job %s ended %s: %s", id, j.Status, b)
}

func countDelivered(mu *sync.Mutex, arrived map[string]time.Time, ids []string) int {
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, id := range ids {
		if _, ok := arrived[id]; ok {
			n++
		}
	}
	return n
}
