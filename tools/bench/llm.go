package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/tools/stack"
)

// The text-generation bench (`make bench-llm`, -llm): chat completion
// streams of the built-in model, straight to its inference process (the
// floor: the model's own speed) and through the gateway (Envoy, extproc's
// STREAMED usage watch, the stream-done token charge), at each stream
// count of -c. Greedy decoding and a fixed prompt make every stream the
// same work.
const (
	llmModel     = "scribe"
	llmPrompt    = "And God said, Let there be light: and there was light."
	llmMaxTokens = 64
)

// streamResult is one finished stream.
type streamResult struct {
	headers  time.Duration // request sent to response headers
	ttft     time.Duration // request sent to first content delta
	duration time.Duration
	tokens   int // completion tokens, from the usage chunk
}

// llmRow is one measured run.
type llmRow struct {
	name    string
	streams int
	results []streamResult
	wall    time.Duration
	cpu     map[string]time.Duration
}

func (r llmRow) tokens() int {
	n := 0
	for _, s := range r.results {
		n += s.tokens
	}
	return n
}

// runLLM starts the stack once and measures both paths at every count.
func (e *env) runLLM(ctx context.Context) error {
	s, err := stack.Start(ctx, e.stackConfig())
	if err != nil {
		return err
	}
	defer s.Stop()
	var model *bootstrap.Target
	var groups []group
	for _, name := range []string{stack.Envoy, stack.Extproc, stack.RateLimit, stack.Redis} {
		groups = append(groups, group{name: name, column: name, pid: s.Proc(name).Pid()})
	}
	for _, tg := range s.Targets() {
		if tg.Model == llmModel {
			model = &tg
			n := stack.InferenceName(tg)
			groups = append(groups, group{name: n, column: colInference, pid: s.Proc(n).Pid()})
		}
	}
	if model == nil {
		return fmt.Errorf("the catalog has no %s model", llmModel)
	}
	paths := []struct {
		name, url string
		headers   map[string]string
	}{
		{"llm-direct", fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", s.Ports().Inference(*model)),
			map[string]string{header.Model: model.Model, header.ModelVersion: model.Version}},
		{"llm-gateway", s.URL() + "/v1/chat/completions", map[string]string{header.APIKey: e.key.Secret}},
	}
	// The paths take turns in rounds of -d/-llm-rounds at each stream
	// count, so that the machine's drift (the model's own time to first
	// token moves by milliseconds between minutes) weighs on both alike.
	rounds := max(e.cfg.llmRounds, 1)
	var rows []llmRow
	for _, c := range e.cfg.conns {
		at := len(rows)
		for _, p := range paths {
			rows = append(rows, llmRow{name: p.name, streams: c, cpu: map[string]time.Duration{}})
			if e.cfg.warmup > 0 {
				if _, err := streams(ctx, p.url, p.headers, c, e.cfg.warmup); err != nil {
					return fmt.Errorf("%s c=%d warmup: %w", p.name, c, err)
				}
			}
		}
		for range rounds {
			for i, p := range paths {
				if err := e.llmRound(ctx, &rows[at+i], groups, p.url, p.headers, e.cfg.duration/time.Duration(rounds)); err != nil {
					return err
				}
			}
		}
		for _, r := range rows[at:] {
			fmt.Fprintf(os.Stderr, "   %s c=%d: %d streams, %d tokens\n", r.name, c, len(r.results), r.tokens())
		}
	}
	printLLM(os.Stdout, rows)
	return nil
}

// llmRound adds one round of d at the row's stream count to row.
func (e *env) llmRound(ctx context.Context, row *llmRow, groups []group, url string, headers map[string]string, d time.Duration) error {
	before, err := snapshot(groups)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := streams(ctx, url, headers, row.streams, d)
	if err != nil {
		return fmt.Errorf("%s c=%d: %w", row.name, row.streams, err)
	}
	row.wall += time.Since(start)
	row.results = append(row.results, res...)
	after, err := snapshot(groups)
	if err != nil {
		return err
	}
	for name, dt := range cpuDelta(before, after) {
		for _, g := range groups {
			if g.name == name {
				row.cpu[g.column] += dt
			}
		}
	}
	return nil
}

// streams runs conc workers, each opening one stream after another, until
// d has passed; every stream must succeed.
func streams(ctx context.Context, url string, headers map[string]string, conc int, d time.Duration) ([]streamResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(d)
	var (
		mu   sync.Mutex
		out  []streamResult
		errs []error
		wg   sync.WaitGroup
	)
	body, _ := json.Marshal(map[string]any{
		"model": llmModel, "messages": []map[string]string{{"role": "user", "content": llmPrompt}},
		"max_tokens": llmMaxTokens, "temperature": 0, "stream": true, "stream_options": map[string]bool{"include_usage": true},
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	for range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				r, err := oneStream(ctx, client, url, headers, body)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					mu.Unlock()
					cancel()
					return
				}
				out = append(out, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func oneStream(ctx context.Context, client *http.Client, url string, headers map[string]string, body []byte) (streamResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return streamResult{}, err
	}
	req.Header.Set(header.ContentType, header.MediaJSON)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return streamResult{}, err
	}
	headersAt := time.Since(start)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return streamResult{}, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	r := streamResult{headers: headersAt}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok || bytes.Equal(data, []byte("[DONE]")) {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(data, &chunk); err != nil {
			return r, fmt.Errorf("event %q: %w", data, err)
		}
		if chunk.Error != nil {
			return r, fmt.Errorf("stream error: %s", chunk.Error)
		}
		if r.ttft == 0 && len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" {
			r.ttft = time.Since(start)
		}
		if chunk.Usage != nil {
			r.tokens = chunk.Usage.CompletionTokens
		}
	}
	if err := sc.Err(); err != nil {
		return r, err
	}
	if r.tokens == 0 {
		return r, errors.New("the stream reported no usage")
	}
	r.duration = time.Since(start)
	return r, nil
}

// printLLM prints the table and the gateway's ratios against the direct
// path at the same stream count.
func printLLM(w io.Writer, rows []llmRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tstreams\tcompleted\ttokens/s\tper-stream tok/s p50\theaders p50 ms\tTTFT p50 ms\tTTFT p95 ms\tCPU µs/token (envoy, extproc, ratelimit, inference)\t")
	direct := map[int]llmRow{}
	for _, r := range rows {
		if r.name == "llm-direct" {
			direct[r.streams] = r
		}
		ttft := make([]time.Duration, len(r.results))
		hdr := make([]time.Duration, len(r.results))
		rate := make([]float64, len(r.results))
		for i, s := range r.results {
			ttft[i], hdr[i] = s.ttft, s.headers
			rate[i] = float64(s.tokens) / s.duration.Seconds()
		}
		slices.Sort(ttft)
		slices.Sort(hdr)
		slices.Sort(rate)
		tok := float64(r.tokens())
		us := func(col string) string { return fmt.Sprintf("%.0f", float64(r.cpu[col].Microseconds())/tok) }
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.0f\t%s\t%s\t%s\t%s, %s, %s, %s\t\n", r.name, r.streams, len(r.results),
			tok/r.wall.Seconds(), rate[len(rate)/2], ms(hdr[len(hdr)/2]), ms(ttft[len(ttft)/2]), ms(ttft[len(ttft)*95/100]),
			us(stack.Envoy), us(stack.Extproc), us(stack.RateLimit), us(colInference))
	}
	tw.Flush()
	for _, r := range rows {
		d, ok := direct[r.streams]
		if r.name != "llm-gateway" || !ok {
			continue
		}
		fmt.Fprintf(w, "gateway vs direct at %d stream(s): tokens/s ×%.2f; TTFT p50 %+.2f ms (goal < 1 ms); per chunk %+.3f ms (goal < 0.2 ms)\n",
			r.streams, (float64(r.tokens())/r.wall.Seconds())/(float64(d.tokens())/d.wall.Seconds()),
			float64((r.ttftP50()-d.ttftP50()).Microseconds())/1000, float64((r.perChunk()-d.perChunk()).Microseconds())/1000)
	}
}

// ttftP50 is the median time to first token.
func (r llmRow) ttftP50() time.Duration {
	t := make([]time.Duration, len(r.results))
	for i, s := range r.results {
		t[i] = s.ttft
	}
	slices.Sort(t)
	return t[len(t)/2]
}

// perChunk is the mean time between tokens after the first: a stream's
// time past its first token over the tokens that followed it (one chunk
// each), averaged over the streams.
func (r llmRow) perChunk() time.Duration {
	var sum time.Duration
	n := 0
	for _, s := range r.results {
		if s.tokens > 1 {
			sum += (s.duration - s.ttft) / time.Duration(s.tokens-1)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / time.Duration(n)
}
