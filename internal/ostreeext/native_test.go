package ostreeext_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/ostreeext"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/tests/encapsulate"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

const tags = "containers_image_openpgp exclude_graphdriver_btrfs"

// capNetRaw is a security.capability value (VFS_CAP_REVISION_2, cap_net_raw=ep).
var capNetRaw = []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// writeSourceTree makes the test tree: capabilities and user xattrs, hardlinks, setuid,
// symlinks, non-root owners, usr/etc content, a kernel. extra is added content (path ->
// data) so that updates can change one file.
func writeSourceTree(t *testing.T, dir string, extra map[string]string) {
	t.Helper()
	files := map[string]string{
		"usr/bin/ping":                             "ping binary",
		"usr/bin/sh":                               "shell",
		"usr/bin/newuidmap":                        "newuidmap binary",
		"usr/bin/su":                               "setuid su",
		"usr/lib/modules/6.1.0-test/vmlinuz":       "kernel image",
		"usr/lib/modules/6.1.0-test/initramfs.img": "initramfs",
		"usr/share/doc/a/README":                   "doc a",
		"usr/share/doc/b/README":                   "doc b",
		"usr/share/doc/c/README":                   "doc c",
		"usr/share/data/blob":                      strings.Repeat("0123456789abcdef", 8192), // 128 KiB
		"usr/share/empty":                          "",
		"usr/etc/os-release":                       "ID=test\n",
		"usr/etc/passwd":                           "root:x:0:0::/root:/bin/sh\n",
		"usr/lib/owned/by-user":                    "owned by 1000:1000",
		"usr/lib/ostree/prepare-root.conf":         "[composefs]\nenabled = no\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		must(t, os.WriteFile(full, []byte(c), 0o644))
	}
	must(t, unix.Chmod(filepath.Join(dir, "usr/bin/su"), 0o4755))
	must(t, os.Chmod(filepath.Join(dir, "usr/bin/ping"), 0o755))
	must(t, unix.Lsetxattr(filepath.Join(dir, "usr/bin/ping"), "security.capability", capNetRaw, 0))
	must(t, unix.Lsetxattr(filepath.Join(dir, "usr/bin/newuidmap"), "security.capability", capNetRaw, 0))
	must(t, unix.Lsetxattr(filepath.Join(dir, "usr/share/doc/a/README"), "user.note", []byte("hello"), 0))
	must(t, unix.Lsetxattr(filepath.Join(dir, "usr/share/doc/a/README"), "user.other", []byte("second"), 0))
	must(t, os.Chown(filepath.Join(dir, "usr/lib/owned/by-user"), 1000, 1000))
	must(t, os.Chown(filepath.Join(dir, "usr/lib/owned"), 1000, 1000))
	must(t, os.Link(filepath.Join(dir, "usr/bin/sh"), filepath.Join(dir, "usr/bin/bash")))
	must(t, os.Link(filepath.Join(dir, "usr/share/doc/b/README"), filepath.Join(dir, "usr/share/doc/b/README.link")))
	must(t, os.Symlink("sh", filepath.Join(dir, "usr/bin/dash")))
	must(t, os.Symlink("usr/bin", filepath.Join(dir, "bin")))
	must(t, os.Symlink("../usr/lib/os-release-link-target", filepath.Join(dir, "usr/etc/dangling")))
	must(t, os.MkdirAll(filepath.Join(dir, "var"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "sysroot"), 0o755)) // a mount point, as in Fedora's images
	must(t, os.MkdirAll(filepath.Join(dir, "usr/lib/sticky"), 0o1777))
	must(t, unix.Chmod(filepath.Join(dir, "usr/lib/sticky"), 0o1777))
}

// cliCommit commits dir into repo with the ostree CLI and returns the checksum.
func cliCommit(t *testing.T, repo, dir, branch string, extra ...string) string {
	t.Helper()
	args := append([]string{"commit", "--repo=" + repo, "--branch=" + branch, "--tree=dir=" + dir,
		"--subject=test commit", "--add-metadata-string=version=42.1", "--timestamp=2024-01-02T03:04:05Z"}, extra...)
	return strings.TrimSpace(run(t, "ostree", args...))
}

type env struct {
	dir     string
	srcRepo string
	src     *ostree.Repo
	layout  string
}

func newEnv(t *testing.T) *env {
	ostreetest.RequireRoot(t)
	ostreetest.RequireCLI(t)
	dir := ostreetest.TmpfsDir(t, 512)
	e := &env{dir: dir, srcRepo: filepath.Join(dir, "src-repo"), layout: filepath.Join(dir, "oci")}
	run(t, "ostree", "init", "--repo="+e.srcRepo, "--mode=bare")
	var err error
	e.src, err = ostree.OpenRepo(context.Background(), e.srcRepo)
	must(t, err)
	t.Cleanup(func() { e.src.Close() })
	return e
}

// commitTree writes the source tree (with extra content) and commits it with the CLI.
func (e *env) commitTree(t *testing.T, name string, extra map[string]string, cliArgs ...string) string {
	tree := filepath.Join(e.dir, "tree-"+name)
	writeSourceTree(t, tree, extra)
	return cliCommit(t, e.srcRepo, tree, "test/"+name, cliArgs...)
}

func newRepo(t *testing.T, dir string) *ostree.Repo {
	t.Helper()
	r, err := ostree.CreateRepo(context.Background(), dir, ostree.ModeBare)
	must(t, err)
	must(t, r.SetDisableFsync(true))
	t.Cleanup(func() { r.Close() })
	return r
}

// openLayers counts the layers the importer opens.
type openCounter struct{ opened map[string]int }

// imageFromLayout reads an image of an OCI layout for ImportImage.
func imageFromLayout(t *testing.T, layout, tag string, oc *openCounter) importer.Image {
	t.Helper()
	var idx imgspecv1.Index
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &idx))
	var mdesc *imgspecv1.Descriptor
	for i, m := range idx.Manifests {
		if m.Annotations[imgspecv1.AnnotationRefName] == tag {
			mdesc = &idx.Manifests[i]
		}
	}
	if mdesc == nil {
		t.Fatalf("no tag %s in %s", tag, layout)
	}
	blob := func(d string) string {
		return filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
	}
	manBytes, err := os.ReadFile(blob(mdesc.Digest.String()))
	must(t, err)
	var man imgspecv1.Manifest
	must(t, json.Unmarshal(manBytes, &man))
	cfgBytes, err := os.ReadFile(blob(man.Config.Digest.String()))
	must(t, err)
	var cfg imgspecv1.Image
	must(t, json.Unmarshal(cfgBytes, &cfg))
	ref, err := imgref.NewImageReference(imgref.TransportOCI, layout+":"+tag)
	must(t, err)
	img := importer.Image{Target: ref, ManifestDigest: mdesc.Digest.String(), Manifest: manBytes, Config: cfgBytes}
	for i, l := range man.Layers {
		l := l
		img.Layers = append(img.Layers, importer.Layer{Digest: l.Digest.String(), DiffID: cfg.RootFS.DiffIDs[i].String(),
			Size: l.Size, Open: func(context.Context) (io.ReadCloser, error) {
				if oc != nil {
					oc.opened[l.Digest.String()]++
				}
				f, err := os.Open(blob(l.Digest.String()))
				if err != nil {
					return nil, err
				}
				if l.MediaType != imgspecv1.MediaTypeImageLayerGzip && !strings.HasSuffix(l.MediaType, "gzip") {
					return f, nil
				}
				zr, err := gzip.NewReader(f)
				if err != nil {
					f.Close()
					return nil, err
				}
				return struct {
					io.Reader
					io.Closer
				}{zr, f}, nil
			}})
	}
	return img
}

func fsck(t *testing.T, repo string) {
	t.Helper()
	out := run(t, "ostree", "fsck", "--repo="+repo)
	if strings.Contains(strings.ToLower(out), "corrupt") || strings.Contains(out, "missing") {
		t.Fatalf("ostree fsck: %s", out)
	}
}

// checkout checks rev out with the CLI (as root: ownership and xattrs kept).
func checkout(t *testing.T, repo, rev, dest string) {
	t.Helper()
	run(t, "ostree", "checkout", "--repo="+repo, "--force-copy", rev, dest)
}

func getxattr(t *testing.T, path, name string) []byte {
	t.Helper()
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		t.Fatalf("%s: xattr %s: %v", path, name, err)
	}
	return buf[:n]
}

func listTree(t *testing.T, repo, rev string) string {
	return run(t, "ostree", "ls", "--repo="+repo, "-R", "-X", "-C", rev)
}

func TestImportEncapsulated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks int
	}{{"one-layer", 0}, {"four-chunks", 4}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			commit := e.commitTree(t, "base", nil)
			enc, err := encapsulate.Encapsulate(ctx, e.src, commit, e.layout, "v1", encapsulate.Options{Chunks: tc.chunks})
			must(t, err)
			if len(enc.Layers) != tc.chunks+1 {
				t.Fatalf("%d layers, want %d", len(enc.Layers), tc.chunks+1)
			}
			// podman can read the layout (an independent reader of the format).
			repoDir := filepath.Join(e.dir, "repo")
			repo := newRepo(t, repoDir)
			img := imageFromLayout(t, e.layout, "v1", nil)
			res, err := ostreeext.ImportImage(ctx, repo, img, ostreeext.Options{})
			must(t, err)
			if !res.Native || res.BaseCommit != commit {
				t.Fatalf("base commit %s (native %v), want the CLI's %s", res.BaseCommit, res.Native, commit)
			}
			if res.Objects.Written == 0 || res.Objects.Reused != 0 {
				t.Errorf("objects written %d reused %d, want all written", res.Objects.Written, res.Objects.Reused)
			}
			fsck(t, repoDir)
			// The base commit is byte for byte the source's: same tree listing with xattrs.
			if a, b := listTree(t, e.srcRepo, commit), listTree(t, repoDir, commit); a != b {
				t.Fatalf("tree differs from the source commit:\n%s", ostreetest.LineDiff(a, b))
			}
			// The image commit has the base as parent and the same tree.
			ic, err := repo.ReadCommit(ctx, res.Commit)
			must(t, err)
			bc, err := repo.ReadCommit(ctx, commit)
			must(t, err)
			if ic.Parent != commit || ic.RootContents != bc.RootContents {
				t.Errorf("image commit parent %s tree %s, want %s %s", ic.Parent, ic.RootContents, commit, bc.RootContents)
			}
			if got, _ := repo.ResolveRev(ctx, imgref.ImageRef(img.Target), false); got != res.Commit {
				t.Errorf("image ref -> %s, want %s", got, res.Commit)
			}
			for _, l := range img.Layers {
				if got, _ := repo.ResolveRev(ctx, imgref.BlobRef(l.Digest), true); got == "" {
					t.Errorf("no blob ref for layer %s", l.Digest)
				}
			}
			if got, _ := repo.ResolveRev(ctx, imgref.BlobRef(img.Layers[0].Digest), false); got != commit {
				t.Errorf("commit layer blob ref -> %s, want %s", got, commit)
			}
			co := filepath.Join(e.dir, "co")
			checkout(t, repoDir, res.Commit, co)
			if v := getxattr(t, filepath.Join(co, "usr/bin/ping"), "security.capability"); !bytes.Equal(v, capNetRaw) {
				t.Errorf("ping capability %x", v)
			}
			if v := getxattr(t, filepath.Join(co, "usr/share/doc/a/README"), "user.other"); string(v) != "second" {
				t.Errorf("user.other = %q", v)
			}
			fi, err := os.Lstat(filepath.Join(co, "usr/bin/su"))
			must(t, err)
			if fi.Mode()&os.ModeSetuid == 0 {
				t.Errorf("su mode %v, want setuid", fi.Mode())
			}
			var sst unix.Stat_t
			must(t, unix.Lstat(filepath.Join(co, "usr/lib/owned/by-user"), &sst))
			if sst.Uid != 1000 || sst.Gid != 1000 {
				t.Errorf("owner %d:%d", sst.Uid, sst.Gid)
			}
			if target, err := os.Readlink(filepath.Join(co, "usr/bin/dash")); err != nil || target != "sh" {
				t.Errorf("dash -> %q, %v", target, err)
			}
			// The commit's sysroot is an empty mount point: nothing of the embedded repository.
			if ents, err := os.ReadDir(filepath.Join(co, "sysroot")); err != nil || len(ents) != 0 {
				t.Errorf("sysroot in the tree holds %v (%v)", ents, err)
			}
			// Importing again reuses every layer and writes nothing.
			oc := &openCounter{opened: map[string]int{}}
			res2, err := ostreeext.ImportImage(ctx, repo, imageFromLayout(t, e.layout, "v1", oc), ostreeext.Options{})
			must(t, err)
			if len(oc.opened) != 0 || res2.Imported != 0 || res2.Commit != res.Commit {
				t.Errorf("re-import opened %v, imported %d, commit %s (was %s)", oc.opened, res2.Imported, res2.Commit, res.Commit)
			}
			// The generic entry point hands the image over (importer.NativeImport).
			res3, err := importer.ImportImage(ctx, repo, imageFromLayout(t, e.layout, "v1", nil), importer.Options{})
			must(t, err)
			if res3.Commit != res.Commit || res3.LayerCommits[0] != commit {
				t.Errorf("importer.ImportImage gave commit %s layers %v, want %s based on %s", res3.Commit, res3.LayerCommits, res.Commit, commit)
			}
			st, err := ostreeext.ImageState(ctx, repo, res.Commit)
			must(t, err)
			if !st.Native || st.BaseCommit != commit || st.Version != "42.1" {
				t.Errorf("image state %+v, want native, base %s, version 42.1", st, commit)
			}
		})
	}
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
