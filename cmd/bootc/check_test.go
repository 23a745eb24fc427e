package main

import (
	"strings"
	"testing"
)

// TestUpgradeCheckCachedUpdate (upstream tmt 37): `upgrade --check` finds the moved tag, prints the new
// version and digest, changes no ref, deployment or store image, and records the update so
// that status shows it as the booted entry's cachedUpdate; `upgrade --download-only` is
// refused on an offline sysroot without changing anything; the real upgrade deploys the
// update and clears cachedUpdate; a check then finds nothing. As upstream: no cachedUpdate
// before the check, the human status shows UpdateVersion and UpdateDigest, and a second
// check after the tag moved again replaces the cached update with the newer one.
func TestUpgradeCheckCachedUpdate(t *testing.T) {
	h := newTestHost(t)
	r := startRegistry(t)
	names := map[string]string{}
	v1 := r.push(t, bootableImage("1"), "latest")
	h.bootc(t, "switch", "--quiet", r.name("latest"))
	if c := h.status(t).Status.Booted.CachedUpdate; c != nil {
		t.Fatalf("cachedUpdate before any check: %+v", c)
	}
	v2 := r.push(t, bootableImage("2"), "latest")

	before := h.fullState(t)
	for i := 0; i < 2; i++ { // twice: the same answer, nothing else recorded
		out, _ := h.bootc(t, "upgrade", "--check")
		for _, want := range []string{"Update available for: ostree-unverified-registry:" + r.name("latest"),
			"Version: 2", "Digest: " + v2.ManifestDigest.String()} {
			if !strings.Contains(out, want) {
				t.Fatalf("upgrade --check output lacks %q:\n%s", want, out)
			}
		}
		if after := h.fullState(t); after != before {
			t.Fatalf("upgrade --check changed refs, deployments or the store:\n--- before\n%s\n--- after\n%s", before, after)
		}
	}
	st := h.status(t)
	if c := st.Status.Booted.CachedUpdate; c == nil || c.ImageDigest != v2.ManifestDigest.String() || c.Version == nil || *c.Version != "2" {
		t.Fatalf("cachedUpdate = %+v, want v2 (%s)", c, v2.ManifestDigest)
	}
	if st.Status.Booted.Image.ImageDigest != v1.ManifestDigest.String() {
		t.Fatalf("booted image is not v1 after --check: %+v", st.Status.Booted.Image)
	}
	h.checkStatus(t, "check-1-cached.json", names, "", "")
	checkHumanUpdate := func(version, digest string) {
		t.Helper()
		human, _ := h.bootc(t, "status", "--format", "humanreadable")
		for _, want := range []string{"UpdateVersion: " + version, "UpdateDigest: " + digest} {
			if !strings.Contains(human, want) {
				t.Errorf("human status lacks %q:\n%s", want, human)
			}
		}
	}
	checkHumanUpdate("2", v2.ManifestDigest.String())

	// The tag moves again: the next check caches v3 instead.
	v3 := r.push(t, bootableImage("3"), "latest")
	h.bootc(t, "upgrade", "--check")
	if c := h.status(t).Status.Booted.CachedUpdate; c == nil || c.ImageDigest != v3.ManifestDigest.String() || c.Version == nil || *c.Version != "3" {
		t.Fatalf("cachedUpdate after the second check = %+v, want v3 (%s)", c, v3.ManifestDigest)
	}
	checkHumanUpdate("3", v3.ManifestDigest.String())
	// Back to v2 for the rest (the golden files name v2).
	r.push(t, bootableImage("2"), "latest")
	h.bootc(t, "upgrade", "--check")
	before = h.fullState(t)

	// --download-only stages for later: not possible offline.
	code, out, errs := h.try(t, "upgrade", "--download-only")
	checkOneLineError(t, code, out, errs, "--download-only needs a booted system")
	if after := h.fullState(t); after != before {
		t.Fatalf("refused upgrade --download-only changed the sysroot:\n--- before\n%s\n--- after\n%s", before, after)
	}

	out, _ = h.bootc(t, "upgrade", "--quiet")
	if !strings.Contains(out, "Digest: "+v2.ManifestDigest.String()) {
		t.Fatalf("upgrade output:\n%s", out)
	}
	// Neither v2 (booted next) nor v1 (rollback) has a cachedUpdate any more.
	h.checkStatus(t, "check-2-upgraded.json", names, "", "")

	out, _ = h.bootc(t, "upgrade", "--check")
	if !strings.Contains(out, "No changes in: ostree-unverified-registry:"+r.name("latest")) {
		t.Fatalf("upgrade --check after the upgrade:\n%s", out)
	}
	if c := h.status(t).Status.Booted.CachedUpdate; c != nil {
		t.Fatalf("cachedUpdate after a check without update: %+v", c)
	}
}
