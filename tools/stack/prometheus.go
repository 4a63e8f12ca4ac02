package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/ops"
)

// Prometheus is the process name of the stack's Prometheus.
const Prometheus = "prometheus"

// PrometheusURL is the base URL of the stack's Prometheus, "" when the
// stack runs without one.
func (s *Stack) PrometheusURL() string {
	if s.cfg.PrometheusAddr == "" {
		return ""
	}
	return "http://" + s.cfg.PrometheusAddr
}

// StatusURL is the status page extproc serves on its admin port.
func (s *Stack) StatusURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/status", s.cfg.Ports.ExtprocAdmin)
}

// definePrometheus renders RunDir/prometheus.yml, scraping every process
// of the stack with the rules of ops/prometheus/rules, and adds the
// process. Its data lives in RunDir/prometheus and is wiped on each start:
// a local stack's history starts with the stack.
func (s *Stack) definePrometheus() error {
	c := s.cfg
	if c.Bin.Prometheus == "" {
		return errors.New("stack: PrometheusAddr is set but no prometheus binary: run scripts/install.sh (apt-get install prometheus)")
	}
	sc := ops.Scrape{
		Interval: c.PrometheusInterval,
		Stack:    "local",
		Envoy:    lo(c.Ports.EnvoyAdmin), Extproc: []string{lo(c.Ports.ExtprocAdmin)},
		RateLimit: lo(c.Ports.RateLimitMetrics),
		RuleFiles: ops.RuleFiles(c.Root),
	}
	for _, t := range s.targets {
		sc.Inference = append(sc.Inference, ops.Deployment{Address: lo(c.Ports.Inference(t)), Deployment: InferenceName(t)})
	}
	b, err := ops.PrometheusConfig(sc)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(c.RunDir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		return err
	}
	data := filepath.Join(c.RunDir, "prometheus")
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	pr := &Proc{
		Name: Prometheus, bin: c.Bin.Prometheus,
		args: []string{"--config.file=" + cfgFile, "--storage.tsdb.path=" + data,
			"--storage.tsdb.retention.time=2d", "--web.listen-address=" + c.PrometheusAddr,
			"--log.level=warn"},
		health: httpOK(s.PrometheusURL() + "/-/ready"),
	}
	s.add(pr)
	return nil
}

// WaitScraped waits until Prometheus has scraped every process of the
// stack and each answered (up == 1 for all of them).
func (s *Stack) WaitScraped(ctx context.Context) error {
	if s.PrometheusURL() == "" {
		return errors.New("stack: no Prometheus")
	}
	want := float64(len(s.targets) + 3)
	for {
		n, err := QueryScalar(ctx, s.PrometheusURL(), "count(up == 1)")
		if err == nil && n >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("prometheus: %v of %v targets up: %w (last error: %v)", n, want, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// QueryScalar runs an instant query on the Prometheus at base and returns
// the value of its single result (0 and an error when there is none).
func QueryScalar(ctx context.Context, base, query string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("query %q: %w", query, err)
	}
	if v.Status != "success" {
		return 0, fmt.Errorf("query %q: %s", query, v.Error)
	}
	if len(v.Data.Result) != 1 {
		return 0, fmt.Errorf("query %q: %d results, want 1", query, len(v.Data.Result))
	}
	str, _ := v.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(str, 64)
}
