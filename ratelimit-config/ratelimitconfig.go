// Package ratelimitconfig loads the modelgate rate-limit domain with the
// envoyproxy/ratelimit service's own loader, so that a config that passes
// here is exactly a config the running service accepts.
//
// The upstream loader reports errors by panicking with
// config.RateLimitConfigError; [Load] turns that into an ordinary error.
package ratelimitconfig

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pbstruct "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	"github.com/envoyproxy/ratelimit/src/config"
	"github.com/envoyproxy/ratelimit/src/settings"
	"github.com/envoyproxy/ratelimit/src/stats"
	gostats "github.com/lyft/gostats"
)

// Domain is the ratelimit domain Envoy sends and the config declares.
const Domain = "modelgate"

// Dir is the folder, relative to the repository root, that the ratelimit
// service watches (RUNTIME_ROOT=<repo>, RUNTIME_SUBDIRECTORY=ratelimit-config,
// RUNTIME_APPDIRECTORY=config).
const Dir = "ratelimit-config/config"

// Config is a loaded domain config.
type Config struct {
	rl config.RateLimitConfig
	// Domains lists the domains the files declare.
	Domains []string
}

// Load parses and validates every file in dir the way the ratelimit
// service's file provider does with RUNTIME_IGNOREDOTFILES=true: every
// regular file except dot files is YAML, and a domain may appear only once.
func Load(dir string) (*Config, error) {
	var files []config.RateLimitConfigToLoad
	var domains []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		root, err := parse(path, string(b))
		if err != nil {
			return err
		}
		domains = append(domains, root.Domain)
		files = append(files, config.RateLimitConfigToLoad{Name: path, ConfigYaml: root})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load ratelimit config %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("load ratelimit config %s: no files", dir)
	}
	rl, err := build(files)
	if err != nil {
		return nil, fmt.Errorf("load ratelimit config %s: %w", dir, err)
	}
	sort.Strings(domains)
	return &Config{rl: rl, Domains: domains}, nil
}

func parse(name, content string) (root *config.YamlRoot, err error) {
	defer recoverConfigError(&err)
	return config.ConfigFileContentToYaml(name, content), nil
}

func build(files []config.RateLimitConfigToLoad) (rl config.RateLimitConfig, err error) {
	defer recoverConfigError(&err)
	sm := stats.NewStatManager(gostats.NewStore(gostats.NewNullSink(), false), settings.Settings{})
	return config.NewRateLimitConfigImpl(files, sm, false), nil
}

// recoverConfigError turns the upstream loader's panic into *err. Panics of
// any other kind are bugs and are re-raised.
func recoverConfigError(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if e, ok := r.(config.RateLimitConfigError); ok {
		*err = e
		return
	}
	panic(r)
}

// Limit is the rule that applies to one descriptor.
type Limit struct {
	// Key is the ratelimit stats key, e.g. "modelgate.quota_client_minute.tier_free.client".
	Key             string
	RequestsPerUnit uint32
	// Unit is SECOND, MINUTE, HOUR, DAY, ...
	Unit       string
	Unlimited  bool
	ShadowMode bool
}

// String renders the limit for test output and docs.
func (l Limit) String() string {
	switch {
	case l.Unlimited:
		return l.Key + " unlimited"
	case l.ShadowMode:
		return fmt.Sprintf("%s %d/%s (shadow)", l.Key, l.RequestsPerUnit, l.Unit)
	default:
		return fmt.Sprintf("%s %d/%s", l.Key, l.RequestsPerUnit, l.Unit)
	}
}

// Lookup returns the rule the ratelimit service applies to the descriptor
// given as key/value pairs in order, and false when none applies.
func (c *Config) Lookup(kv ...string) (Limit, bool) {
	if len(kv)%2 != 0 {
		panic("ratelimitconfig: Lookup needs key/value pairs")
	}
	d := &pbstruct.RateLimitDescriptor{}
	for i := 0; i < len(kv); i += 2 {
		d.Entries = append(d.Entries, &pbstruct.RateLimitDescriptor_Entry{Key: kv[i], Value: kv[i+1]})
	}
	rl := c.rl.GetLimit(context.Background(), Domain, d)
	if rl == nil {
		return Limit{}, false
	}
	l := Limit{Key: rl.FullKey, Unlimited: rl.Unlimited, ShadowMode: rl.ShadowMode}
	if rl.Limit != nil {
		l.RequestsPerUnit = rl.Limit.RequestsPerUnit
		l.Unit = rl.Limit.Unit.String()
	}
	return l, true
}
