package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// TestImageCopyToStorage is upstream's derived-image workflow on one machine: bootc image
// list shows the host image and its bound image; copy-to-storage names the booted image
// localhost/bootc in the store (the image bootc kept there, or, when podman removed it, one
// rebuilt from the repository); podman builds FROM it; bootc switches to the result from
// containers-storage; and bootc's prune leaves the copied image alone.
func TestImageCopyToStorage(t *testing.T) {
	r := startRegistry(t)
	r.push(t, storagetest.ImageSpec{Layers: [][]storagetest.File{{file("db", "bound db")}}}, "db")
	h := newTestHost(t)
	spec := withFiles(boundOSImage("1", r.name("db")), file("usr/share/data", "from v1"))
	ref := writeOCI(t, filepath.Join(t.TempDir(), "oci"), "v1", spec)
	h.bootc(t, "switch", "--transport", "oci", ref)
	booted := h.status(t).Status.Booted.Image.ImageDigest

	out, _ := h.bootc(t, "image", "list", "--format", "json")
	var rows []listedImage
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("image list --format json: %v\n%s", err, out)
	}
	want := []listedImage{{ImageType: "host", Image: "oci:" + ref}, {ImageType: "logical", Image: r.name("db")}}
	if len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] {
		t.Errorf("image list = %+v, want %+v", rows, want)
	}
	if out, _ := h.bootc(t, "image", "list", "--type", "logical"); !strings.Contains(out, r.name("db")+"   logical") || strings.Contains(out, "host") {
		t.Errorf("image list --type logical:\n%s", out)
	}

	// The store holds the booted image (bootc kept it there): it gets the name.
	out, _ = h.bootc(t, "image", "copy-to-storage")
	if !strings.Contains(out, "Pushed: containers-storage:localhost/bootc:latest "+booted) {
		t.Errorf("copy-to-storage printed:\n%s", out)
	}
	// Removed by podman: rebuilt from the repository under the name asked for.
	h.podman(t, "rmi", "--all", "--force")
	h.bootc(t, "image", "copy-to-storage", "--source", "oci:"+ref, "--target", "containers-storage:localhost/copy")
	mnt := h.podman(t, "image", "mount", "localhost/copy")
	if got := readFile(t, filepath.Join(mnt, "usr/share/data")); got != "from v1" {
		t.Errorf("usr/share/data of the copied image = %q", got)
	}
	h.podman(t, "image", "unmount", "--all", "--force")

	buildCtx := t.TempDir()
	for name, content := range map[string]string{"Containerfile": "FROM localhost/copy\nCOPY derived /usr/share/derived\n", "derived": "derived\n"} {
		if err := os.WriteFile(filepath.Join(buildCtx, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.podman(t, "build", "--isolation=chroot", "-q", "-t", "localhost/derived", buildCtx)
	h.bootc(t, "switch", "--transport", "containers-storage", "localhost/derived")
	dep := h.deployDir(h.status(t).Status.Booted)
	if got := readFile(t, filepath.Join(dep, "usr/share/derived")); got != "derived\n" {
		t.Errorf("the derived deployment's /usr/share/derived = %q", got)
	}
	if got := readFile(t, filepath.Join(dep, "usr/share/data")); got != "from v1" {
		t.Errorf("the derived deployment's /usr/share/data = %q", got)
	}
	// The switch pruned v1 from the repository; the copy stays in the store.
	s, err := storage.Open(t.Context(), storage.Options{Root: h.storage})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Image(t.Context(), "localhost/copy"); err != nil {
		t.Errorf("the copied image after bootc's prune: %v", err)
	}
	h.fsck(t)
}

// TestImageCopyToStorageRefusals: bad targets and sources fail with a clear error.
func TestImageCopyToStorageRefusals(t *testing.T) {
	h := newTestHost(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--target", "oci:/tmp/x"}, "only containers-storage: targets are supported"},
		{[]string{"--target", "containers-storage:"}, "--target: empty image name"},
		{[]string{"--source", "docker://quay.io/not/here:1"}, "image docker://quay.io/not/here:1 is not in the repository"},
		{nil, "the booted deployment has no container image reference"},
	} {
		code, out, errs := h.try(t, append([]string{"image", "copy-to-storage"}, c.args...)...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("copy-to-storage %v: exit %d, stderr %q, want an error containing %q (stdout %q)", c.args, code, errs, c.want, out)
		}
	}
}

// TestImageCopyToStorageBootedUnderOtherName: the booted deployment's origin may name an
// image the repository keeps under another name (install --target-imgref, as the VM test's
// install to-existing-root does, or switch --mutate-in-place); copy-to-storage copies the
// booted deployment's own image all the same.
func TestImageCopyToStorageBootedUnderOtherName(t *testing.T) {
	h := newTestHost(t)
	ref := writeOCI(t, filepath.Join(t.TempDir(), "oci"), "v1", withFiles(bootableImage("1"), file("usr/share/data", "booted")))
	h.bootc(t, "switch", "--transport", "oci", ref)
	h.bootc(t, "switch", "--mutate-in-place", "--transport", "oci", filepath.Join(t.TempDir(), "elsewhere")+":stable")
	h.podman(t, "rmi", "--all", "--force")
	h.bootc(t, "image", "copy-to-storage")
	mnt := h.podman(t, "image", "mount", "localhost/bootc")
	defer h.podman(t, "image", "unmount", "--all", "--force")
	if got := readFile(t, filepath.Join(mnt, "usr/share/data")); got != "booted" {
		t.Errorf("usr/share/data of localhost/bootc = %q, want the booted image's", got)
	}
}
