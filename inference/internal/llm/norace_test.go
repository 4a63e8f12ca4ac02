//go:build !race

package llm

// raceEnabled is set when the race detector, which allocates on its own, is on.
const raceEnabled = false
