package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// refs lists the refs of the test host's repository.
func (h *testHost) refs(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ostree", "refs", "--repo="+h.sysroot+"/ostree/repo").CombinedOutput()
	if err != nil {
		t.Fatalf("ostree refs: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// ostreeRun runs the ostree CLI on the test host's repository.
func (h *testHost) ostreeRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ostree", append(args, "--repo="+h.sysroot+"/ostree/repo")...).CombinedOutput()
	if err != nil {
		t.Fatalf("ostree %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestPruneKeepsDeployedCommit is audit H1: a host whose deployed commit is held by no ref
// (installed with no deployment refs, and its image ref moved by a fetch whose staging was
// killed) must keep that commit when a refused update prunes. Before, the prune walked refs
// only and deleted the booted commit; status failed from then on.
func TestPruneKeepsDeployedCommit(t *testing.T) {
	h := newTestHost(t)
	layout := filepath.Join(t.TempDir(), "oci")
	h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v1", bootableImage("1")))
	booted := h.status(t).Status.Booted
	// The state of a host installed by the old install, after a fetch moved its image ref
	// and was killed before staging: no deployment ref and no image ref reach the commit.
	for _, r := range h.refs(t) {
		h.ostreeRun(t, "refs", "--delete", r)
	}
	// An update refused by the /etc preflight undoes its fetch and prunes.
	etc := filepath.Join(h.deployDir(booted), "etc")
	if err := os.WriteFile(filepath.Join(etc, "foo.conf"), []byte("local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v2 := withFiles(bootableImage("2"), dir("etc/foo.conf"), file("etc/foo.conf/a.conf", "v2\n"))
	code, out, errs := h.try(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v2", v2))
	checkOneLineError(t, code, out, errs, "/etc merge conflict")
	h.ostreeRun(t, "show", booted.Ostree.Checksum)
	h.fsck(t)
	st := h.status(t)
	if st.Status.Booted == nil || st.Status.Booted.Ostree.Checksum != booted.Ostree.Checksum {
		t.Fatalf("status after the refused switch: booted %+v, want %s", st.Status.Booted, booted.Ostree.Checksum)
	}
	if v := st.Status.Booted.Image.Version; v == nil || *v != "1" {
		t.Fatalf("booted version %v, want 1", v)
	}
	// And the host still updates.
	if err := os.Remove(filepath.Join(etc, "foo.conf")); err != nil {
		t.Fatal(err)
	}
	h.bootc(t, "switch", "--quiet", "--transport", "oci", layout+":v2")
	h.fsck(t)
}
