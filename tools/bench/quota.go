package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/api/header"
	ratelimitconfig "github.com/modelgate/modelgate/ratelimit-config"
)

// The limited scenarios send the key of limitedClient, a client of a
// limited tier, so the ratelimit service counts every request in Redis
// (extproc remembers only answers without any limit). The bench's copy of
// the ratelimit config gives that client limits so large that no run is
// refused; the internal-tier key of the other scenarios stays unlimited,
// as shipped.
const (
	// internalClient is the client of every other modelgate scenario.
	internalClient, internalTier = "bench", "internal"

	limitedClient = "bench-pro"
	limitedTier   = "pro"
	// limitedRequests is each of limitedClient's three quotas per window,
	// far above what a run sends (and within the rules' uint32).
	limitedRequests = 1_000_000_000
)

// Where the stack's ratelimit service reads the bench's copy:
// RateLimitRoot/RateLimitSubdir/config/.
const (
	rateLimitRoot   = "rl"
	rateLimitSubdir = "ratelimit"
)

// limitedRules are the rules added under the pro tier of each quota for
// limitedClient. None is shadow_mode (the shipped pro per-second rule is):
// all three are enforced, as a limited tier's are.
func limitedRules() map[string]map[string]any {
	limit := func(unit string) map[string]any {
		return map[string]any{"unit": unit, "requests_per_unit": limitedRequests}
	}
	return map[string]map[string]any{
		"client_minute": {"key": "client", "value": limitedClient, "rate_limit": limit("minute")},
		"client_second": {"key": "client", "value": limitedClient, "rate_limit": limit("second")},
		"client_model": {"key": "client", "value": limitedClient, "descriptors": []any{
			map[string]any{"key": "model", "descriptors": []any{
				map[string]any{"key": "version", "rate_limit": limit("minute")},
			}},
		}},
	}
}

// writeRateLimitConfig writes the shipped ratelimit config with
// limitedRules to runDir/rl/ratelimit/config/modelgate.yaml and checks it
// with the service's own loader: limitedClient gets the bench's limits on
// all three quotas, and the internal tier (the key of hit, miss, ...) is
// still unlimited.
func writeRateLimitConfig(repo, runDir string) error {
	b, err := os.ReadFile(filepath.Join(repo, ratelimitconfig.Dir, "modelgate.yaml"))
	if err != nil {
		return err
	}
	y, err := addLimitedRules(b)
	if err != nil {
		return fmt.Errorf("ratelimit config: %w", err)
	}
	dir := filepath.Join(runDir, rateLimitRoot, rateLimitSubdir, "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	y = append([]byte("# Written by tools/bench: ratelimit-config/config/modelgate.yaml plus the rules of client "+limitedClient+".\n"), y...)
	if err := os.WriteFile(filepath.Join(dir, "modelgate.yaml"), y, 0o644); err != nil {
		return err
	}
	c, err := ratelimitconfig.Load(dir)
	if err != nil {
		return err
	}
	return checkRules(c)
}

// addLimitedRules adds limitedRules to a ratelimit config document.
func addLimitedRules(b []byte) ([]byte, error) {
	var root map[string]any
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	rules := limitedRules()
	quotas, _ := root["descriptors"].([]any)
	for _, q := range quotas {
		qm, _ := q.(map[string]any)
		rule, ok := rules[fmt.Sprint(qm["value"])]
		if !ok {
			continue
		}
		tiers, _ := qm["descriptors"].([]any)
		for _, t := range tiers {
			tm, _ := t.(map[string]any)
			if tm["key"] != "tier" || tm["value"] != limitedTier {
				continue
			}
			clients, _ := tm["descriptors"].([]any)
			tm["descriptors"] = append(clients, rule)
			delete(rules, fmt.Sprint(qm["value"]))
			break
		}
	}
	if len(rules) > 0 {
		var missing []string
		for q := range rules {
			missing = append(missing, q)
		}
		return nil, fmt.Errorf("no tier %s under quota %s to add the bench client to", limitedTier, strings.Join(missing, ", "))
	}
	return yaml.Marshal(root)
}

// checkRules proves what the scenarios rely on, on the loaded config: the
// descriptors extproc sends for limitedClient (iris v2) hit the bench's
// enforced limits, and those of the internal tier hit no limit.
func checkRules(c *ratelimitconfig.Config) error {
	var errs []error
	for _, q := range []string{"client_minute", "client_second", "client_model"} {
		kv := []string{"quota", q, "tier", limitedTier, "client", limitedClient}
		internal := []string{"quota", q, "tier", internalTier, "client", internalClient}
		if q == "client_model" {
			kv = append(kv, "model", "iris", "version", "2")
			internal = append(internal, "model", "iris", "version", "2")
		}
		l, ok := c.Lookup(kv...)
		if !ok || l.Unlimited || l.ShadowMode || l.RequestsPerUnit != limitedRequests {
			errs = append(errs, fmt.Errorf("%s: client %s gets %v (matched %t), want %d per window, enforced", q, limitedClient, l, ok, limitedRequests))
		}
		if l, ok := c.Lookup(internal...); ok && !l.Unlimited {
			errs = append(errs, fmt.Errorf("%s: the internal tier gets %v, want unlimited", q, l))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench ratelimit config: %w", err)
	}
	return nil
}

// checkLimited checks that an answer counted against the bench client's
// limits: x-ratelimit-limit names the bench's limit, and
// x-ratelimit-remaining is below it (this request was counted).
func checkLimited(h http.Header) error {
	limit, remaining := h.Get(header.RateLimitLimit), h.Get(header.RateLimitRemaining)
	if remaining == "" {
		return fmt.Errorf("no %s: no limit applied to the %s tier", header.RateLimitRemaining, limitedTier)
	}
	if want := strconv.Itoa(limitedRequests) + ", "; !strings.HasPrefix(limit, want) {
		return fmt.Errorf("%s %q, want the bench's %d per window", header.RateLimitLimit, limit, limitedRequests)
	}
	if n, err := strconv.ParseUint(remaining, 10, 32); err != nil || n >= limitedRequests {
		return fmt.Errorf("%s %q: not a count below the limit", header.RateLimitRemaining, remaining)
	}
	return nil
}
