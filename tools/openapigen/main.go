// Command openapigen writes api/openapi.deployment.json: the OpenAPI
// document of every model in models/catalog.yaml, as the gateway serves it
// at /openapi.json to a key that may use every model. `make generate` runs
// it; a test in internal/openapi fails when the file is stale.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/openapi"
)

func main() {
	static := flag.String("static", "api/openapi.yaml", "hand-edited OpenAPI document")
	cat := flag.String("catalog", "models/catalog.yaml", "model catalog")
	out := flag.String("out", "api/openapi.deployment.json", "output file")
	maxRows := flag.Int("max-rows", openapi.DefaultMaxRows, "most rows per request (extproc limits.max_rows)")
	flag.Parse()
	if err := run(*static, *cat, *out, *maxRows); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

func run(staticPath, catalogPath, out string, maxRows int) error {
	b, err := os.ReadFile(staticPath)
	if err != nil {
		return err
	}
	s, err := openapi.ParseStatic(b)
	if err != nil {
		return err
	}
	c, err := catalog.Load(catalogPath)
	if err != nil {
		return err
	}
	doc, err := openapi.New(s, c, openapi.ReadManifests(c), openapi.Config{MaxRows: maxRows, JobsMaxRows: openapi.DefaultJobsMaxRows}).Document(nil)
	if err != nil {
		return err
	}
	return os.WriteFile(out, doc, 0o644)
}
