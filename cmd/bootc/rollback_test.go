package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRollbackTwice (upstream tmt 36's double rollback, on an offline sysroot where the
// deployment that boots next is the booted one): a rollback makes the previous deployment
// boot next, a second rollback brings the first order back, boot entries included; each
// leaves two deployments and a clean repository.
func TestRollbackTwice(t *testing.T) {
	h := newTestHost(t)
	layout := filepath.Join(t.TempDir(), "oci")
	h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v1", bootableImage("1")))
	h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v2", bootableImage("2")))
	version := func(e *bootEntry) string {
		if e == nil || e.Image == nil || e.Image.Version == nil {
			return "-"
		}
		return *e.Image.Version
	}
	check := func(step, booted, rollback string) {
		t.Helper()
		st := h.status(t)
		if got := version(st.Status.Booted) + "/" + version(st.Status.Rollback) + "/" + version(st.Status.Staged); got != booted+"/"+rollback+"/-" {
			t.Fatalf("%s: booted/rollback/staged versions %s, want %s/%s/-", step, got, booted, rollback)
		}
		entries := h.bootEntries(t)
		if len(entries) != 2 || !strings.Contains(readFile(t, filepath.Join(h.deployDir(st.Status.Booted), "usr/lib/version")), booted) {
			t.Fatalf("%s: %d boot entries, or the next boot's deployment is not v%s", step, len(entries), booted)
		}
	}
	check("before", "2", "1")
	entriesBefore := fmtEntries(h.bootEntries(t))
	out, _ := h.bootc(t, "rollback")
	if !strings.Contains(out, "Next boot: rollback deployment") {
		t.Errorf("first rollback output:\n%s", out)
	}
	check("after one rollback", "1", "2")
	h.bootc(t, "rollback")
	check("after two rollbacks", "2", "1")
	if got := fmtEntries(h.bootEntries(t)); got != entriesBefore {
		t.Errorf("two rollbacks changed the boot entries:\nbefore:\n%s\nafter:\n%s", entriesBefore, got)
	}
	h.fsck(t)
}
