// Package app wires extproc together: command line, configuration, the
// gRPC server (ext_authz, ext_proc, health), the admin HTTP server, reloads
// and graceful shutdown. main only builds a signal context and calls Run.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/config"
	"github.com/modelgate/modelgate/extproc/internal/keycli"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/internal/catalog"
)

// ErrInvalidConfig is returned by --check-config and by serve when the
// configuration has problems; they have been printed already.
var ErrInvalidConfig = errors.New("invalid configuration")

const usageText = `usage:
  extproc [serve] [--config PATH]     serve ext_authz + ext_proc (gRPC) and the admin port
  extproc --check-config [--config PATH]
                                      report every configuration problem, exit 1 if any
  extproc keys create|list|revoke ... manage the API keys file

--config defaults to $` + config.EnvConfig + `, else ` + config.DefaultPath + `.
`

// Run executes the command line args (without the program name). It
// returns when ctx is cancelled (serve) or the command is done.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "keys" {
		return keycli.Run(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("extproc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText) }
	defPath := getenv(config.EnvConfig)
	if defPath == "" {
		defPath = config.DefaultPath
	}
	path := fs.String("config", defPath, "configuration file")
	check := fs.Bool("check-config", false, "validate the configuration and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, usageText)
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	cfg, err := load(*path, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: configuration problems:\n", *path)
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "  - %s\n", line)
		}
		return ErrInvalidConfig
	}
	if *check {
		fmt.Fprintf(stdout, "%s: configuration OK\n", *path)
		return nil
	}
	return serve(ctx, *path, cfg, getenv, stderr)
}

// load reads and validates the configuration and every file it names,
// collecting all problems.
func load(path string, getenv func(string) string) (*config.Config, error) {
	cfg, err := config.Load(path, getenv)
	errs := []error{err}
	if err == nil || cfg != nil {
		errs = append(errs, cfg.Validate())
	}
	if cfg != nil {
		if _, err := catalog.Load(cfg.Catalog); err != nil && fileExists(cfg.Catalog) {
			errs = append(errs, fmt.Errorf("catalog: %w", err))
		}
		if _, err := policy.Load(cfg.OpenAPI, policy.RequestSchemas...); err != nil && fileExists(cfg.OpenAPI) {
			errs = append(errs, fmt.Errorf("openapi: %w", err))
		}
		if _, err := authz.Open(cfg.KeysFile, authz.Options{Pepper: pepper(getenv)}); err != nil && fileExists(cfg.KeysFile) {
			errs = append(errs, fmt.Errorf("keys_file: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// pepper returns the HMAC key of peppered key hashes, or nil.
func pepper(getenv func(string) string) []byte {
	if p := getenv(keycli.EnvPepper); p != "" {
		return []byte(p)
	}
	return nil
}
