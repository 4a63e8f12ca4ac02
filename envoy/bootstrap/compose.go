package bootstrap

import (
	"bytes"
	_ "embed"
	"fmt"
	"text/template"

	"github.com/modelgate/modelgate/internal/catalog"
)

//go:embed compose.yaml.tmpl
var composeText string

// ComposeFile is where the rendered compose file is kept, relative to the
// repository root.
const ComposeFile = "compose.yaml"

// RenderCompose returns compose.yaml for the catalog: one inference service
// per model version, named as in [Compose]'s addresses, so the Envoy
// config and the compose file cannot disagree.
func RenderCompose(c *catalog.Catalog) ([]byte, error) {
	tmpl, err := template.New("compose").Option("missingkey=error").Parse(composeText)
	if err != nil {
		return nil, fmt.Errorf("render compose: parse template: %w", err)
	}
	d := struct {
		Targets                                                              []Target
		EnvoyPort, EnvoyAdminPort, ExtprocPort, RateLimitPort, InferencePort int
	}{Targets(c), ComposeEnvoyPort, ComposeEnvoyAdminPort, ComposeExtprocGRPC, ComposeRateLimitGRPC, ComposeInferencePort}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render compose: %w", err)
	}
	return buf.Bytes(), nil
}
