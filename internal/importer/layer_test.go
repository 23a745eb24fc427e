package importer_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// layerTree is RichTree with /etc content at the top level, as images have it. Attributes
// with empty values are left out: libarchive keeps them while libostree drops them when it
// reads files back (fsck of a bare repo then fails), so the importer drops them on purpose.
func layerTree() []fixtures.Entry {
	var es []fixtures.Entry
	for _, e := range fixtures.RichTree() {
		var xs []fixtures.Xattr
		for _, x := range e.Xattrs {
			if len(x.Value) > 0 {
				xs = append(xs, x)
			}
		}
		e.Xattrs = xs
		es = append(es, e)
	}
	return append(es,
		fixtures.Entry{Path: "etc", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "etc/passwd", Kind: fixtures.File, Mode: 0o644, Content: []byte("root:x:0:0::/root:/bin/sh\n")},
		fixtures.Entry{Path: "etc/ssh", Kind: fixtures.Dir, Mode: 0o700, Xattrs: []fixtures.Xattr{{Name: "user.b", Value: []byte("2")}, {Name: "user.a", Value: []byte("1")}}},
		fixtures.Entry{Path: "etc/ssh/key", Kind: fixtures.File, Mode: 0o600, Size: 300, Seed: 9},
		fixtures.Entry{Path: "etc/alternatives", Kind: fixtures.Symlink, Target: "/usr/share/alternatives"},
	)
}

func importTar(t *testing.T, repo *ostree.Repo, data []byte, opts importer.LayerOptions) (string, importer.Stats, error) {
	t.Helper()
	var commit string
	var stats importer.Stats
	err := repo.WithTransaction(context.Background(), func(*ostree.Transaction) error {
		var err error
		commit, stats, err = importer.ImportLayer(context.Background(), repo, bytes.NewReader(data), opts)
		return err
	})
	return commit, stats, err
}

// TestLayerMatchesCLI imports a layer and compares the tree with what
// `ostree commit --tree=tar=` (libarchive) makes of the same tar with the /etc move.
func TestLayerMatchesCLI(t *testing.T) {
	ostreetest.RequireCLI(t)
	var buf bytes.Buffer
	if err := fixtures.WriteTar(&buf, layerTree(), fixtures.TarOptions{}); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "layer.tar")
	if err := fixtures.WriteTarFile(tarPath, layerTree(), fixtures.TarOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, writers := range []int{1, 2, 4} {
		repo, err := ostree.CreateRepo(context.Background(), filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		commit, stats, err := importTar(t, repo, buf.Bytes(), importer.LayerOptions{Writers: writers})
		if err != nil {
			t.Fatal(err)
		}
		ostreetest.CLI(t, "--repo="+repo.Path(), "commit", "-b", "cli", "--tree=tar="+tarPath,
			"--tar-autocreate-parents", "--tar-pathname-filter=^etc,usr/etc")
		ours, _ := repo.ReadCommit(context.Background(), commit)
		cli, _ := repo.ReadCommit(context.Background(), "cli")
		if ours.RootContents != cli.RootContents || ours.RootMeta != cli.RootMeta {
			a := ostreetest.CLI(t, "--repo="+repo.Path(), "ls", "-R", "-C", "-X", commit)
			b := ostreetest.CLI(t, "--repo="+repo.Path(), "ls", "-R", "-C", "-X", "cli")
			t.Fatalf("writers=%d: layer commit differs from the ostree CLI's:\n%s", writers, ostreetest.LineDiff(a, b))
		}
		if stats.Files == 0 || stats.Hardlinks != 2 || stats.Symlinks != 4 || stats.Bytes == 0 {
			t.Errorf("stats: %+v", stats)
		}
		ostreetest.CLI(t, "--repo="+repo.Path(), "fsck")
	}
}
