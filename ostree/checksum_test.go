package ostree_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/ostree"
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
				want, err = repo.WriteRegfileBytes(ctx, tc.meta, tc.content)
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
