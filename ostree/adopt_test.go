package ostree_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
)

// adoptFixture is a file to create next to a bare repository and to adopt.
type adoptFixture struct {
	name     string
	uid, gid int
	mode     uint32
	content  []byte
	xattrs   []ostree.Xattr // set in this order
}

func writeAdoptFixture(t *testing.T, dir string, f adoptFixture) string {
	t.Helper()
	p := filepath.Join(dir, f.name)
	if err := os.WriteFile(p, f.content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(p, f.uid, f.gid); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(p, f.mode); err != nil {
		t.Fatal(err)
	}
	for _, x := range f.xattrs {
		if err := unix.Lsetxattr(p, x.Name, x.Value, 0); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// sortedMeta is the metadata libostree reads back from such a file (xattrs by name).
func sortedMeta(f adoptFixture) ostree.FileMeta {
	xs := append([]ostree.Xattr(nil), f.xattrs...)
	sort.Slice(xs, func(i, j int) bool { return xs[i].Name < xs[j].Name })
	return ostree.FileMeta{UID: uint32(f.uid), GID: uint32(f.gid), Mode: f.mode, Xattrs: xs}
}

func TestAdoptFile(t *testing.T) {
	requireOstreeCLI(t)
	ctx := context.Background()
	repo := newBareRepo(t)
	dir := filepath.Join(filepath.Dir(repo.Path()), "store") // same filesystem as the repo
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	good := []adoptFixture{
		{name: "plain", mode: 0o644, content: []byte("hello\n")},
		{name: "empty", mode: 0o644},
		{name: "setuid", mode: 0o4755, content: []byte("su")},
		{name: "owned", uid: 998, gid: 42, mode: 0o640, content: bytes.Repeat([]byte("z"), 300<<10)},
		{name: "xattrs", mode: 0o644, content: []byte("x"), xattrs: []ostree.Xattr{
			{Name: "user.zz", Value: []byte("last")}, {Name: "user.aa", Value: []byte{0, 1, 2, 0}}, {Name: "trusted.m", Value: []byte("m")}}},
	}
	var adopted []string
	err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
		for _, f := range good {
			p := writeAdoptFixture(t, dir, f)
			csum, err := ostree.ContentChecksum(sortedMeta(f), int64(len(f.content)), bytes.NewReader(f.content))
			if err != nil {
				return err
			}
			ok, err := repo.AdoptFile(ctx, p, csum)
			if err != nil || !ok {
				t.Fatalf("%s: AdoptFile = %v, %v; want true", f.name, ok, err)
			}
			obj, err := repo.ObjectPath(csum)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := os.Stat(p)
			b, err := os.Stat(obj)
			if err != nil || !os.SameFile(a, b) {
				t.Fatalf("%s: object %s is not the adopted inode (%v)", f.name, obj, err)
			}
			if has, err := repo.HasObject(ctx, ostree.ObjectFile, csum); err != nil || !has {
				t.Fatalf("%s: HasObject = %v, %v", f.name, has, err)
			}
			// Adopting again (the object exists) is fine.
			if ok, err := repo.AdoptFile(ctx, p, csum); err != nil || !ok {
				t.Fatalf("%s: second AdoptFile = %v, %v", f.name, ok, err)
			}
			adopted = append(adopted, csum)
		}
		// Commit a tree holding them, so that fsck checks every adopted object.
		root := ostree.NewMutableTree()
		defer root.Close()
		dm, err := repo.WriteDirMeta(ctx, ostree.FileMeta{Mode: 0o755})
		if err != nil {
			return err
		}
		if err := root.SetMetadataChecksum(dm); err != nil {
			return err
		}
		for i, c := range adopted {
			if err := root.ReplaceFile(good[i].name, c); err != nil {
				return err
			}
		}
		commit, err := repo.WriteCommit(ctx, root, ostree.CommitOptions{})
		if err != nil {
			return err
		}
		return repo.SetRef(ctx, "adopted", commit)
	})
	if err != nil {
		t.Fatal(err)
	}
	ostreetest.CLI(t, "--repo="+repo.Path(), "fsck")

	// Files that are not the object they are offered as are not adopted.
	f := adoptFixture{name: "mismatch", mode: 0o644, content: []byte("content"), xattrs: []ostree.Xattr{
		{Name: "user.b", Value: []byte("2")}, {Name: "user.a", Value: []byte("1")}}}
	p := writeAdoptFixture(t, dir, f)
	meta := sortedMeta(f)
	sum := func(m ostree.FileMeta, content []byte) string {
		c, err := ostree.ContentChecksum(m, int64(len(content)), bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	otherMode, otherOwner, noXattrs, tarOrder := meta, meta, meta, meta
	otherMode.Mode = 0o755
	otherOwner.UID = 1
	noXattrs.Xattrs = nil
	tarOrder.Xattrs = f.xattrs // unsorted: not what libostree reads back
	for _, tc := range []struct{ name, checksum string }{
		{"mode", sum(otherMode, f.content)},
		{"owner", sum(otherOwner, f.content)},
		{"xattrs missing", sum(noXattrs, f.content)},
		{"xattrs in another order", sum(tarOrder, f.content)},
		{"content", sum(meta, []byte("other"))},
	} {
		ok, err := repo.AdoptFile(ctx, p, tc.checksum)
		if err != nil || ok {
			t.Errorf("%s mismatch: AdoptFile = %v, %v; want false, nil", tc.name, ok, err)
		}
		if obj, _ := repo.ObjectPath(tc.checksum); fileExists(obj) {
			t.Errorf("%s mismatch: object %s was created", tc.name, obj)
		}
	}
	if ok, err := repo.AdoptFile(ctx, p, sum(meta, f.content)); err != nil || !ok {
		t.Errorf("matching checksum: AdoptFile = %v, %v; want true", ok, err)
	}

	// A symlink is not a regular file.
	link := filepath.Join(dir, "link")
	if err := os.Symlink("plain", link); err != nil {
		t.Fatal(err)
	}
	absent := sum(ostree.FileMeta{Mode: 0o644}, []byte("not in the repo"))
	if ok, err := repo.AdoptFile(ctx, link, absent); err != nil || ok {
		t.Errorf("symlink: AdoptFile = %v, %v; want false, nil", ok, err)
	}

	// Another filesystem (tmpfs): EXDEV, so false.
	if shm, err := os.MkdirTemp("/dev/shm", "adopt-"); err == nil {
		defer os.RemoveAll(shm)
		xf := adoptFixture{name: "other-fs", mode: 0o644, content: []byte("elsewhere")}
		xp := writeAdoptFixture(t, shm, xf)
		if ok, err := repo.AdoptFile(ctx, xp, sum(sortedMeta(xf), xf.content)); err != nil || ok {
			t.Errorf("other filesystem: AdoptFile = %v, %v; want false, nil", ok, err)
		}
	} else {
		t.Errorf("no tmpfs at /dev/shm for the EXDEV case: %v", err)
	}

	// A missing file is an error.
	if _, err := repo.AdoptFile(ctx, filepath.Join(dir, "nope"), absent); err == nil {
		t.Error("missing file: want an error")
	}
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestAdoptFileNotBare(t *testing.T) {
	ctx := context.Background()
	repo := newArchiveRepo(t)
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	sys := st.Sys().(*syscall.Stat_t)
	c, _ := ostree.ContentChecksum(ostree.FileMeta{UID: sys.Uid, GID: sys.Gid, Mode: 0o644}, 1, bytes.NewReader([]byte("x")))
	if ok, err := repo.AdoptFile(ctx, p, c); err != nil || ok {
		t.Fatalf("archive repo: AdoptFile = %v, %v; want false, nil", ok, err)
	}
	if _, err := repo.ObjectPath(c); err == nil {
		t.Fatal("archive repo: want an ObjectPath error")
	}
	bare := newBareRepo(t)
	for _, bad := range []string{"", "abc", c[:63] + "G", c + "0"} {
		if _, err := bare.ObjectPath(bad); err == nil {
			t.Errorf("ObjectPath(%q): want an error", bad)
		}
	}
	if got, err := bare.ObjectPath(c); err != nil || got != filepath.Join(bare.Path(), "objects", c[:2], c[2:]+".file") {
		t.Errorf("ObjectPath = %q, %v", got, err)
	}
}
