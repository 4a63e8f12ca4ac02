package testutil_test

import (
	"testing"

	"github.com/modelgate/modelgate/internal/testutil"
)

// The code both services share keeps the bounds the services keep.
func TestSharedCodeStaysSmall(t *testing.T) {
	t.Parallel()
	testutil.RequireSmallCode(t, "..")
	testutil.RequireSmallCode(t, "../../api")
}
