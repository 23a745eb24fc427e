package importer_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// FuzzLayerPath runs arbitrary tar bytes through the whole layer path: import into a layer
// commit, then check the commit out. Either step may refuse the input, but nothing may
// crash, and a checkout must satisfy the invariants: every entry is inside the checkout
// root (nothing is created beside it), no path is deeper than the importer's cap (plus the
// /usr/share/factory/var prefix /var content moves under), and no symlink target or file
// name the importer accepted is invalid UTF-8.
func FuzzLayerPath(f *testing.F) {
	for _, es := range [][]fixtures.Entry{baseLayer(), derivedLayer(), layerTree(), deepDirs(40),
		{
			{Path: "usr", Kind: fixtures.Dir, Mode: 0o755},
			{Path: "usr/l", Kind: fixtures.Symlink, Target: "../../../../etc/passwd"},
			{Path: "usr/h", Kind: fixtures.Hardlink, Target: "usr/l"},
			{Path: "var/lib/x", Kind: fixtures.File, Mode: 0o644, Content: []byte("x")},
			{Path: "sysroot/ostree/x", Kind: fixtures.File, Mode: 0o644},
			{Path: "dev/null", Kind: fixtures.CharDev, Mode: 0o666},
			{Path: "usr/.wh.gone", Kind: fixtures.File, Mode: 0o644},
		},
	} {
		var buf bytes.Buffer
		if err := fixtures.WriteTar(&buf, es, fixtures.TarOptions{Prefix: "./"}); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte{})
	repo, err := ostree.CreateRepo(context.Background(), filepath.Join(f.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { repo.Close() })
	work := f.TempDir()
	const maxDepth = importer.MaxPathDepth + 4 // usr/share/factory/var/...
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		var commit string
		err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
			var err error
			commit, _, err = importer.ImportLayer(ctx, repo, bytes.NewReader(data), importer.LayerOptions{
				Rules: importer.PathRules{VarToFactory: true}, Writers: 2})
			return err
		})
		if err != nil {
			if len(err.Error()) > 4096 {
				t.Fatalf("error message of %d bytes", len(err.Error()))
			}
			return
		}
		box, err := os.MkdirTemp(work, "box")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(box)
		root := filepath.Join(box, "root")
		if err := repo.Checkout(ctx, commit, root, ostree.CheckoutOptions{User: true}); err != nil {
			t.Fatalf("checking out imported commit %s: %v", commit, err)
		}
		if ents, err := os.ReadDir(box); err != nil || len(ents) != 1 || ents[0].Name() != "root" {
			t.Fatalf("checkout created entries beside its root: %v %v", ents, err)
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				t.Fatalf("entry %s is outside the checkout root", p)
			}
			if rel != "." && strings.Count(rel, "/")+1 > maxDepth {
				t.Fatalf("entry %s... is %d levels deep", rel[:64], strings.Count(rel, "/")+1)
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if _, err := os.Readlink(p); err != nil {
					t.Fatalf("symlink %s: %v", rel, err)
				}
			}
			if d.Type()&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0 {
				t.Fatalf("special file %s in the checkout", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walking the checkout: %v", err)
		}
	})
}
