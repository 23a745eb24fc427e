package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/install/installtest"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// TestSwitchMutateInPlace (upstream tmt 31): switch --mutate-in-place points the deployment at
// another image without fetching it or deploying: same deployment, new spec; the next
// upgrade fetches the new image.
func TestSwitchMutateInPlace(t *testing.T) {
	h := newTestHost(t)
	if code, _, errs := h.try(t, "switch", "--mutate-in-place", "--transport", "oci", "/nowhere:x"); code == 0 || !strings.Contains(errs, "no deployment to change") {
		t.Errorf("mutate-in-place on an empty sysroot: exit %d, %q", code, errs)
	}
	spec := storagetest.ImageSpec{Layers: [][]storagetest.File{installtest.BaseLayer("1"), {dir("usr"), dir("usr/share"), file("usr/share/version", "1")}},
		Labels: map[string]string{"containers.bootc": "1"}}
	layout := filepath.Join(t.TempDir(), "oci")
	h.bootc(t, "switch", "--transport", "oci", writeOCI(t, layout, "v1", spec))
	booted := h.status(t).Status.Booted.Ostree.Checksum
	v2 := writeOCI(t, layout, "v2", withFiles(spec, file("usr/share/version", "2")))
	refsBefore := h.state(t)

	out, _ := h.bootc(t, "switch", "--mutate-in-place", "--transport", "oci", v2)
	if want := "Updated " + booted + " to pull from ostree-unverified-image:oci:" + v2; !strings.Contains(out, want) {
		t.Errorf("output %q, want %q", out, want)
	}
	st := h.status(t)
	if st.Spec.Image == nil || st.Spec.Image.Image != v2 || st.Spec.Image.Transport != "oci" {
		t.Errorf("spec after mutate-in-place: %+v", st.Spec.Image)
	}
	if st.Status.Booted.Ostree.Checksum != booted || st.Status.Rollback != nil {
		t.Errorf("mutate-in-place made a deployment: booted %s (was %s), rollback %+v", st.Status.Booted.Ostree.Checksum, booted, st.Status.Rollback)
	}
	// Nothing fetched: the refs are as before (only the origin changed, which state shows).
	if got := h.state(t); strings.Count(got, "ostree/container/image/") != strings.Count(refsBefore, "ostree/container/image/") {
		t.Errorf("mutate-in-place fetched an image:\nbefore:\n%s\nafter:\n%s", refsBefore, got)
	}
	h.bootc(t, "upgrade")
	if got := readFile(t, filepath.Join(h.deployDir(h.status(t).Status.Booted), "usr/share/version")); got != "2" {
		t.Errorf("after the upgrade, version %q, want 2", got)
	}
	if code, _, errs := h.try(t, "switch", "--mutate-in-place", "--apply", "--transport", "oci", v2); code == 0 || !strings.Contains(errs, "can't be used together") {
		t.Errorf("--mutate-in-place --apply: exit %d, %q", code, errs)
	}
}

// TestSwitchDownloadOnlyRefusals: the download-only flags need a booted system, and clash
// with the flags that contradict them; each refusal leaves the host as it was.
func TestSwitchDownloadOnlyRefusals(t *testing.T) {
	h := newTestHost(t)
	spec := storagetest.ImageSpec{Layers: [][]storagetest.File{installtest.BaseLayer("1")}, Labels: map[string]string{"containers.bootc": "1"}}
	ref := writeOCI(t, filepath.Join(t.TempDir(), "oci"), "v1", spec)
	h.bootc(t, "switch", "--transport", "oci", ref)
	before := h.fullState(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--download-only"}, "--download-only needs a booted system"},
		{[]string{"--from-downloaded"}, "No staged deployment to apply (run bootc switch --download-only"},
		{[]string{"--download-only", "--apply"}, "can't be used together"},
		{[]string{"--download-only", "--from-downloaded"}, "can't be used together"},
		{[]string{"--from-downloaded", "--retain"}, "can't be used together"},
	} {
		code, _, errs := h.try(t, append(append([]string{"switch", "--quiet"}, c.args...), "--transport", "oci", ref+"-other")...)
		checkOneLineError(t, code, "", errs, c.want)
	}
	if after := h.fullState(t); after != before {
		t.Errorf("a refused switch changed the host:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestInternalsFsck (upstream tmt 015): bootc internals fsck passes on a healthy host, and
// names a corrupt object of a deployment and an image missing from containers-storage.
func TestInternalsFsck(t *testing.T) {
	h := newTestHost(t)
	spec := storagetest.ImageSpec{Layers: [][]storagetest.File{installtest.BaseLayer("1"), {dir("usr"), dir("usr/share"), file("usr/share/data", "data")}},
		Labels: map[string]string{"containers.bootc": "1"}}
	h.bootc(t, "switch", "--transport", "oci", writeOCI(t, filepath.Join(t.TempDir(), "oci"), "v1", spec))
	out, _ := h.bootc(t, "internals", "fsck")
	for _, want := range []string{"ok: etc-resolvconf", "ok: repo", "ok: store"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("fsck of a healthy host does not say %q:\n%s", want, out)
		}
	}
	h.podman(t, "rmi", "--all", "--force")
	data := filepath.Join(h.deployDir(h.status(t).Status.Booted), "usr/share/data")
	ostreetest.ClearImmutable(filepath.Dir(data))
	if err := os.WriteFile(data, []byte("changed in place"), 0o644); err != nil { // the deployment's file is a hardlink of its object
		t.Fatal(err)
	}
	code, out, errs := h.try(t, "internals", "fsck")
	if code == 0 || !strings.Contains(errs, "Encountered errors") {
		t.Errorf("fsck of a damaged host: exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"ok: etc-resolvconf", "fsck error: repo: deployment ", ": corrupted: its content hashes to", "fsck error: store: ImageNotInStore: "} {
		if !strings.Contains(out, want) {
			t.Errorf("fsck output does not say %q:\n%s", want, out)
		}
	}
}

// TestUpgradeTag (upstream tmt 39): upgrade --tag moves the tracked reference to another tag
// of the same image and deploys it; the spec then names the new tag; upgrade --check --tag
// before it reports the other tag's image as an update without changing anything.
func TestUpgradeTag(t *testing.T) {
	h := newTestHost(t)
	spec := storagetest.ImageSpec{Layers: [][]storagetest.File{installtest.BaseLayer("1"), {dir("usr"), dir("usr/share"), file("usr/share/version", "1")}},
		Labels: map[string]string{"containers.bootc": "1"}}
	layout := filepath.Join(t.TempDir(), "oci")
	h.bootc(t, "switch", "--transport", "oci", writeOCI(t, layout, "v1", spec))
	v2 := writeOCI(t, layout, "v2", withFiles(spec, file("usr/share/version", "2")))
	// upgrade --check --tag v2 finds the other tag and changes nothing.
	before := h.fullState(t)
	if out, _ := h.bootc(t, "upgrade", "--check", "--tag", "v2"); !strings.Contains(out, "Update available for: ostree-unverified-image:oci:"+v2) {
		t.Errorf("upgrade --check --tag v2:\n%s", out)
	}
	if after := h.fullState(t); after != before {
		t.Errorf("upgrade --check --tag changed the host:\n--- before\n%s\n--- after\n%s", before, after)
	}
	h.bootc(t, "upgrade", "--tag", "v2")
	st := h.status(t)
	if st.Spec.Image == nil || st.Spec.Image.Image != v2 {
		t.Errorf("spec after upgrade --tag v2: %+v, want %s", st.Spec.Image, v2)
	}
	if got := readFile(t, filepath.Join(h.deployDir(st.Status.Booted), "usr/share/version")); got != "2" {
		t.Errorf("version after upgrade --tag v2: %q", got)
	}
}
