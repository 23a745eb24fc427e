package storage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/bootc-go/bootc/storage/storagetest"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	"golang.org/x/sys/unix"
)

// fillLayers is threeLayers plus a layer with a whiteout, an opaque directory, a FIFO and a
// file whose content file will get other metadata than its header (so it must be copied).
func fillLayers(top string) storagetest.ImageSpec {
	spec := threeLayers(top)
	spec.Layers = append(spec.Layers, []storagetest.File{
		{Path: "etc/.wh.os-release"},
		{Path: "usr/share/", Type: tar.TypeDir, Mode: 0o750},
		{Path: "usr/share/.wh..wh..opq"},
		{Path: "usr/share/fresh", Content: []byte("fresh\n"), Mode: 0o600},
		{Path: "usr/share/mismatch", Content: []byte("mismatch\n"), Mode: 0o640, UID: 7, GID: 8},
		{Path: "run/", Type: tar.TypeDir},
		{Path: "run/fifo", Type: tar.TypeFifo, Mode: 0o600},
	})
	return spec
}

// recordedLayer is a layer's tar-split and its regular files' contents in a directory
// standing in for the ostree repo's objects.
type recordedLayer struct {
	tarSplit []byte
	files    map[string]string // entry name -> content file
}

// recordLayer records the tar-split of tarball and writes each regular file's content to a
// file in dir, with the header's owner, mode and xattrs unless the name is in mismatch.
func recordLayer(t *testing.T, tarball []byte, dir string, mismatch map[string]bool) recordedLayer {
	t.Helper()
	var ts bytes.Buffer
	r, err := asm.NewInputTarStream(bytes.NewReader(tarball), tsstorage.NewJSONPacker(&ts), tsstorage.NewDiscardFilePutter())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	rl := recordedLayer{tarSplit: ts.Bytes(), files: map[string]string{}}
	tr := tar.NewReader(bytes.NewReader(tarball))
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || strings.HasPrefix(filepath.Base(h.Name), ".wh.") {
			continue
		}
		p := filepath.Join(dir, fmt.Sprintf("obj-%s-%d", digest.FromBytes(tarball).Encoded()[:8], i))
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if !mismatch[h.Name] {
			if err := os.Chown(p, h.Uid, h.Gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, os.FileMode(h.Mode&0o777)|modeBits(h.Mode)); err != nil {
				t.Fatal(err)
			}
			for k, v := range h.PAXRecords {
				if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
					if err := unix.Setxattr(p, name, []byte(v), 0); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		rl.files[h.Name] = p
	}
	return rl
}

// modeBits converts setuid/setgid/sticky tar bits to os.FileMode bits.
func modeBits(m int64) os.FileMode {
	var r os.FileMode
	if m&0o4000 != 0 {
		r |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		r |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		r |= os.ModeSticky
	}
	return r
}

// putSpec builds the PutImage spec of gen from recorded layers.
func putSpec(gen *storagetest.Image, name string, recs []recordedLayer) PutImageSpec {
	spec := PutImageSpec{Name: name, Source: gen.Reference(), Manifest: gen.Manifest, Config: gen.Config}
	for i, l := range gen.Layers {
		rec := recs[i]
		spec.Layers = append(spec.Layers, PutLayer{
			CompressedDigest: l.Digest,
			DiffID:           l.DiffID,
			TarSplit:         rec.tarSplit,
			Resolve: func(n string) (string, error) {
				p, ok := rec.files[n]
				if !ok {
					return "", fmt.Errorf("no content for %q", n)
				}
				return p, nil
			},
		})
	}
	return spec
}

// inode returns p's inode number.
func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestPutImage fills the store from tar-splits and content files: the image is seen by skopeo
// and podman, its layers reproduce the original tars, files are shared where metadata
// matches, podman rmi leaves the content files alone, a later Pull reuses every layer, and a
// second PutImage is a no-op that adds the name.
func TestPutImage(t *testing.T) {
	s := newTestStore(t, nil)
	if s.Driver() != "overlay" {
		t.Log("overlay unavailable: PutImage uses the tar fallback, files are copied")
	}
	ctx := context.Background()
	tmp := t.TempDir()
	gen, err := storagetest.WriteOCI(filepath.Join(tmp, "layout"), "v1", fillLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	objs := filepath.Join(filepath.Dir(s.GraphRoot()), "objects") // same filesystem as the store
	if err := os.MkdirAll(objs, 0o755); err != nil {
		t.Fatal(err)
	}
	var recs []recordedLayer
	for _, l := range gen.Layers {
		recs = append(recs, recordLayer(t, l.Tar, objs, map[string]bool{"usr/share/mismatch": true}))
	}
	img, stats, err := s.PutImage(ctx, putSpec(gen, "localhost/filled:v1", recs))
	if err != nil {
		t.Fatalf("PutImage: %v", err)
	}
	t.Logf("stats %+v", stats)
	if img.ID != gen.ConfigDigest.Encoded() || !img.Pulled || stats.LayersCreated != 4 || !stats.ImageCreated {
		t.Errorf("image %s pulled=%v stats %+v; want ID %s, marked, 4 layers created", img.ID, img.Pulled, stats, gen.ConfigDigest.Encoded())
	}
	checkLayers(t, s.Store, img, gen)
	layers := img.Layers()
	parent := ""
	for i, l := range layers {
		if want := ChainID(parent, gen.Layers[i].DiffID); l.ID != want {
			t.Errorf("layer %d ID %s, want chain ID %s", i, l.ID, want)
		}
		parent = l.ID
	}

	if s.Driver() == "overlay" {
		if stats.FilesCopied != 1 || stats.FilesLinked != 6 {
			t.Errorf("linked %d copied %d files, want 6 and 1", stats.FilesLinked, stats.FilesCopied)
		}
		sl, err := s.LayerByDiffID(ctx, gen.Layers[0].DiffID)
		if err != nil || sl == nil || sl.Dir == "" {
			t.Fatalf("LayerByDiffID(base) = %+v, %v", sl, err)
		}
		if got, want := inode(t, filepath.Join(sl.Dir, "usr/bin/tool")), inode(t, recs[0].files["usr/bin/tool"]); got != want {
			t.Errorf("usr/bin/tool inode %d, content file's %d: not hardlinked", got, want)
		}
		top, err := s.LayerByDiffID(ctx, gen.Layers[3].DiffID)
		if err != nil || top == nil {
			t.Fatalf("LayerByDiffID(top) = %+v, %v", top, err)
		}
		if got, src := inode(t, filepath.Join(top.Dir, "usr/share/mismatch")), inode(t, recs[3].files["usr/share/mismatch"]); got == src {
			t.Error("usr/share/mismatch is hardlinked though its content file's metadata differs")
		}
		fi, err := os.Lstat(filepath.Join(top.Dir, "etc/os-release"))
		if err != nil || fi.Mode()&os.ModeCharDevice == 0 || fi.Sys().(*syscall.Stat_t).Rdev != 0 {
			t.Errorf("whiteout etc/os-release: %v %v, want a 0:0 character device", fi, err)
		}
		if v, err := getxattr(filepath.Join(top.Dir, "usr/share"), "trusted.overlay.opaque"); err != nil || string(v) != "y" {
			t.Errorf("opaque usr/share: %q %v", v, err)
		}
	}

	// skopeo reads the image; exporting it yields the original tars (digests = diff IDs).
	if skopeo, err := exec.LookPath("skopeo"); err == nil {
		ref := "containers-storage:" + s.storeSpec() + "localhost/filled:v1"
		out, err := exec.CommandContext(ctx, skopeo, "inspect", ref).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo inspect: %v\n%s", err, out)
		}
		var insp struct{ Layers []string }
		if err := json.Unmarshal(out, &insp); err != nil || len(insp.Layers) != 4 {
			t.Errorf("skopeo inspect: %v %s", err, out)
		}
		dst := filepath.Join(tmp, "export")
		if out, err := exec.CommandContext(ctx, skopeo, "copy", ref, "oci:"+dst+":x").CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy: %v\n%s", err, out)
		}
		for i, b := range exportedLayers(t, dst) {
			if d := digest.FromBytes(b); d != gen.Layers[i].DiffID || !bytes.Equal(b, gen.Layers[i].Tar) {
				t.Errorf("exported layer %d has digest %s, want the diff ID %s (the original tar)", i, d, gen.Layers[i].DiffID)
			}
		}
	} else {
		t.Log("skopeo not installed: skipping the skopeo oracle")
	}

	// A second PutImage reuses everything and adds the name.
	img2, stats2, err := s.PutImage(ctx, putSpec(gen, "localhost/filled:again", recs))
	if err != nil {
		t.Fatalf("second PutImage: %v", err)
	}
	if stats2.LayersReused != 4 || stats2.LayersCreated != 0 || stats2.ImageCreated || img2.ID != img.ID || len(img2.Names) != 2 {
		t.Errorf("second PutImage: stats %+v names %v", stats2, img2.Names)
	}

	// A Pull of the same image fetches no layer.
	pulled, err := s.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: testPolicy(t, acceptAnything), Name: "localhost/filled:pulled"})
	if err != nil {
		t.Fatalf("Pull after PutImage: %v", err)
	}
	if pulled.ID != img.ID || pulled.Report.LayersFetched != 0 || pulled.Report.LayersReused != 4 {
		t.Errorf("Pull after PutImage: ID %s report %+v; want %s, 0 layers fetched", pulled.ID, pulled.Report, img.ID)
	}

	// A different image under a name the first holds (a tag that moved) takes the name, as
	// a pull does; the first image keeps its other names.
	gen2, err := storagetest.WriteOCI(filepath.Join(tmp, "layout2"), "v2", fillLayers("v2"))
	if err != nil {
		t.Fatal(err)
	}
	var recs2 []recordedLayer
	for _, l := range gen2.Layers {
		recs2 = append(recs2, recordLayer(t, l.Tar, objs, nil))
	}
	moved, _, err := s.PutImage(ctx, putSpec(gen2, "localhost/filled:again", recs2))
	if err != nil {
		t.Fatalf("PutImage of another image under a name in use: %v", err)
	}
	if old, err := s.Image(ctx, img.ID); err != nil || moved.ID == img.ID || !slices.Contains(moved.Names, "localhost/filled:again") ||
		slices.Contains(old.Names, "localhost/filled:again") || !slices.Contains(old.Names, "localhost/filled:v1") {
		t.Errorf("after the tag moved: new image %s names %v; old image %+v, %v", moved.ID, moved.Names, old, err)
	}

	// podman sees it; podman rmi leaves the content files intact.
	if podman, err := exec.LookPath("podman"); err == nil {
		run := func(args ...string) string {
			full := append([]string{"--root", s.GraphRoot(), "--runroot", s.RunRoot(), "--storage-driver", s.Driver(),
				"--tmpdir", filepath.Join(tmp, "libpod"), "--events-backend", "none", "--cgroup-manager", "cgroupfs"}, args...)
			out, err := exec.CommandContext(ctx, podman, full...).CombinedOutput()
			if err != nil {
				t.Fatalf("podman %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		if out := run("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "localhost/filled:v1") {
			t.Errorf("podman images:\n%s", out)
		}
		run("rmi", "-f", img.ID)
		for _, rec := range recs {
			for n, p := range rec.files {
				b, err := os.ReadFile(p)
				if err != nil || len(b) == 0 && n != "" {
					t.Errorf("content file of %s after podman rmi: %d bytes, %v", n, len(b), err)
				}
			}
		}
		if _, err := s.Image(ctx, img.ID); !errors.Is(err, ErrImageNotFound) {
			t.Errorf("image after podman rmi: %v", err)
		}
	}
}

// TestPutImageFailure: a layer whose content cannot be resolved fails PutImage, naming the
// entry, and leaves no layer or image behind.
func TestPutImageFailure(t *testing.T) {
	s := newTestStore(t, nil)
	ctx := context.Background()
	gen, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	objs := t.TempDir()
	var recs []recordedLayer
	for _, l := range gen.Layers {
		recs = append(recs, recordLayer(t, l.Tar, objs, nil))
	}
	delete(recs[2].files, "etc/version")
	_, _, err = s.PutImage(ctx, putSpec(gen, "localhost/broken:v1", recs))
	if err == nil || !strings.Contains(err.Error(), "etc/version") {
		t.Fatalf("PutImage with a missing file: %v, want an error naming etc/version", err)
	}
	ls, err := s.store.Layers()
	if err != nil || len(ls) != 0 {
		t.Errorf("layers left after a failed PutImage: %d %v", len(ls), err)
	}
	if imgs, _ := s.Images(ctx); len(imgs) != 0 {
		t.Errorf("images left after a failed PutImage: %v", imgs)
	}
}

// TestDropLayer: dropping a layer deletes the images using it and the layers above, and is a
// no-op the second time.
func TestDropLayer(t *testing.T) {
	s := newTestStore(t, nil)
	ctx := context.Background()
	gen, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: testPolicy(t, acceptAnything), Name: "localhost/drop:v1"})
	if err != nil {
		t.Fatal(err)
	}
	mid, err := s.LayerByDiffID(ctx, gen.Layers[1].DiffID)
	if err != nil || mid == nil {
		t.Fatalf("LayerByDiffID: %+v %v", mid, err)
	}
	if err := s.DropLayer(ctx, mid.ID, errors.New("test: diff ID mismatch")); err != nil {
		t.Fatalf("DropLayer: %v", err)
	}
	if _, err := s.Image(ctx, img.ID); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("image after DropLayer: %v", err)
	}
	// The base layer went with the image (containers-storage deletes an image's layers that
	// no other image uses); the dropped one and the one above are gone in any case.
	for i, want := range []bool{false, false, false} {
		l, err := s.LayerByDiffID(ctx, gen.Layers[i].DiffID)
		if err != nil || (l != nil) != want {
			t.Errorf("layer %d after DropLayer: %+v %v, want present=%v", i, l, err, want)
		}
	}
	if err := s.DropLayer(ctx, mid.ID, nil); err != nil {
		t.Errorf("second DropLayer: %v", err)
	}
	if l, err := s.LayerByDiffID(ctx, digest.Digest("sha256:"+strings.Repeat("0", 64))); l != nil || err != nil {
		t.Errorf("LayerByDiffID(unknown) = %+v, %v", l, err)
	}
}

// TestSysrootStoreRoot checks the path of a sysroot's store.
func TestSysrootStoreRoot(t *testing.T) {
	if got, want := SysrootStoreRoot("/mnt/s", "default"), "/mnt/s/ostree/deploy/default/var/lib/containers/storage"; got != want {
		t.Errorf("SysrootStoreRoot = %s, want %s", got, want)
	}
	if got := ChainID("", digest.Digest("sha256:"+strings.Repeat("a", 64))); got != strings.Repeat("a", 64) {
		t.Errorf("ChainID(base) = %s", got)
	}
}

// exportedLayers returns the uncompressed layers of the only image of the OCI layout dir.
func exportedLayers(t *testing.T, dir string) [][]byte {
	t.Helper()
	blob := func(d digest.Digest) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var idx imgspecv1.Index
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || json.Unmarshal(b, &idx) != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json of %s: %v %s", dir, err, b)
	}
	var m imgspecv1.Manifest
	if err := json.Unmarshal(blob(idx.Manifests[0].Digest), &m); err != nil {
		t.Fatal(err)
	}
	var res [][]byte
	for _, l := range m.Layers {
		b := blob(l.Digest)
		if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		res = append(res, b)
	}
	return res
}

// TestPutImageVFS: with a driver without the staged-layer API (vfs), PutImage applies each
// layer from the tar reassembled from its tar-split and files; the result is the same image.
func TestPutImageVFS(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	root, run := t.TempDir(), t.TempDir()
	s, err := Open(ctx, Options{Root: filepath.Join(root, "graph"), RunRoot: run, Driver: "vfs", TempDir: filepath.Join(root, "tmp"), BlobInfoCacheDir: filepath.Join(root, "cache"), Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		assertNoMounts(t, root, run)
	})
	gen, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "v1", fillLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	objs := t.TempDir()
	var recs []recordedLayer
	for _, l := range gen.Layers {
		recs = append(recs, recordLayer(t, l.Tar, objs, nil))
	}
	img, stats, err := s.PutImage(ctx, putSpec(gen, "localhost/vfs:v1", recs))
	if err != nil {
		t.Fatalf("PutImage: %v", err)
	}
	if stats.LayersCreated != 4 || stats.FilesLinked != 0 || stats.FilesCopied != 7 {
		t.Errorf("stats %+v, want 4 layers, 7 files copied", stats)
	}
	checkLayers(t, s, img, gen)
	sl, err := s.LayerByDiffID(ctx, gen.Layers[0].DiffID)
	if err != nil || sl == nil || sl.Dir != filepath.Join(s.GraphRoot(), "vfs", "dir", sl.ID) || sl.CompressedDigest != gen.Layers[0].Digest {
		t.Errorf("LayerByDiffID = %+v, %v", sl, err)
	}
}
