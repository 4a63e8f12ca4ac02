package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// sample is one element of an instant query's vector result.
type sample struct {
	Labels map[string]string
	Value  float64
}

// query runs an instant query against the Prometheus HTTP API.
func (p *Page) query(ctx context.Context, q string) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query prometheus: %w", err)
	}
	defer resp.Body.Close()
	var v struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&v); err != nil {
		return nil, fmt.Errorf("query prometheus: %s: %w", resp.Status, err)
	}
	if v.Status != "success" {
		return nil, fmt.Errorf("query prometheus: %q: %s", q, v.Error)
	}
	if v.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query prometheus: %q: result type %q, want vector", q, v.Data.ResultType)
	}
	out := make([]sample, 0, len(v.Data.Result))
	for _, r := range v.Data.Result {
		s, _ := r.Value[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query prometheus: %q: value %q: %w", q, s, err)
		}
		out = append(out, sample{Labels: r.Metric, Value: f})
	}
	return out, nil
}

// alert is one alert Prometheus reports.
type alert struct {
	Name, Severity, State, Summary string
	Labels                         map[string]string
}

// alerts lists the alerts Prometheus holds (pending and firing).
func (p *Page) alerts(ctx context.Context) ([]alert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer resp.Body.Close()
	var v struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []struct {
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
				State       string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&v); err != nil {
		return nil, fmt.Errorf("list alerts: %s: %w", resp.Status, err)
	}
	if v.Status != "success" {
		return nil, errors.New("list alerts: status " + v.Status)
	}
	out := make([]alert, 0, len(v.Data.Alerts))
	for _, a := range v.Data.Alerts {
		out = append(out, alert{Name: a.Labels["alertname"], Severity: a.Labels["severity"], State: a.State,
			Summary: a.Annotations["summary"], Labels: a.Labels})
	}
	return out, nil
}
