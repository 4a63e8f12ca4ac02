// Package engine evaluates trained model artifacts in pure Go.
package engine

// Engine evaluates one trained model version on a batch of rows.
type Engine interface {
	// NumOutputs is the width of one row's output: the number of classes
	// for a classifier (probabilities, in manifest class order), 1 for a
	// regressor.
	NumOutputs() int
	// Predict evaluates n rows of x, row-major with the features in
	// manifest input order (len(x) == n*features), and writes
	// n*NumOutputs() values into out. It must not allocate per row and is
	// safe for concurrent use.
	Predict(x []float64, n int, out []float64)
}
