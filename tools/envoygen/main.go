// Command envoygen renders modelgate's Envoy bootstraps from
// models/catalog.yaml: envoy/envoy.yaml (the local stack on its default
// ports) and envoy/envoy.compose.yaml (compose.yaml's network), compose.yaml,
// and compose's Prometheus config (ops/prometheus/prometheus.compose.yml). A test
// fails when the checked-in files differ from what this writes.
//
//	go run ./tools/envoygen                       # rewrite the checked-in files
//	go run ./tools/envoygen -profile local -out F # one file, e.g. for a run dir
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/ops"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "envoygen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("envoygen", flag.ContinueOnError)
	catalogPath := fs.String("catalog", "models/catalog.yaml", "model catalog")
	profile := fs.String("profile", "", "local or compose; empty writes both checked-in files")
	out := fs.String("out", "", "output file for -profile")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cat, err := catalog.Load(*catalogPath)
	if err != nil {
		return err
	}
	if *profile == "" {
		for _, f := range bootstrap.CheckedIn(cat) {
			b, err := bootstrap.Render(cat, f.Addresses, bootstrap.Options{})
			if err != nil {
				return err
			}
			if err := os.WriteFile(f.Path, b, 0o644); err != nil {
				return err
			}
			fmt.Println("wrote", f.Path)
		}
		b, err := bootstrap.RenderCompose(cat)
		if err != nil {
			return err
		}
		if err := os.WriteFile(bootstrap.ComposeFile, b, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", bootstrap.ComposeFile)
		if b, err = ops.ComposeConfig(cat); err != nil {
			return err
		}
		if err := os.WriteFile(ops.ComposeConfigFile, b, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", ops.ComposeConfigFile)
		return nil
	}
	var a bootstrap.Addresses
	switch *profile {
	case "local":
		a = bootstrap.Local(cat, bootstrap.DefaultPorts(), "/dev/stdout").WithSockets(".run")
	case "compose":
		a = bootstrap.Compose(cat)
	default:
		return fmt.Errorf("unknown -profile %q (local or compose)", *profile)
	}
	b, err := bootstrap.Render(cat, a, bootstrap.Options{})
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}
