package actors

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/internal/modroot"
)

// sentinelNames lists the exported Err* variables a library package
// declares with errors.New (its sentinels), parsed from its source.
func sentinelNames(t *testing.T, pkg string) []string {
	t.Helper()
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(root, pkg, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !name.IsExported() || !strings.HasPrefix(name.Name, "Err") || i >= len(vs.Values) {
						continue
					}
					if call, ok := vs.Values[i].(*ast.CallExpr); ok {
						if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "New" {
							names = append(names, name.Name)
						}
					}
				}
			}
		}
	}
	sort.Strings(names)
	return names
}

// checkKindTable checks that a library's sentinels (by name, as its
// source declares them) all map to a kind in the adapter's table.
func checkKindTable(t *testing.T, pkg string, sentinels map[string]error, table []kindMapping) {
	t.Helper()
	declared := sentinelNames(t, pkg)
	if len(declared) == 0 {
		t.Fatalf("no sentinels found in %s", pkg)
	}
	var listed []string
	for name := range sentinels {
		listed = append(listed, name)
	}
	sort.Strings(listed)
	if !slices.Equal(declared, listed) {
		t.Fatalf("%s declares sentinels %v; this test lists %v: update the list and the adapter's kind table", pkg, declared, listed)
	}
	for name, lib := range sentinels {
		found := false
		for _, m := range table {
			if m.lib == lib {
				found = true
				if m.kind == nil || !slices.Contains(kinds, m.kind) {
					t.Errorf("%s.%s maps to %v, not a kind", pkg, name, m.kind)
				}
			}
		}
		if !found {
			t.Errorf("%s.%s has no kind in the adapter's table", pkg, name)
		}
		// A wrapped library error gets that kind.
		err := normalize("x", "op", errors.Join(errors.New("context"), lib), table)
		if KindOf(err) == nil {
			t.Errorf("%s.%s: normalized error has no kind", pkg, name)
		}
	}
}

// TestV1KindTableIsComplete: every formatv1 sentinel has a kind.
func TestV1KindTableIsComplete(t *testing.T) {
	checkKindTable(t, "formatv1", map[string]error{
		"ErrUnsupportedSpec": formatv1.ErrUnsupportedSpec, "ErrNotARepository": formatv1.ErrNotARepository,
		"ErrRepositoryExists": formatv1.ErrRepositoryExists, "ErrConflict": formatv1.ErrConflict,
		"ErrRefNotFound": formatv1.ErrRefNotFound, "ErrBranchExists": formatv1.ErrBranchExists,
		"ErrTagExists": formatv1.ErrTagExists, "ErrCannotDeleteMain": formatv1.ErrCannotDeleteMain,
		"ErrInvalidRefName": formatv1.ErrInvalidRefName, "ErrInvalidVersionRef": formatv1.ErrInvalidVersionRef,
		"ErrReadOnly": formatv1.ErrReadOnly, "ErrNoChanges": formatv1.ErrNoChanges,
		"ErrVirtualChunk": formatv1.ErrVirtualChunk, "ErrKeyNotFound": formatv1.ErrKeyNotFound,
		"ErrNodeNotFound": formatv1.ErrNodeNotFound, "ErrInvalidKey": formatv1.ErrInvalidKey,
		"ErrNodeExists": formatv1.ErrNodeExists, "ErrFlushTimeNotIncreasing": formatv1.ErrFlushTimeNotIncreasing,
		"ErrNotAncestor": formatv1.ErrNotAncestor, "ErrCorrupt": formatv1.ErrCorrupt,
		"ErrInvalidID": formatv1.ErrInvalidID,
	}, v1Kinds)
}

// TestV2KindTableIsComplete: every formatv2 sentinel has a kind, and the
// spec-2 ones the kinds prepared for them.
func TestV2KindTableIsComplete(t *testing.T) {
	checkKindTable(t, "formatv2", map[string]error{
		"ErrUnsupportedSpec": formatv2.ErrUnsupportedSpec, "ErrNotARepository": formatv2.ErrNotARepository,
		"ErrRepositoryExists": formatv2.ErrRepositoryExists, "ErrConflict": formatv2.ErrConflict,
		"ErrRefNotFound": formatv2.ErrRefNotFound, "ErrBranchExists": formatv2.ErrBranchExists,
		"ErrTagExists": formatv2.ErrTagExists, "ErrCannotDeleteMain": formatv2.ErrCannotDeleteMain,
		"ErrInvalidRefName": formatv2.ErrInvalidRefName, "ErrInvalidVersionRef": formatv2.ErrInvalidVersionRef,
		"ErrReadOnly": formatv2.ErrReadOnly, "ErrNoChanges": formatv2.ErrNoChanges,
		"ErrVirtualChunk": formatv2.ErrVirtualChunk, "ErrKeyNotFound": formatv2.ErrKeyNotFound,
		"ErrNodeNotFound": formatv2.ErrNodeNotFound, "ErrInvalidKey": formatv2.ErrInvalidKey,
		"ErrNodeExists": formatv2.ErrNodeExists, "ErrFlushTimeNotIncreasing": formatv2.ErrFlushTimeNotIncreasing,
		"ErrNotAncestor": formatv2.ErrNotAncestor, "ErrCorrupt": formatv2.ErrCorrupt,
		"ErrInvalidID": formatv2.ErrInvalidID, "ErrSpec2Only": formatv2.ErrSpec2Only,
		"ErrAlreadyMigrated": formatv2.ErrAlreadyMigrated, "ErrMigrationDiverged": formatv2.ErrMigrationDiverged,
		"ErrHandleInvalid": formatv2.ErrHandleInvalid, "ErrRepositoryNotOnline": formatv2.ErrRepositoryNotOnline,
		"ErrCannotAmendInitial": formatv2.ErrCannotAmendInitial,
	}, v2Kinds)
	for lib, kind := range map[error]error{
		formatv2.ErrSpec2Only: ErrSpec2Only, formatv2.ErrAlreadyMigrated: ErrAlreadyUpgraded,
		formatv2.ErrMigrationDiverged: ErrUpgradeDiverged, formatv2.ErrHandleInvalid: ErrHandleInvalid,
		formatv2.ErrRepositoryNotOnline: ErrRepositoryNotOnline, formatv2.ErrCannotAmendInitial: ErrCannotAmendInitial,
	} {
		if got := KindOf(v2Err("op", lib)); got != kind {
			t.Errorf("%v: kind %v, want %v", lib, got, kind)
		}
	}
}
