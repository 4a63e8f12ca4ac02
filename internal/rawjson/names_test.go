package rawjson_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/rawjson"
)

// Fold must agree with SameName, which decides for the objects narrow
// enough to compare names pairwise.
func TestFold_agreesWithSameName(t *testing.T) {
	t.Parallel()
	names := []string{
		"", "a", "A", "inputs", "INPUTS", "Inputs", "input\u017f", "inputS", "k", "K", "\u212a", "key", "\u212aey",
		"σ", "Σ", "ς", "ß", "ẞ", "ss", "İ", "i", "ı", "I", "ǅ", "ǆ", "Ǆ", "x_1", "X_1", "\ufffd", "é", "É", "e\u0301",
	}
	for _, a := range names {
		for _, b := range names {
			require.Equal(t, strings.EqualFold(a, b), rawjson.SameName(a, b), "%q %q", a, b)
			require.Equal(t, rawjson.SameName(a, b), rawjson.Fold(a) == rawjson.Fold(b), "%q %q", a, b)
		}
	}
	require.Equal(t, "petal_width", rawjson.Fold("petal_width"))
}
