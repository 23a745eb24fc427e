package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/boundimage"
	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/install/installtest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// boundOSImage is a bootable test image of version that binds the images bound (through
// quadlets in /usr/share/containers/systemd, linked from bound-images.d as upstream does).
func boundOSImage(version string, bound ...string) storagetest.ImageSpec {
	var quadlets []string
	for _, b := range bound {
		quadlets = append(quadlets, "[Image]\nImage="+b+"\n")
	}
	return boundOSImageQuadlets(version, quadlets...)
}

// boundOSImageQuadlets is boundOSImage with the bound images' .image quadlets given whole.
func boundOSImageQuadlets(version string, quadlets ...string) storagetest.ImageSpec {
	layer := []storagetest.File{dir("usr"), dir("usr/lib"), dir("usr/lib/bootc"), dir(boundimage.Dir),
		dir("usr/share"), dir("usr/share/containers"), dir("usr/share/containers/systemd"), file("usr/share/version", version)}
	for i, content := range quadlets {
		q := fmt.Sprintf("usr/share/containers/systemd/b%d.image", i)
		layer = append(layer, file(q, content),
			storagetest.File{Path: fmt.Sprintf("%s/b%d.image", boundimage.Dir, i), Type: '2', Linkname: "/" + q})
	}
	return storagetest.ImageSpec{Layers: [][]storagetest.File{installtest.BaseLayer("1"), layer},
		Labels: map[string]string{"containers.bootc": "1"}}
}

// TestBoundImages (upstream tmt 21/22): the images an OS image binds through
// /usr/lib/bootc/bound-images.d are pulled into the store before the deployment is written;
// an update whose bound image cannot be fetched is refused with the host unchanged; an image
// the store has is not fetched again; and a bound image is pruned once no deployment names
// it.
func TestBoundImages(t *testing.T) {
	r := startRegistry(t)
	app := r.push(t, storagetest.ImageSpec{Layers: [][]storagetest.File{{file("app", "bound app")}}}, "app")
	h := newTestHost(t)
	layout := filepath.Join(t.TempDir(), "oci")
	storeHas := func(name string) bool {
		t.Helper()
		s, err := storage.Open(t.Context(), storage.Options{Root: h.storage})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = s.Image(t.Context(), name)
		return err == nil
	}

	r.reg.Counter.Reset()
	out, _ := h.bootc(t, "switch", "--transport", "oci", writeOCI(t, layout, "v1", boundOSImage("1", r.name("app"))))
	if !strings.Contains(out, "Fetched 1 bound images") || !storeHas(r.name("app")) {
		t.Fatalf("after the switch to v1 the store lacks the bound image %s:\n%s", r.name("app"), out)
	}
	if got := r.reg.Counter.Blob(app.Layers[0].Digest); got.Bytes != app.Layers[0].Size {
		t.Errorf("the bound image's layer: %d bytes fetched, want %d", got.Bytes, app.Layers[0].Size)
	}
	if out, _ := h.bootc(t, "image", "list", "--type", "logical"); !strings.Contains(out, r.name("app")) {
		t.Errorf("image list --type logical:\n%s", out)
	}

	// v2 binds an image the registry does not have: refused, v1 stays.
	before := h.fullState(t)
	code, _, errs := h.try(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v2", boundOSImage("2", r.name("app"), r.name("missing"))))
	checkOneLineError(t, code, "", errs, "bound image "+r.name("missing"), "b1.image")
	if after := h.fullState(t); after != before {
		t.Errorf("a refused switch changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// v3 binds the same image: not fetched again.
	r.reg.Counter.Reset()
	h.bootc(t, "switch", "--transport", "oci", writeOCI(t, layout, "v3", boundOSImage("3", r.name("app"))))
	if got := r.reg.Counter.Blob(app.Layers[0].Digest); got.Bytes != 0 {
		t.Errorf("the bound image was fetched again: %d bytes", got.Bytes)
	}
	// v4 and v5 bind nothing: the image stays while v3 (the rollback after v4) names it,
	// and is pruned once v3 is gone.
	h.bootc(t, "switch", "--transport", "oci", writeOCI(t, layout, "v4", boundOSImage("4")))
	if !storeHas(r.name("app")) {
		t.Error("the bound image of the rollback deployment was pruned")
	}
	h.bootc(t, "switch", "--transport", "oci", writeOCI(t, layout, "v5", boundOSImage("5")))
	if storeHas(r.name("app")) {
		t.Error("the bound image no deployment names is still in the store")
	}
	h.fsck(t)
}

// TestBoundImageAuthFile (upstream tmt 21/22's bound images, with a private registry): a
// bound image whose .image quadlet names AuthFile=PATH is pulled with the credentials of
// that file; without AuthFile= (and no other credentials) the pull is refused by the
// registry, the error names the bound image and its quadlet, and the host is unchanged.
func TestBoundImageAuthFile(t *testing.T) {
	const user, password = "bootc-bound", "s3cret-bound"
	r := startAuthRegistry(t, user, password)
	app := r.push(t, storagetest.ImageSpec{Layers: [][]storagetest.File{{file("app", "private bound app")}}}, "app")
	work := t.TempDir()
	// No credentials anywhere but in the quadlet's AuthFile=.
	noAuth := filepath.Join(work, "no-auth.json")
	authFile := filepath.Join(work, "bound-auth.json")
	creds := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	for p, content := range map[string]string{noAuth: `{"auths":{}}`,
		authFile: fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, r.reg.Host(), creds)} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("REGISTRY_AUTH_FILE", noAuth)
	t.Setenv("XDG_RUNTIME_DIR", work)
	t.Setenv("HOME", work)
	t.Setenv("DOCKER_CONFIG", work)

	h := newTestHost(t)
	layout := filepath.Join(t.TempDir(), "oci")
	h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v0", boundOSImage("0")))

	// Without AuthFile=: refused by the registry, nothing changed.
	before := h.fullState(t)
	code, out, errs := h.try(t, "switch", "--quiet", "--transport", "oci",
		writeOCI(t, layout, "v1", boundOSImageQuadlets("1", "[Image]\nImage="+r.name("app")+"\n")))
	checkOneLineError(t, code, out, errs, "bound image "+r.name("app"), "b0.image")
	if !strings.Contains(strings.ToLower(errs), "unauthorized") && !strings.Contains(strings.ToLower(errs), "authentication required") {
		t.Errorf("the refusal does not say the registry wants credentials: %s", errs)
	}
	if after := h.fullState(t); after != before {
		t.Errorf("a refused switch changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// With AuthFile= naming the credentials: pulled.
	r.reg.Counter.Reset()
	out, _ = h.bootc(t, "switch", "--transport", "oci",
		writeOCI(t, layout, "v2", boundOSImageQuadlets("2", "[Image]\nImage="+r.name("app")+"\nAuthFile="+authFile+"\n")))
	if !strings.Contains(out, "Fetched 1 bound images") {
		t.Errorf("switch with AuthFile=:\n%s", out)
	}
	if got := r.reg.Counter.Blob(app.Layers[0].Digest); got.Bytes != app.Layers[0].Size {
		t.Errorf("the bound image's layer: %d bytes fetched, want %d", got.Bytes, app.Layers[0].Size)
	}
	s, err := storage.Open(t.Context(), storage.Options{Root: h.storage})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Image(t.Context(), r.name("app")); err != nil {
		t.Errorf("the store lacks the bound image pulled with AuthFile=: %v", err)
	}
}

// TestInstallPullsBoundImages: bootc install to-disk puts the image's bound images into the
// installed system's store.
func TestInstallPullsBoundImages(t *testing.T) {
	r := startRegistry(t)
	r.push(t, storagetest.ImageSpec{Layers: [][]storagetest.File{{file("app", "bound app")}}}, "app")
	e := newInstallEnv(t)
	src := writeOCI(t, e.layout, "v1", boundOSImage("1", r.name("app")))
	diskPath := installtest.SparseFile(t, 2*disk.GiB)
	if code, out, errs := runBootc(t, "--storage-root", e.storage, "install", "to-disk", "--via-loopback",
		"--source-imgref", "oci:"+src, "--filesystem", "ext4", "--bootloader", "none", diskPath); code != 0 {
		t.Fatalf("install: exit %d\n%s\n%s", code, out, errs)
	}
	root := installtest.MountInstalled(t, diskPath)
	storeRoot := storage.SysrootStoreRoot(root, "default")
	t.Cleanup(func() { removeStore(t, storeRoot) })
	s, err := storage.Open(t.Context(), storage.Options{Root: storeRoot, RunRoot: storage.DerivedRunRoot(storeRoot)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Image(t.Context(), r.name("app")); err != nil {
		t.Errorf("the installed system's store: %v", err)
	}
}
