package uring

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"strings"
	"testing"
)

// TestOtherOSBuildFails: a build for any GOOS but Linux stops in
// uring_other.go with one error that says wsbench is Linux only (checked by
// type-checking the file alone, without cross-compiling the standard library).
func TestOtherOSBuildFails(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "uring_other.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Comments) == 0 || f.Comments[0].List[0].Text != "//go:build !linux" {
		t.Fatalf("uring_other.go must start with //go:build !linux")
	}
	var errs []error
	conf := types.Config{Importer: importer.Default(), Error: func(err error) { errs = append(errs, err) }}
	conf.Check("uring", fset, []*ast.File{f}, nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "wsbench builds for Linux only") {
		t.Errorf("errors %v, want exactly one saying wsbench builds for Linux only", errs)
	}
}
