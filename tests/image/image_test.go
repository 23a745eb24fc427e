package image_test

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/pgzip"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/bootc-go/bootc/tests/image/testimage"
)

// image is one tag of the layout, read and checked against its digests.
type image struct {
	tag      string
	digest   digest.Digest
	manifest v1.Manifest
	config   v1.Image
}

func readBlob(t *testing.T, layout string, d digest.Digest) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(layout, "blobs", d.Algorithm().String(), d.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	if got := digest.FromBytes(b); got != d {
		t.Fatalf("blob %s has digest %s", d, got)
	}
	return b
}

func readImages(t *testing.T, layout string) map[string]*image {
	t.Helper()
	var idx v1.Index
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(layout, "oci-layout")); err != nil {
		t.Fatal(err)
	}
	images := map[string]*image{}
	for _, d := range idx.Manifests {
		im := &image{tag: d.Annotations[v1.AnnotationRefName], digest: d.Digest}
		if err := json.Unmarshal(readBlob(t, layout, d.Digest), &im.manifest); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(readBlob(t, layout, im.manifest.Config.Digest), &im.config); err != nil {
			t.Fatal(err)
		}
		if len(im.config.RootFS.DiffIDs) != len(im.manifest.Layers) {
			t.Fatalf("%s: %d layers, %d diff IDs", im.tag, len(im.manifest.Layers), len(im.config.RootFS.DiffIDs))
		}
		images[im.tag] = im
	}
	return images
}

// entry is what the test wants to know about one tar entry.
type entry struct {
	hdr     *tar.Header
	content []byte // for small regular files
	sha256  string // for regular files
}

// readLayer reads a gzip layer, checking its digest and diff ID, and returns its entries.
func readLayer(t *testing.T, layout string, desc v1.Descriptor, diffID digest.Digest) map[string]entry {
	t.Helper()
	f, err := os.Open(filepath.Join(layout, "blobs", "sha256", desc.Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	compressed := sha256.New()
	zr, err := pgzip.NewReader(io.TeeReader(f, compressed))
	if err != nil {
		t.Fatal(err)
	}
	uncompressed := sha256.New()
	stream := io.TeeReader(zr, uncompressed)
	tr := tar.NewReader(stream)
	entries := map[string]entry{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("layer %s: %v", desc.Digest, err)
		}
		e := entry{hdr: hdr}
		if hdr.Typeflag == tar.TypeReg {
			h := sha256.New()
			w := io.Writer(h)
			var small strings.Builder
			if hdr.Size <= 64<<10 {
				w = io.MultiWriter(h, &small)
			}
			if _, err := io.Copy(w, tr); err != nil {
				t.Fatal(err)
			}
			e.sha256 = hex.EncodeToString(h.Sum(nil))
			e.content = []byte(small.String())
		}
		entries[hdr.Name] = e
	}
	if _, err := io.Copy(io.Discard, stream); err != nil { // the tar's trailing padding
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, f); err != nil {
		t.Fatal(err)
	}
	if got := "sha256:" + hex.EncodeToString(compressed.Sum(nil)); got != desc.Digest.String() {
		t.Fatalf("layer %s has digest %s", desc.Digest, got)
	}
	if got := "sha256:" + hex.EncodeToString(uncompressed.Sum(nil)); got != diffID.String() {
		t.Fatalf("layer %s has diff ID %s, the config says %s", desc.Digest, got, diffID)
	}
	return entries
}

func TestImages(t *testing.T) {
	imgs := testimage.Build(t)
	t.Logf("images %s (inputs %s, cached %v, kernel %s)", imgs.Layout, imgs.InputsHash[:16], imgs.Cached, imgs.KVER)

	images := readImages(t, imgs.Layout)
	for _, tag := range []string{"v1", "v2", "v3"} {
		im := images[tag]
		if im == nil {
			t.Fatalf("layout %s has no tag %s (has %v)", imgs.Layout, tag, imgs.Tags)
		}
		if imgs.Digests[tag] != im.digest.String() {
			t.Errorf("manifest.env says %s is %s, index.json %s", tag, imgs.Digests[tag], im.digest)
		}
		labels := im.config.Config.Labels
		if labels["containers.bootc"] != "1" || labels["org.opencontainers.image.version"] != tag[1:] {
			t.Errorf("%s: labels %v", tag, labels)
		}
		if im.config.Architecture != "amd64" || im.config.OS != "linux" {
			t.Errorf("%s: platform %s/%s", tag, im.config.OS, im.config.Architecture)
		}
	}
	i1, i2, i3 := images["v1"], images["v2"], images["v3"]

	// v1: the base layer and the small test layer; together a bootable tree.
	if len(i1.manifest.Layers) != 2 {
		t.Fatalf("v1 has %d layers, want 2", len(i1.manifest.Layers))
	}
	tree := map[string]entry{}
	var compressed int64
	for i, l := range i1.manifest.Layers {
		compressed += l.Size
		for name, e := range readLayer(t, imgs.Layout, l, i1.config.RootFS.DiffIDs[i]) {
			tree[name] = e
		}
	}
	t.Logf("v1: %d entries, layers %d + %d bytes compressed", len(tree), i1.manifest.Layers[0].Size, i1.manifest.Layers[1].Size)
	mod := "usr/lib/modules/" + imgs.KVER + "/"
	for _, name := range []string{mod + "vmlinuz", mod + "initramfs.img", "usr/bin/bootc",
		"usr/lib/systemd/system/bootc-test-marker.service", "usr/libexec/bootc-test/marker",
		"usr/lib/bootc/kargs.d/00-console.toml", "usr/lib/bootc-test/version", "etc/hosts",
		"usr/lib/ostree/ostree-prepare-root", "usr/lib/tmpfiles.d/bootc-test.conf"} {
		e, ok := tree[name]
		if !ok || e.hdr.Typeflag != tar.TypeReg {
			t.Errorf("v1 has no regular file %s", name)
		}
	}
	if e := tree[mod+"vmlinuz"]; e.hdr != nil && e.hdr.Size < 1<<20 {
		t.Errorf("v1: vmlinuz is only %d bytes", e.hdr.Size)
	}
	if e := tree["usr/bin/bootc"]; e.hdr != nil {
		if e.sha256 != imgs.BootcSHA256 {
			t.Errorf("v1: /usr/bin/bootc has sha256 %s, built from %s", e.sha256, imgs.BootcSHA256)
		}
		if e.hdr.Mode&0o111 == 0 {
			t.Errorf("v1: /usr/bin/bootc mode %o", e.hdr.Mode)
		}
	}
	if e := tree["usr/libexec/bootc-test/marker"]; e.hdr != nil && e.hdr.Mode&0o111 == 0 {
		t.Errorf("v1: marker mode %o", e.hdr.Mode)
	}
	if got := string(tree["usr/lib/bootc-test/version"].content); got != "1\n" {
		t.Errorf("v1: version %q", got)
	}
	if got := string(tree["usr/lib/bootc/kargs.d/00-console.toml"].content); !strings.Contains(got, `"console=ttyS0,115200n8"`) {
		t.Errorf("v1: 00-console.toml %q", got)
	}
	if !strings.Contains(string(tree["etc/hosts"].content), "localhost") {
		t.Errorf("v1: etc/hosts %q", tree["etc/hosts"].content)
	}
	for name, target := range map[string]string{
		"home": "var/home", "root": "var/roothome", "ostree": "sysroot/ostree",
		"usr/lib/systemd/system/multi-user.target.wants/bootc-test-marker.service": "../bootc-test-marker.service",
		"etc/systemd/system/serial-getty@ttyS0.service":                            "/dev/null",
	} {
		if e := tree[name]; e.hdr == nil || e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != target {
			t.Errorf("v1: %s is not a symlink to %s", name, target)
		}
	}
	if e := tree["sysroot/"]; e.hdr == nil || e.hdr.Typeflag != tar.TypeDir {
		t.Errorf("v1: no directory sysroot/")
	}
	for name, e := range tree {
		switch {
		case strings.HasPrefix(name, "./") || strings.HasPrefix(name, "/") || strings.Contains(name, ".."):
			t.Errorf("v1: entry name %q", name)
		case e.hdr.Typeflag == tar.TypeChar || e.hdr.Typeflag == tar.TypeBlock || e.hdr.Typeflag == tar.TypeFifo:
			t.Errorf("v1: device node or fifo %s", name)
		case strings.HasPrefix(name, "boot/") && name != "boot/":
			t.Errorf("v1: /boot is not empty: %s", name)
		case (strings.HasPrefix(name, "usr/share/doc/") || strings.HasPrefix(name, "usr/share/man/")) &&
			e.hdr.Typeflag != tar.TypeDir:
			t.Errorf("v1: documentation left: %s", name)
		case strings.HasPrefix(name, "var/lib/apt/lists/") && e.hdr.Typeflag == tar.TypeReg:
			t.Errorf("v1: apt lists left: %s", name)
		case strings.HasPrefix(name, "usr/lib/modules/") && strings.Count(name, "/") >= 4 &&
			!strings.HasPrefix(name, mod):
			t.Errorf("v1: a second kernel: %s", name)
		}
	}

	// v2 and v3: v1's layers, same blobs, plus one small layer each.
	checkDerived := func(child, parent *image, files map[string]string) {
		t.Helper()
		n := len(parent.manifest.Layers)
		if len(child.manifest.Layers) != n+1 {
			t.Fatalf("%s has %d layers, want %d", child.tag, len(child.manifest.Layers), n+1)
		}
		for i, l := range parent.manifest.Layers {
			if child.manifest.Layers[i].Digest != l.Digest || child.config.RootFS.DiffIDs[i] != parent.config.RootFS.DiffIDs[i] {
				t.Errorf("%s layer %d is %s, %s's is %s", child.tag, i, child.manifest.Layers[i].Digest, parent.tag, l.Digest)
			}
		}
		top := child.manifest.Layers[n]
		if top.Size > 64<<10 {
			t.Errorf("%s adds a layer of %d bytes, want a small one", child.tag, top.Size)
		}
		entries := readLayer(t, imgs.Layout, top, child.config.RootFS.DiffIDs[n])
		for name, want := range files {
			if got := string(entries[name].content); got != want {
				t.Errorf("%s: %s is %q, want %q", child.tag, name, got, want)
			}
		}
		for name, e := range entries {
			if e.hdr.Typeflag == tar.TypeReg && files[name] == "" {
				t.Errorf("%s: unexpected file %s in its layer", child.tag, name)
			}
		}
		t.Logf("%s: +1 layer of %d bytes", child.tag, top.Size)
	}
	checkDerived(i2, i1, map[string]string{
		"usr/lib/bootc-test/version":         "2\n",
		"etc/bootc-test.conf":                "setting=v2\n",
		"usr/lib/bootc/kargs.d/10-test.toml": "kargs = [\"bootc.test=v2\"]\n",
	})
	checkDerived(i3, i2, map[string]string{"usr/lib/bootc-test/version": "3\n"})
	t.Logf("compressed image size: v1 %.1f MiB (manifest.env V1_SIZE=%s)", float64(compressed)/(1<<20), imgs.Env["V1_SIZE"])

	// A second Build reuses the first.
	again := testimage.Build(t)
	if !again.Cached {
		t.Errorf("second Build rebuilt the images")
	}
	if again.Dir != imgs.Dir || again.Digests["v3"] != imgs.Digests["v3"] {
		t.Errorf("second Build gave %s %v, first %s %v", again.Dir, again.Digests, imgs.Dir, imgs.Digests)
	}
}
