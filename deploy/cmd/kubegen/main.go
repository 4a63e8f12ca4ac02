// Command kubegen renders modelgate's Kubernetes and Istio manifests
// (deploy/kubernetes, deploy/istio) from models/catalog.yaml and the
// envoy/bootstrap template. A test fails when the checked-in files differ
// from what this writes.
//
//	cd deploy && go run ./cmd/kubegen
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/deploy/kube"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kubegen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kubegen", flag.ContinueOnError)
	root := fs.String("root", "..", "the repository root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	src, err := kube.Load(*root)
	if err != nil {
		return err
	}
	files, err := kube.Render(src)
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(*root, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", f.Path)
	}
	return nil
}
