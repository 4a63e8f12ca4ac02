package inference_test

import (
	"testing"

	"github.com/modelgate/modelgate/internal/testutil"
)

func TestProductionCodeStaysSmall(t *testing.T) {
	t.Parallel()
	testutil.RequireSmallCode(t, ".")
}
