package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/modelgate/modelgate/api/header"
)

// predictBody is the body predict.lua sends as number i: sepal_length is
// 5.1 + i*1e-6, written from integers exactly as the script writes it.
func predictBody(i int64) []byte {
	micro := 5100000 + i
	return fmt.Appendf(nil, `{"model":"iris","inputs":[{"sepal_length":%d.%06d,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}],"options":{}}`,
		micro/1000000, micro%1000000)
}

// answer is the part of a /v2/predict answer the probe checks.
type answer struct {
	Model        string `json:"model"`
	ModelVersion string `json:"model_version"`
	Predictions  []struct {
		Label string `json:"label"`
	} `json:"predictions"`
	RequestID string `json:"request_id"`
	Usage     struct {
		Rows int `json:"rows"`
	} `json:"usage"`
}

// probe sends one request as wrk would and checks that the answer is a
// 200 with one prediction; it returns the answer's headers.
func probe(ctx context.Context, t *target, body []byte) (http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set(header.ContentType, header.MediaJSON)
	for _, h := range t.headers {
		name, value, _ := strings.Cut(h, "=")
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answer %s: %s", resp.Status, b)
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("answer is not a prediction: %w: %s", err, b)
	}
	if a.Model != "iris" || a.ModelVersion == "" || len(a.Predictions) != 1 || a.Predictions[0].Label == "" || a.RequestID == "" || a.Usage.Rows != 1 {
		return nil, fmt.Errorf("answer lacks a field of the /v2/predict contract: %s", b)
	}
	return resp.Header, nil
}

// checkAnswer probes t before load: the hit body twice (for modelgate the
// second must be a cache hit), or one new miss body (a cache miss). In a
// limited scenario every answer must show the bench client's quota
// (checkLimited). It advances *next past the body it used.
func checkAnswer(ctx context.Context, t *target, sc scenario, next *int64) error {
	cached := sc.seed == nil && !sc.opts.NoFilters // the seed sends no x-cache
	send := func(body []byte) (string, error) {
		h, err := probe(ctx, t, body)
		if err != nil {
			return "", fmt.Errorf("probe: %w", err)
		}
		if sc.limited {
			if err := checkLimited(h); err != nil {
				return "", fmt.Errorf("probe (limited tier): %w", err)
			}
		}
		return h.Get(header.Cache), nil
	}
	if sc.miss {
		got, err := send(predictBody(*next))
		*next++
		if err != nil {
			return err
		}
		if cached && got != "MISS" {
			return fmt.Errorf("probe: a new body answered %s %q, want MISS", header.Cache, got)
		}
		return nil
	}
	var got string
	for range 2 {
		var err error
		if got, err = send(predictBody(0)); err != nil {
			return err
		}
	}
	if cached && got != "HIT" {
		return fmt.Errorf("probe: the repeated body answered %s %q, want HIT", header.Cache, got)
	}
	return nil
}
