package engine

import (
	"errors"
	"fmt"
	"math"

	"github.com/modelgate/modelgate/internal/catalog"
)

// treesArtifact is the JSON form of FormatTrees.
type treesArtifact struct {
	header
	LearningRate *float64      `json:"learning_rate"`
	Init         []float64     `json:"init"`
	Stages       [][]treeArray `json:"stages"`
}

// treeArray is one tree in scikit-learn's flat layout.
type treeArray struct {
	Feature   []int     `json:"feature"`
	Threshold []float64 `json:"threshold"`
	Left      []int     `json:"left"`
	Right     []int     `json:"right"`
	Value     []float64 `json:"value"`
}

// node is one tree node in the compact form Predict walks: 16 bytes, four
// to a cache line. All trees share one slice; each tree's nodes are
// contiguous in breadth-first order with the two children of a split next
// to each other, so the step to a child needs no branch on the comparison.
type node struct {
	// threshold of a split node; for a leaf, learning_rate*value, the
	// amount the leaf adds to its raw score.
	threshold float64
	// feature of a split node; -1 marks a leaf.
	feature int32
	// left is the absolute index of a split node's left child in
	// treeModel.nodes; the right child is at left+1.
	left int32
}

// treeModel evaluates a FormatTrees artifact: a gradient-boosted ensemble of
// binary decision trees.
type treeModel struct {
	features int
	k        int // raw scores per row (trees per stage)
	outputs  int // values per row in out
	nodes    []node
	roots    []int32   // stage-major: roots[s*k+c] is tree c of stage s
	init     []float64 // k initial raw scores
	link     link
}

var _ Engine = (*treeModel)(nil)

func parseTrees(m *catalog.Manifest, b []byte) (*treeModel, error) {
	var a treesArtifact
	if err := decodeStrict(b, &a); err != nil {
		return nil, err
	}
	l, k, nOut, err := a.header.check(m)
	if err != nil {
		return nil, err
	}
	f := len(m.Inputs)
	var errs []error
	switch {
	case a.LearningRate == nil:
		errs = append(errs, errors.New("learning_rate: required"))
	case math.IsNaN(*a.LearningRate) || math.IsInf(*a.LearningRate, 0):
		errs = append(errs, fmt.Errorf("learning_rate: %v is not finite", *a.LearningRate))
	}
	if len(a.Init) != k {
		errs = append(errs, fmt.Errorf("init: %d values, link %s with %d outputs needs %d", len(a.Init), a.Link, nOut, k))
	} else if err := checkFinite("init", a.Init); err != nil {
		errs = append(errs, err)
	}
	if len(a.Stages) == 0 {
		errs = append(errs, errors.New("stages: at least one stage is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	lr := *a.LearningRate

	total := 0
	for s, stage := range a.Stages {
		if len(stage) != k {
			return nil, fmt.Errorf("stages[%d]: %d trees, need one per raw score (%d)", s, len(stage), k)
		}
		for c := range stage {
			total += len(stage[c].Left)
			if total > math.MaxInt32 {
				return nil, errors.New("stages: more than 2^31-1 nodes in all")
			}
		}
	}
	t := &treeModel{
		features: f, k: k, outputs: nOut, link: l,
		nodes: make([]node, 0, total),
		roots: make([]int32, 0, len(a.Stages)*k),
		init:  a.Init,
	}
	for s, stage := range a.Stages {
		for c := range stage {
			if err := t.add(&stage[c], f, lr); err != nil {
				return nil, fmt.Errorf("stages[%d][%d]: %w", s, c, err)
			}
		}
	}
	return t, nil
}

// add validates one tree and appends it to t.nodes. The arrays must form
// a tree rooted at node 0: every split node names an existing feature and
// has two children with larger indices, and every other node is the child
// of exactly one node. So every node is reachable, and every walk from the
// root ends at a leaf in fewer steps than the tree has nodes.
func (t *treeModel) add(a *treeArray, features int, lr float64) error {
	n := len(a.Left)
	if n == 0 {
		return errors.New("tree has no nodes")
	}
	if len(a.Feature) != n || len(a.Threshold) != n || len(a.Right) != n || len(a.Value) != n {
		return fmt.Errorf("node arrays differ in length: feature %d, threshold %d, left %d, right %d, value %d",
			len(a.Feature), len(a.Threshold), n, len(a.Right), len(a.Value))
	}
	parent := make([]int, n)
	for i := range parent {
		parent[i] = -1
	}
	for i := 0; i < n; i++ {
		left, right := a.Left[i], a.Right[i]
		if left == -1 {
			if right != -1 {
				return fmt.Errorf("node %d: left is -1 (leaf) but right is %d", i, right)
			}
			if v := lr * a.Value[i]; math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("node %d: leaf value %v times learning rate is not finite", i, a.Value[i])
			}
			continue
		}
		if left <= i || left >= n {
			return fmt.Errorf("node %d: left child %d is not a node after %d in this tree of %d nodes", i, left, i, n)
		}
		if right <= i || right >= n {
			return fmt.Errorf("node %d: right child %d is not a node after %d in this tree of %d nodes", i, right, i, n)
		}
		if a.Feature[i] < 0 || a.Feature[i] >= features {
			return fmt.Errorf("node %d: feature %d out of range [0, %d)", i, a.Feature[i], features)
		}
		if math.IsNaN(a.Threshold[i]) {
			return fmt.Errorf("node %d: threshold is NaN", i)
		}
		for _, c := range [2]int{left, right} {
			if parent[c] != -1 {
				return fmt.Errorf("node %d: child of both node %d and node %d", c, parent[c], i)
			}
			parent[c] = i
		}
	}
	for i := 1; i < n; i++ {
		if parent[i] == -1 {
			return fmt.Errorf("node %d: not reachable from the root", i)
		}
	}

	// Lay the tree out breadth-first, siblings adjacent.
	base := len(t.nodes)
	t.nodes = append(t.nodes, node{})
	at := parent // reuse: at[i] is node i's index in t.nodes
	at[0] = base
	queue := make([]int, 1, n)
	for q := 0; q < len(queue); q++ {
		i := queue[q]
		if a.Left[i] == -1 {
			t.nodes[at[i]] = node{threshold: lr * a.Value[i], feature: -1}
			continue
		}
		l := len(t.nodes)
		t.nodes = append(t.nodes, node{}, node{})
		at[a.Left[i]], at[a.Right[i]] = l, l+1
		queue = append(queue, a.Left[i], a.Right[i])
		t.nodes[at[i]] = node{threshold: a.Threshold[i], feature: int32(a.Feature[i]), left: int32(l)}
	}
	t.roots = append(t.roots, int32(base))
	return nil
}

// NumOutputs returns the number of classes, or 1 for a regressor.
func (t *treeModel) NumOutputs() int { return t.outputs }

// Predict evaluates n rows of x into out; see Engine. Inputs are rounded
// to float32 before each comparison, as scikit-learn does.
func (t *treeModel) Predict(x []float64, n int, out []float64) {
	f, k, no := t.features, t.k, t.outputs
	checkBuffers(x, n, f, out, no)
	nodes, roots, init := t.nodes, t.roots, t.init[:k]
	for r := 0; r < n; r++ {
		row := x[r*f : r*f+f]
		raw := out[r*no : r*no+k]
		copy(raw, init)
		// Stage-major, like scikit-learn's predict_stages, so every raw
		// score sums its leaves in the same order and the result matches
		// bit for bit.
		for s := 0; s < len(roots); s += k {
			for c, j := range roots[s : s+k] {
				for {
					nd := &nodes[j]
					if nd.feature < 0 {
						raw[c] += nd.threshold
						break
					}
					// Left when x <= threshold, as scikit-learn tests it
					// (so a NaN, which it never lets through, goes right).
					// A branch-free form (the sign bit of threshold-x)
					// measured slower: the branches predict well.
					j = nd.left
					if !(float64(float32(row[nd.feature])) <= nd.threshold) {
						j++
					}
				}
			}
		}
		t.link.finish(out[r*no : r*no+no])
	}
}
