package controlplane

import (
	"testing"

	"github.com/modelgate/modelgate/internal/testutil"
)

// TestSmallCode keeps every file of the control plane under 500 lines and
// every function under 80.
func TestSmallCode(t *testing.T) {
	t.Parallel()
	testutil.RequireSmallCode(t, ".")
}
