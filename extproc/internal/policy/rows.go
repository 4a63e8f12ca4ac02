package policy

import (
	"slices"
	"strings"

	"github.com/modelgate/modelgate/api/problem"
)

// rowShape is the schema of a bulk item that is a row: an object whose
// members are all judged alike, by their names and by their values, with
// at least minProps of them. A failing row of many members is cut, in
// the stand-in, to the failing members whose pointers sort first and
// enough passing ones for minProps, as [standIn.filter] cuts arrays.
type rowShape struct {
	names, values *node
	minProps      int
}

// rowOf returns the row shape of n, nil when n is not a row.
func rowOf(n *node) *rowShape {
	for n != nil && n.ref != nil && n.types == 0 && len(n.props) == 0 && n.additional == nil {
		n = n.ref
	}
	if n == nil || n.types != typeObject || n.additional == nil || n.closed || len(n.props) > 0 ||
		len(n.required) > 0 || n.enum != nil || n.ref != nil || len(n.allOf) > 0 || len(n.anyOf) > 0 || n.maxProps >= 0 {
		return nil
	}
	return &rowShape{names: n.names, values: n.additional, minProps: n.minProps}
}

// cut returns the members of the row m that the stand-in keeps, and
// whether failing members were left out; nil when m is kept as it is (a
// name fails: its violation is the row's, whose members may then count;
// or nothing would change). A value that is an array or an object where
// values take neither fails by its type alone, so it is kept empty: a
// tensor sent to a tabular route costs no more than its envelope.
func (r *rowShape) cut(m map[string]any) (out map[string]any, more bool) {
	var fail, fill []string
	failing, containers := 0, 0
	for name, v := range m {
		if r.names != nil && !r.names.passesName(name) {
			return nil, false
		}
		if r.values.passes(v) {
			fill = insertFirst(fill, name, r.minProps)
			continue
		}
		failing++
		fail = insertFirst(fail, name, keepItems)
		switch v.(type) {
		case []any, map[string]any:
			containers++
		}
	}
	if len(m) <= keepItems && (containers == 0 || !r.typeOnly()) {
		return nil, false
	}
	out = make(map[string]any, len(fail)+len(fill))
	for _, name := range slices.Concat(fail, fill) {
		out[name] = m[name]
		if r.typeOnly() {
			switch out[name].(type) {
			case []any:
				out[name] = []any{}
			case map[string]any:
				out[name] = map[string]any{}
			}
		}
	}
	return out, failing > len(fail)
}

// typeOnly reports whether values fail any array or object by type, and
// say nothing more about it.
func (r *rowShape) typeOnly() bool {
	v := r.values
	return v.types != 0 && v.types&(typeArray|typeObject) == 0 && v.ref == nil && len(v.allOf) == 0 && len(v.anyOf) == 0
}

// insertFirst inserts name into names, which are sorted as pointer
// tokens and hold at most limit of those seen that sort first.
func insertFirst(names []string, name string, limit int) []string {
	if limit == 0 || len(names) == limit && !tokenLess(name, names[len(names)-1]) {
		return names
	}
	i, _ := slices.BinarySearchFunc(names, name, func(a, b string) int {
		if tokenLess(a, b) {
			return -1
		}
		return 1
	})
	names = slices.Insert(names, i, name)
	if len(names) > limit {
		names = names[:limit]
	}
	return names
}

func tokenLess(a, b string) bool {
	return strings.Compare(problem.EscapePointer(a), problem.EscapePointer(b)) < 0
}
