package stack

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

// defineInference adds the inference process of one target.
func (s *Stack) defineInference(t bootstrap.Target) {
	c := s.cfg
	port := c.Ports.Inference(t)
	s.add(&Proc{
		Name: InferenceName(t), bin: c.Bin.Inference,
		args: []string{"--addr", lo(port), "--catalog", c.Catalog, "--serve", t.Serve(), "--watch=false"},
		env: append(append(append([]string{"INFERENCE_LOG_FORMAT=json"}, c.otlpEnv("modelgate-inference")...),
			s.jobsEnv()...), c.inferenceMaxProcs(t)...),
		health: httpOK("http://" + lo(port) + "/readyz"),
	})
}

// StartTarget starts an inference process for a version added to the
// catalog after the stack started, on the port the control plane gives
// it (InferenceBase + its index in the new catalog's target order).
func (s *Stack) StartTarget(ctx context.Context, t bootstrap.Target) error {
	name := InferenceName(t)
	if _, ok := s.procs[name]; ok {
		return fmt.Errorf("stack: %s already runs", name)
	}
	s.defineInference(t)
	s.targets = append(s.targets, t)
	return s.StartProc(ctx, name)
}

// inferenceMaxProcs is the GOMAXPROCS entry of one inference process:
// [Config.GoMaxProcs]' Inference for a tabular version, none (Go's
// default) for a text-generation one, whose generations are CPU-bound: with
// one P, concurrent streams take turns (4 streams straight to the model:
// 801 against 1,546 tokens/s, `go run ./tools/bench -llm -c 1,4` with and
// without -gomaxprocs inference=0).
func (c *Config) inferenceMaxProcs(t bootstrap.Target) []string {
	if t.LLM {
		return nil
	}
	return c.goMaxProcs(Inference)
}
