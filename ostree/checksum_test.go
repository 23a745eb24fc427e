package ostree_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
)

// checksumCase is one object whose checksum is computed in Go and by libostree.
type checksumCase struct {
	name    string
	meta    ostree.FileMeta
	content []byte // regular file content
	target  string // symlink target; "" for a regular file
}

func checksumCases() []checksumCase {
	cases := []checksumCase{
		{name: "empty", meta: ostree.FileMeta{Mode: 0o644}},
		{name: "small", meta: ostree.FileMeta{Mode: 0o644}, content: []byte("hello\n")},
		{name: "setuid root", meta: ostree.FileMeta{Mode: 0o4755}, content: []byte("su")},
		{name: "setgid sticky", meta: ostree.FileMeta{Mode: 0o3775, GID: 42}, content: []byte("x")},
		{name: "non-root owner", meta: ostree.FileMeta{UID: 998, GID: 65534, Mode: 0o600}, content: []byte("secret")},
		{name: "big ids", meta: ostree.FileMeta{UID: 1 << 31, GID: 0xfffffffe, Mode: 0o640}, content: []byte("ids")},
		{name: "inline max", meta: ostree.FileMeta{Mode: 0o644}, content: bytes.Repeat([]byte{7}, 64<<10)},
		{name: "streamed", meta: ostree.FileMeta{Mode: 0o644}, content: bytes.Repeat([]byte("abc"), 400<<10)},
		{name: "one xattr", meta: ostree.FileMeta{Mode: 0o644, Xattrs: []ostree.Xattr{{Name: "user.a", Value: []byte("1")}}}, content: []byte("x")},
		{name: "xattrs unsorted", meta: ostree.FileMeta{Mode: 0o644, Xattrs: []ostree.Xattr{
			{Name: "user.b", Value: []byte("2")}, {Name: "user.a", Value: []byte("1")}, {Name: "security.capability", Value: []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}},
			content: []byte("cap")},
		{name: "binary xattr with NULs", meta: ostree.FileMeta{Mode: 0o755, Xattrs: []ostree.Xattr{
			{Name: "system.posix_acl_access", Value: []byte{2, 0, 0, 0, 1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}}}}, content: []byte("acl")},
		{name: "empty xattr value dropped", meta: ostree.FileMeta{Mode: 0o644, Xattrs: []ostree.Xattr{
			{Name: "user.empty"}, {Name: "user.v", Value: []byte("v")}}}, content: []byte("e")},
		{name: "symlink", target: "usr/bin"},
		{name: "symlink absolute owned", meta: ostree.FileMeta{UID: 5, GID: 6}, target: "/usr/share/alternatives/x"},
		{name: "symlink xattr", meta: ostree.FileMeta{Xattrs: []ostree.Xattr{{Name: "security.selinux", Value: []byte("system_u:object_r:bin_t:s0\x00")}}}, target: "b"},
	}
	// Header sizes around the GVariant framing-offset widths: 1-byte offsets up to 255
	// bytes, 2-byte up to 65535, for the element, the array and the whole header.
	for _, n := range []int{200, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 250, 254, 255, 256, 300,
		65400, 65490, 65500, 65505, 65510, 65515, 65520, 65525, 65530, 65535, 65540, 70000} {
		v := bytes.Repeat([]byte{byte(n)}, n)
		cases = append(cases,
			checksumCase{name: fmt.Sprintf("xattr value %d", n), meta: ostree.FileMeta{Mode: 0o644,
				Xattrs: []ostree.Xattr{{Name: "user.big", Value: v}}}, content: []byte("c")},
			checksumCase{name: fmt.Sprintf("two xattrs %d", n), meta: ostree.FileMeta{Mode: 0o644,
				Xattrs: []ostree.Xattr{{Name: "user.small", Value: []byte("s")}, {Name: "user.big", Value: v[:n/2]}}}, content: []byte("c")})
		if n < 4000 {
			cases = append(cases, checksumCase{name: fmt.Sprintf("symlink target %d", n), target: strings.Repeat("t", n)})
		}
	}
	return cases
}

func TestContentChecksumMatchesLibostree(t *testing.T) {
	repo := newArchiveRepo(t)
	ctx := context.Background()
	err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
		for _, tc := range checksumCases() {
			var want, got string
			var err error
			if tc.target != "" {
				want, err = repo.WriteSymlink(ctx, tc.meta, tc.target)
				got = ostree.SymlinkChecksum(tc.meta, tc.target)
			} else {
				want, err = repo.WriteRegfile(ctx, tc.meta, int64(len(tc.content)), bytes.NewReader(tc.content))
				if err == nil {
					got, err = ostree.ContentChecksum(tc.meta, int64(len(tc.content)), bytes.NewReader(tc.content))
				}
				if err == nil {
					h := ostree.NewContentHash(tc.meta)
					h.Write(tc.content)
					if hs := fmt.Sprintf("%x", h.Sum(nil)); hs != want {
						t.Errorf("%s: NewContentHash = %s, libostree %s", tc.name, hs, want)
					}
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", tc.name, err)
			}
			if got != want {
				t.Errorf("%s: Go checksum %s, libostree %s", tc.name, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestContentChecksumSizeMismatch(t *testing.T) {
	for _, tc := range []struct {
		size    int64
		content string
	}{{10, "abc"}, {2, "abc"}, {-1, ""}} {
		if _, err := ostree.ContentChecksum(ostree.FileMeta{Mode: 0o644}, tc.size, strings.NewReader(tc.content)); err == nil {
			t.Errorf("size %d, content %q: want an error", tc.size, tc.content)
		}
	}
}

// TestObjectBatch writes every regular-file case into a bare repository through an
// ObjectBatch and into another with libostree's WriteRegfile: the checksums are the same, the
// objects are byte for byte and metadata for metadata the same files (owner, mode, xattrs,
// mtime 0), a second write finds the object, nothing appears before Publish or after
// Discard, and `ostree fsck` is clean.
func TestObjectBatch(t *testing.T) {
	ostreetest.RequireRoot(t)
	ctx := context.Background()
	direct, lib := newBareRepo(t), newBareRepo(t)
	write := func(repo *ostree.Repo, fn func(ostree.FileMeta, []byte) (string, error)) map[string]string {
		out := map[string]string{}
		err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
			for _, tc := range checksumCases() {
				if tc.target != "" || len(tc.meta.Xattrs) > 1 ||
					(len(tc.meta.Xattrs) == 1 && (strings.HasPrefix(tc.meta.Xattrs[0].Name, "system.") || len(tc.meta.Xattrs[0].Value) > 2048)) {
					// Not regular files; several xattrs have no order on disk (fsck reads
					// them sorted); the kernel validates system.* values (that ACL is
					// only a test of the checksum), and filesystems bound value sizes.
					continue
				}
				c, err := fn(tc.meta, tc.content)
				if err != nil {
					return fmt.Errorf("%s: %w", tc.name, err)
				}
				out[tc.name] = c
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	writeBatch := func(m ostree.FileMeta, b []byte) (string, error) { return batchWrite(ctx, direct, m, b) }
	got := write(direct, writeBatch)
	want := write(lib, func(m ostree.FileMeta, b []byte) (string, error) {
		return lib.WriteRegfile(ctx, m, int64(len(b)), bytes.NewReader(b))
	})
	if len(got) < 20 {
		t.Fatalf("only %d cases written", len(got))
	}
	for name, c := range want {
		if got[name] != c {
			t.Errorf("%s: direct %s, libostree %s", name, got[name], c)
			continue
		}
		a, _ := direct.ObjectPath(c)
		b, _ := lib.ObjectPath(c)
		if da, db := describeFile(t, a), describeFile(t, b); da != db {
			t.Errorf("%s: direct object %s, libostree's %s", name, da, db)
		}
	}
	again := write(direct, writeBatch)
	if fmt.Sprint(again) != fmt.Sprint(got) {
		t.Error("writing the same objects again gives other checksums")
	}
	// Objects of a discarded batch never appear, and nothing stays in tmp/.
	b := direct.NewObjectBatch()
	aborted, err := b.WriteRegfile(ctx, ostree.FileMeta{Mode: 0o644}, 7, strings.NewReader("aborted"))
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := direct.ObjectPath(aborted); fileExists(p) {
		t.Error("an object of a batch is in the repository before Publish")
	}
	b.Discard()
	if p, _ := direct.ObjectPath(aborted); fileExists(p) {
		t.Error("an object of a discarded batch is in the repository")
	}
	if left, _ := filepath.Glob(filepath.Join(direct.Path(), "tmp", "bootc-objects-*")); len(left) > 0 {
		t.Errorf("staging directories left: %v", left)
	}
	// The staging directory of a killed import (no process locks it) goes at the next
	// batch's first write; that of a live batch stays.
	stale := filepath.Join(direct.Path(), "tmp", "bootc-objects-killed")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "half-written"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	live := direct.NewObjectBatch()
	if _, err := live.WriteRegfile(ctx, ostree.FileMeta{Mode: 0o644}, 4, strings.NewReader("live")); err != nil {
		t.Fatal(err)
	}
	if fileExists(stale) {
		t.Error("the staging directory of a killed import is still there after a new batch's first write")
	}
	next := direct.NewObjectBatch()
	if _, err := next.WriteRegfile(ctx, ostree.FileMeta{Mode: 0o644}, 4, strings.NewReader("next")); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(direct.Path(), "tmp", "bootc-objects-*")); len(left) != 2 {
		t.Errorf("staging directories with two live batches: %v, want two", left)
	}
	for _, b := range []*ostree.ObjectBatch{live, next} {
		if err := b.Publish(); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(direct.Path(), "tmp", "bootc-objects-*")); len(left) > 0 {
		t.Errorf("staging directories left after Publish: %v", left)
	}
	// A size that does not match the stream is an error, and writes no object.
	if _, err := batchWrite(ctx, direct, ostree.FileMeta{Mode: 0o644}, []byte("abc"), 10); err == nil {
		t.Error("short content: no error")
	}
	ostreetest.CLI(t, "--repo="+direct.Path(), "fsck")
}

// batchWrite writes one object through an ObjectBatch and publishes it; size defaults to
// the content's length.
func batchWrite(ctx context.Context, repo *ostree.Repo, m ostree.FileMeta, content []byte, size ...int64) (string, error) {
	b := repo.NewObjectBatch()
	n := int64(len(content))
	if len(size) > 0 {
		n = size[0]
	}
	c, err := b.WriteRegfile(ctx, m, n, bytes.NewReader(content))
	if err != nil {
		b.Discard()
		return "", err
	}
	return c, b.Publish()
}

// describeFile is a file's type, mode, owner, size, mtime, xattrs and content digest.
func describeFile(t *testing.T, p string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	n, _ := unix.Llistxattr(p, buf)
	names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
	sort.Strings(names)
	var xs []string
	for _, name := range names {
		if name == "" {
			continue
		}
		v := make([]byte, 128<<10)
		m, _ := unix.Lgetxattr(p, name, v)
		xs = append(xs, fmt.Sprintf("%s=%x", name, v[:m]))
	}
	return fmt.Sprintf("mode %o uid %d gid %d size %d mtime %d xattrs %v content %x",
		st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, xs, sha256.Sum256(data))
}
