//go:build linux

package tarstream

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/bootc-go/bootc/internal/testskip"
)

// xattrTree makes a directory tree with user.* extended attributes set in
// a known order, or skips the test if the file system does not support them.
// It returns the root and the attributes set per relative path.
func xattrTree(t *testing.T) (string, map[string][][2]string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	set := map[string][][2]string{
		"file":     {{"user.zz", "last-name-first"}, {"user.aa", "\x00\x01binary\xff"}, {"user.mm", "m=m\nm"}},
		"sub":      {{"user.dir", "d"}},
		"sub/exec": {{"user.b", "2"}, {"user.a", "1"}, {"user.c", "3"}, {"user.empty", ""}},
		"plain":    nil,
	}
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"file", "sub/exec", "plain"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for path, xs := range set {
		for _, x := range xs {
			if err := syscall.Setxattr(filepath.Join(root, path), x[0], []byte(x[1]), 0); err != nil {
				testskip.Skipf(t, "xattr", "cannot set user xattrs under %s (no file system support?): %v", root, err)
			}
		}
	}
	return root, set
}

// listxattr returns the attribute names of path in the order the kernel
// lists them.
func listxattr(t *testing.T, path string) []string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := syscall.Listxattr(path, buf)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if strings.HasPrefix(name, "user.") {
			names = append(names, name)
		}
	}
	return names
}

var rawXattrKey = regexp.MustCompile(`(?:SCHILY|LIBARCHIVE)\.xattr\.([^=]+)=`)

// checkToolXattrs checks our Xattrs for an archive made by a tool from
// xattrTree: the values are the ones set, and the order of the names over
// the whole archive is the order of the xattr records in its raw bytes.
func checkToolXattrs(t *testing.T, data []byte, root string, set map[string][][2]string) {
	t.Helper()
	got, err := readAll(bytes.NewReader(data), readFull)
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	seen := map[string]bool{}
	for _, e := range got {
		rel := strings.TrimSuffix(strings.TrimPrefix(e.hdr.Name, "./"), "/")
		seen[rel] = true
		want := map[string]string{}
		for _, x := range set[rel] {
			want[x[0]] = x[1]
		}
		names := map[string]bool{}
		var order []string
		for _, x := range e.hdr.Xattrs {
			ours = append(ours, x.Name)
			if w, ok := want[x.Name]; !ok || w != string(x.Value) {
				t.Errorf("%s: xattr %s = %q, set %q (%v)", rel, x.Name, x.Value, w, ok)
			}
			if !names[x.Name] {
				order = append(order, x.Name)
			}
			names[x.Name] = true
		}
		if len(names) != len(want) {
			t.Errorf("%s: got xattrs %q, want %d of them", rel, e.hdr.Xattrs, len(want))
		}
		if len(order) > 1 {
			t.Logf("%s: archive order %q, listxattr order %q", rel, order, listxattr(t, filepath.Join(root, rel)))
		}
	}
	for path := range set {
		if !seen[path] {
			t.Errorf("no entry for %s", path)
		}
	}
	var raw []string
	for _, m := range rawXattrKey.FindAllSubmatch(data, -1) {
		raw = append(raw, urlDecode(string(m[1])))
	}
	if strings.Join(ours, ",") != strings.Join(raw, ",") {
		t.Errorf("xattr order\n got %q\nraw  %q", ours, raw)
	}
}

// TestBsdtarXattrs reads xattrs from an archive made by bsdtar (libarchive,
// which writes each attribute as a LIBARCHIVE.xattr and a SCHILY.xattr
// record) and checks their order against the archive's raw bytes.
func TestBsdtarXattrs(t *testing.T) {
	bsdtar, err := exec.LookPath("bsdtar")
	if err != nil {
		testskip.Skip(t, "tool:bsdtar", "bsdtar not found (Debian package libarchive-tools)")
	}
	root, set := xattrTree(t)
	out, err := exec.Command(bsdtar, "--xattrs", "--format=pax", "-cf", "-", "-C", root, ".").Output()
	if err != nil {
		t.Fatalf("bsdtar: %v", err)
	}
	checkToolXattrs(t, out, root, set)
	got, _ := readAll(bytes.NewReader(out), readNone)
	for _, e := range got {
		if strings.HasSuffix(e.hdr.Name, "exec") && len(e.hdr.Xattrs) != 8 {
			t.Errorf("bsdtar should write both record forms: got %q", e.hdr.Xattrs)
		}
	}
}

// TestGNUTarXattrs does the same for GNU tar, which writes SCHILY.xattr
// records only.
func TestGNUTarXattrs(t *testing.T) {
	gtar, err := exec.LookPath("tar")
	if err != nil {
		testskip.Skip(t, "tool:tar", "tar not found")
	}
	if v, err := exec.Command(gtar, "--version").Output(); err != nil || !bytes.Contains(v, []byte("GNU tar")) {
		testskip.Skip(t, "tool:tar", "tar is not GNU tar")
	}
	root, set := xattrTree(t)
	out, err := exec.Command(gtar, "--xattrs", "--xattrs-include=user.*", "--format=pax", "-cf", "-", "-C", root, ".").Output()
	if err != nil {
		t.Fatalf("tar: %v", err)
	}
	checkToolXattrs(t, out, root, set)
}

// TestToolFormats reads archives made by bsdtar and GNU tar in each format
// they write and compares with archive/tar.
func TestToolFormats(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	long := strings.Repeat("a-rather-long-directory-name/", 6)
	for _, d := range []string{"dir/empty", long} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"dir/f": "f", "dir/big": strings.Repeat("big", 40000), long + "file-in-long-dir": "long"}
	for name, c := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("f", filepath.Join(root, "dir/sym")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("t", 150), filepath.Join(root, "dir/longsym")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "dir/f"), filepath.Join(root, "dir/hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "dir"), 0o1777); err != nil {
		t.Fatal(err)
	}

	var cmds []struct {
		name string
		args []string
	}
	if bin, err := exec.LookPath("bsdtar"); err == nil {
		for _, f := range []string{"pax", "gnutar", "ustar", "v7"} {
			cmds = append(cmds, struct {
				name string
				args []string
			}{"bsdtar-" + f, []string{bin, "--format=" + f, "-cf", "-", "-C", root, "."}})
		}
	}
	if bin, err := exec.LookPath("tar"); err == nil {
		if v, err := exec.Command(bin, "--version").Output(); err == nil && bytes.Contains(v, []byte("GNU tar")) {
			for _, f := range []string{"pax", "gnu", "oldgnu", "ustar", "v7"} {
				cmds = append(cmds, struct {
					name string
					args []string
				}{"gnutar-" + f, []string{bin, "--format=" + f, "-cf", "-", "-C", root, "."}})
			}
		}
	}
	if len(cmds) == 0 {
		testskip.Skip(t, "tool:tar", "neither bsdtar nor GNU tar found")
	}
	for _, c := range cmds {
		t.Run(c.name, func(t *testing.T) {
			// ustar and v7 cannot store every long name: the tools then
			// warn, leave the entry out and exit non-zero. Only the
			// archive matters here.
			out, err := exec.Command(c.args[0], c.args[1:]...).Output()
			if err != nil && len(out) == 0 {
				t.Fatalf("%s: %v", c.name, err)
			}
			std, err := readAllStd(out)
			if err != nil {
				t.Fatalf("archive/tar: %v", err)
			}
			if len(std) < 5 {
				t.Fatalf("archive/tar read only %d entries", len(std))
			}
			for _, mode := range []readMode{readFull, readNone} {
				ours, err := readAll(bytes.NewReader(out), mode)
				if err != nil {
					t.Fatalf("our reader: %v", err)
				}
				compareWithStd(t, ours, std, mode == readFull)
			}
		})
	}
}
