package ostree_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// TestFsckCommit: a whole commit passes with every object counted (as many as `ostree fsck`
// finds); a file whose content changed, and a missing directory object, are named.
func TestFsckCommit(t *testing.T) {
	requireOstreeCLI(t)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, repo *ostree.Repo, commit string) string // returns what Bad must name
	}{
		{name: "whole"},
		{name: "file content changed", damage: func(t *testing.T, repo *ostree.Repo, commit string) string {
			objs, _ := filepath.Glob(filepath.Join(repo.Path(), "objects/*/*.file"))
			for _, o := range objs {
				if fi, err := os.Lstat(o); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
					if err := os.WriteFile(o, []byte("changed"), 0o644); err != nil {
						t.Fatal(err)
					}
					rel, _ := filepath.Rel(filepath.Join(repo.Path(), "objects"), o)
					return "file " + strings.Replace(strings.TrimSuffix(rel, ".file"), "/", "", 1) + ": corrupted"
				}
			}
			t.Fatal("no regular file object")
			return ""
		}},
		{name: "dirtree missing", damage: func(t *testing.T, repo *ostree.Repo, commit string) string {
			objs, _ := filepath.Glob(filepath.Join(repo.Path(), "objects/*/*.dirtree"))
			if len(objs) == 0 {
				t.Fatal("no dirtree object")
			}
			if err := os.Remove(objs[0]); err != nil {
				t.Fatal(err)
			}
			return "commit " + commit + ": "
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo := newBareRepo(t)
			dir := t.TempDir()
			if err := fixtures.Write(dir, fixtures.RichTree()); err != nil {
				t.Fatal(err)
			}
			commit, err := ostreetest.CommitDir(ctx, repo, dir, "fsck", ostree.CommitOptions{Subject: "fsck"})
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if c.damage != nil {
				want = c.damage(t, repo, commit)
			}
			res, err := repo.FsckCommit(ctx, commit)
			if err != nil {
				t.Fatal(err)
			}
			if want == "" {
				if len(res.Bad) > 0 || res.Objects < 3 {
					t.Errorf("whole commit: %d objects, bad %q", res.Objects, res.Bad)
				}
				if out := ostreetest.CLI(t, "fsck", "--repo="+repo.Path()); !strings.Contains(out, "no errors found") {
					t.Errorf("ostree fsck disagrees:\n%s", out)
				}
				return
			}
			if len(res.Bad) != 1 || !strings.HasPrefix(res.Bad[0], want) {
				t.Errorf("bad = %q, want one entry starting with %q", res.Bad, want)
			}
		})
	}
	repo := newBareRepo(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := repo.FsckCommit(cctx, strings.Repeat("0", 64)); err == nil {
		t.Error("FsckCommit with a cancelled context: no error")
	}
}
