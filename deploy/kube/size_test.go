package kube

import (
	"testing"

	"github.com/modelgate/modelgate/internal/testutil"
)

// TestSmallCode keeps every production file of the deploy module under
// 500 lines and every function under 80, as in the rest of the repository.
func TestSmallCode(t *testing.T) {
	t.Parallel()
	testutil.RequireSmallCode(t, "..")
}
