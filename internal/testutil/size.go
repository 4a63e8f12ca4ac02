package testutil

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Bounds on production code (style.md 6.1): a file longer than this is
// more than one concept, a function longer than this more than one step.
const (
	MaxFileLines = 500
	MaxFuncLines = 80
)

// RequireSmallCode fails t for every production Go file below root longer
// than MaxFileLines and every function in one longer than MaxFuncLines.
// Tests and generated files are left out.
func RequireSmallCode(t testing.TB, root string) {
	t.Helper()
	var problems []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		if n := fset.Position(f.End()).Line; n > MaxFileLines {
			problems = append(problems, path+": "+strconv.Itoa(n)+" lines")
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; n > MaxFuncLines {
				problems = append(problems, fset.Position(fn.Pos()).String()+": func "+fn.Name.Name+" is "+strconv.Itoa(n)+" lines")
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, problems, "files over %d lines or functions over %d lines", MaxFileLines, MaxFuncLines)
}
