// Command controlplane is modelgate's xDS server: it serves Envoy the
// listeners, routes and clusters built from models/catalog.yaml over ADS
// and pushes a new snapshot when the catalog changes. See internal/app.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/modelgate/modelgate/controlplane/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, app.ErrInvalidConfig) {
			fmt.Fprintln(os.Stderr, "controlplane:", err)
		}
		os.Exit(1)
	}
}
