package ostree

import (
	"bytes"
	"go/ast"
	"go/build"
	"go/parser"
	"go/printer"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// exportedAPI returns the exported declarations of this package's non-test files as
// build selects them: "func Name(types) results", "method (*T) Name(...)", "type T ...",
// "const Name", "var Name". Parameter names are left out, so only the API is compared.
func exportedAPI(t *testing.T, ctx build.Context) []string {
	t.Helper()
	pkg, err := ctx.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	str := func(n any) string {
		var b bytes.Buffer
		if err := printer.Fprint(&b, fset, n); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	types := func(fl *ast.FieldList) string {
		if fl == nil {
			return "()"
		}
		var ts []string
		for _, f := range fl.List {
			n := max(len(f.Names), 1)
			for range n {
				ts = append(ts, str(f.Type))
			}
		}
		return "(" + strings.Join(ts, ", ") + ")"
	}
	var api []string
	for _, name := range append(pkg.GoFiles, pkg.CgoFiles...) {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				sig := d.Name.Name + types(d.Type.Params) + " " + types(d.Type.Results)
				if d.Recv == nil {
					api = append(api, "func "+sig)
					continue
				}
				recv := d.Recv.List[0].Type
				base := recv
				if s, ok := base.(*ast.StarExpr); ok {
					base = s.X
				}
				if base.(*ast.Ident).IsExported() {
					api = append(api, "method ("+str(recv)+") "+sig)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							api = append(api, "type "+s.Name.Name+" "+str(s.Type))
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								api = append(api, d.Tok.String()+" "+n.Name)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(api)
	return api
}

// TestNoCgoTwin: the no-cgo twin (nocgo.go) declares exactly the exported API of the files
// that import "C", with the same signatures, so that CGO_ENABLED=0 builds cannot drift from
// the real binding. (`make vet` also vets the module with CGO_ENABLED=0.)
func TestNoCgoTwin(t *testing.T) {
	withCgo, withoutCgo := build.Default, build.Default
	withCgo.CgoEnabled, withoutCgo.CgoEnabled = true, false
	withCgo.BuildTags = strings.Fields("containers_image_openpgp exclude_graphdriver_btrfs")
	withoutCgo.BuildTags = withCgo.BuildTags
	a, b := exportedAPI(t, withCgo), exportedAPI(t, withoutCgo)
	if len(a) < 100 {
		t.Fatalf("only %d exported declarations found with cgo", len(a))
	}
	for _, d := range a {
		if _, found := slices.BinarySearch(b, d); !found {
			t.Errorf("missing without cgo (add it to nocgo.go): %s", d)
		}
	}
	for _, d := range b {
		if _, found := slices.BinarySearch(a, d); !found {
			t.Errorf("only without cgo (nocgo.go differs from the cgo files): %s", d)
		}
	}
}
