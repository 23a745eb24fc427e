package ostree_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/tests/fixtures"
)

func requireOstreeCLI(t *testing.T) {
	t.Helper()
	ostreetest.RequireRoot(t)
	ostreetest.RequireCLI(t)
}

// newBareRepo creates a bare repository in a temporary directory (root only).
func newBareRepo(t *testing.T) *ostree.Repo {
	t.Helper()
	repo, err := ostree.CreateRepo(context.Background(), filepath.Join(t.TempDir(), "repo"), ostree.ModeBare)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	return repo
}

// TestCommitMatchesCLI commits a tree with every entry type through our API and checks the
// root checksums against `ostree commit --tree=dir=` of the same tree, and fsck.
func TestCommitMatchesCLI(t *testing.T) {
	requireOstreeCLI(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := fixtures.Write(dir, fixtures.RichTree()); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []ostree.RepoMode{ostree.ModeBare, ostree.ModeArchive} {
		t.Run(mode.String(), func(t *testing.T) {
			repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), mode)
			if err != nil {
				t.Fatal(err)
			}
			defer repo.Close()
			ours, err := ostreetest.CommitDir(ctx, repo, dir, "ours", ostree.CommitOptions{Subject: "ours"})
			if err != nil {
				t.Fatal(err)
			}
			ostreetest.CLI(t, "--repo="+repo.Path(), "commit", "--branch=cli", "--tree=dir="+dir, "--subject=cli")

			a, err := repo.ReadCommit(ctx, ours)
			if err != nil {
				t.Fatal(err)
			}
			b, err := repo.ReadCommit(ctx, "cli")
			if err != nil {
				t.Fatal(err)
			}
			if a.RootContents != b.RootContents || a.RootMeta != b.RootMeta {
				t.Errorf("root differs: ours %s/%s, ostree CLI %s/%s", a.RootContents, a.RootMeta, b.RootContents, b.RootMeta)
				l1 := ostreetest.CLI(t, "--repo="+repo.Path(), "ls", "-R", "-C", "-X", "ours")
				l2 := ostreetest.CLI(t, "--repo="+repo.Path(), "ls", "-R", "-C", "-X", "cli")
				t.Logf("a = ours, b = ostree CLI:\n%s", ostreetest.LineDiff(l1, l2))
			}
			ostreetest.CLI(t, "--repo="+repo.Path(), "fsck")
		})
	}
}

// TestCancelStreamingWrite cancels a large streamed write in a bare repository, where
// content goes through an OstreeContentWriter.
func TestCancelStreamingWrite(t *testing.T) {
	ostreetest.RequireRoot(t)
	repo := newBareRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	size := int64(16 << 20)
	err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
		_, err := repo.WriteRegfile(ctx, ostree.FileMeta{Mode: 0o644}, size,
			&cancelAfter{r: bytes.NewReader(make([]byte, size)), n: 2 << 20, cancel: cancel})
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	// The repository stays usable after the aborted transaction.
	if _, err := repo.ListRefs(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
}
