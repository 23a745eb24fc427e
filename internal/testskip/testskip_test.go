package testskip

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		key, list string
		want      bool
	}{
		{"root", "", false},
		{"root", "root", true},
		{"root", "qemu, root", true},
		{"root", "qemu,loop", false},
		{"tool:podman", "tool", true},
		{"tool:podman", "tool:podman", true},
		{"tool:podman", "tool:gpg", false},
		{"toolbox", "tool", false},
		{"qemu", "*", true},
	} {
		if got := Allowed(tc.key, tc.list); got != tc.want {
			t.Errorf("Allowed(%q, %q) = %v, want %v", tc.key, tc.list, got, tc.want)
		}
	}
}

// fakeTB records what skip does with a test.
type fakeTB struct {
	testing.TB
	fatal, skipped, errored string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Name() string                      { return "TestFake" }
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = format }
func (f *fakeTB) Errorf(format string, args ...any) { f.errored = format }
func (f *fakeTB) Skip(args ...any)                  { f.skipped = args[0].(string) }

func TestStrictMode(t *testing.T) {
	log := filepath.Join(t.TempDir(), "skips")
	t.Setenv(LogEnv, log)
	t.Setenv(StrictEnv, "")
	f := &fakeTB{}
	Skipf(f, "root", "needs %s", "root")
	if f.skipped != "needs root" || f.fatal != "" {
		t.Errorf("without strict mode: skipped %q, fatal %q", f.skipped, f.fatal)
	}
	t.Setenv(StrictEnv, "1")
	t.Setenv(AllowEnv, "qemu")
	f = &fakeTB{}
	Skip(f, "root", "needs root")
	if f.fatal == "" {
		t.Error("strict mode let a skip that is not allowed pass")
	}
	f = &fakeTB{}
	Skip(f, "qemu", "needs qemu")
	if f.skipped != "needs qemu" || f.fatal != "" || f.errored != "" {
		t.Errorf("allowed skip: skipped %q, fatal %q, errored %q", f.skipped, f.fatal, f.errored)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "TestFake: [root] needs root\nTestFake: [qemu] needs qemu\n"; string(b) != want {
		t.Errorf("skip log = %q, want %q", b, want)
	}
}

// TestNoRawSkips fails for any call of Skip, Skipf or SkipNow in the module other than
// through this package, so that no test can skip around strict mode.
func TestNoRawSkips(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	self, _ := filepath.Abs("testskip.go")
	fset := token.NewFileSet()
	var files int
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || path == self {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch sel.Sel.Name {
			case "Skip", "Skipf", "SkipNow":
			default:
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "testskip" {
				return true
			}
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s:%d: %s called directly; use testskip.Skip(t, key, reason) so strict mode sees it",
				rel, fset.Position(call.Pos()).Line, sel.Sel.Name)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d Go files found under %s", files, root)
	}
}
