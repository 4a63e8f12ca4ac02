// Command extproc is modelgate's Envoy plugin: it answers ext_authz
// (API keys) and ext_proc (validation, version routing, response cache,
// deprecation headers) on one gRPC port. See internal/app.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/modelgate/modelgate/extproc/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, app.ErrInvalidConfig) {
			fmt.Fprintln(os.Stderr, "extproc:", err)
		}
		os.Exit(1)
	}
}
