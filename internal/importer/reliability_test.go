package importer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
)

// TestMergeMissingDirtree is audit M2: a layer commit one of whose directories cannot be
// loaded (its dirtree object is gone) must fail the merge, naming the directory. Before,
// the mutable tree's getters returned an empty directory and the merged image silently
// lacked the layer's contents.
func TestMergeMissingDirtree(t *testing.T) {
	ostreetest.RequireCLI(t)
	ctx := context.Background()
	repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "usr/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "usr/lib/os-release"), []byte("ID=test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ostreetest.CLI(t, "--repo="+repo.Path(), "commit", "-b", "layer", "--tree=dir="+src)
	// ostree ls -d -C: mode uid gid size contents-checksum meta-checksum path
	f := strings.Fields(ostreetest.CLI(t, "--repo="+repo.Path(), "ls", "-d", "-C", "layer", "/usr/lib"))
	if len(f) < 7 || len(f[4]) != 64 {
		t.Fatalf("ostree ls: %q", f)
	}
	dirtree := f[4]
	if err := os.Remove(filepath.Join(repo.Path(), "objects", dirtree[:2], dirtree[2:]+".dirtree")); err != nil {
		t.Fatal(err)
	}
	merged, err := importer.MergeLayers(ctx, repo, []string{"layer"})
	if err == nil {
		merged.Close()
		t.Fatal("merging a layer with a missing dirtree succeeded")
	}
	if !strings.Contains(err.Error(), "/usr/lib") {
		t.Fatalf("error does not name the directory: %v", err)
	}
}
