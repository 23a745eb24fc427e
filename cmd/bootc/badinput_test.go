package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// TestBadInput runs every verb with bad input against a sysroot with one deployment (v1):
// each fails with exit code non-zero and exactly one "error: ..." line on stderr naming the
// problem, and leaves the refs (with their commits), the deployments and the store as they
// were.
func TestBadInput(t *testing.T) {
	if _, err := os.Stat(BootedMarker); err == nil {
		testskip.Skipf(t, "booted", "%s exists: this machine is booted from ostree", BootedMarker)
	}
	h := newTestHost(t)
	work := t.TempDir()
	layout := filepath.Join(work, "oci")
	v1 := writeOCI(t, layout, "v1", bootableImage("1"))
	noKernel := writeOCI(t, layout, "nokernel", storagetest.ImageSpec{
		Layers: [][]storagetest.File{{dir("usr"), dir("usr/bin"), file("usr/bin/true", "#!/bin/sh\n"),
			dir("usr/lib"), file("usr/lib/os-release", "ID=testos\n"), dir("etc"), file("etc/hostname", "x\n")}},
		Labels: map[string]string{"containers.bootc": "1"}})
	v2 := writeOCI(t, layout, "v2", bootableImage("2"))
	h.bootc(t, "switch", "--quiet", "--transport", "oci", v1)
	writeSpec := func(name, content string) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badYAML := writeSpec("bad.yaml", "apiVersion: org.containers.bootc/v1\nspec: [unclosed\n")
	both := writeSpec("both.yaml", `apiVersion: org.containers.bootc/v1
kind: BootcHost
metadata:
  name: host
spec:
  image:
    image: quay.io/example/other:1
    transport: registry
  bootOrder: rollback
`)
	badOrder := writeSpec("order.yaml", `apiVersion: org.containers.bootc/v1
kind: BootcHost
spec:
  image:
    image: `+layout+`:v1
    transport: oci
  bootOrder: sideways
`)
	notSysroot := t.TempDir()

	for _, tc := range []struct {
		name string
		args []string
		want []string
		// noSysroot runs without --sysroot/--storage-root (the running system).
		noSysroot bool
		// notRoot runs as if the user were not root.
		notRoot bool
	}{
		{name: "unknown transport", args: []string{"switch", "--transport", "nosuch", "x"}, want: []string{`"nosuch"`}},
		{name: "malformed name", args: []string{"switch", "Quay.io/UPPER"}, want: []string{"Quay.io/UPPER"}},
		{name: "malformed full reference", args: []string{"switch", "ostree-unverified-registry:"}, want: []string{"ostree-unverified-registry:"}},
		{name: "missing OCI layout", args: []string{"switch", "--quiet", "--transport", "oci", filepath.Join(work, "nosuch") + ":v1"}, want: []string{filepath.Join(work, "nosuch")}},
		{name: "image without a kernel", args: []string{"switch", "--quiet", "--transport", "oci", noKernel}, want: []string{"not bootable", "no kernel"}},
		{name: "switch --apply offline", args: []string{"switch", "--quiet", "--apply", "--transport", "oci", v2}, want: []string{"--apply", "not the booted one"}},
		{name: "upgrade --apply offline", args: []string{"upgrade", "--quiet", "--apply"}, want: []string{"--apply", "not the booted one"}},
		{name: "rollback --apply offline", args: []string{"rollback", "--apply"}, want: []string{"--apply", "not the booted one"}},
		{name: "no rollback", args: []string{"rollback"}, want: []string{"No rollback available"}},
		{name: "upgrade --check --apply", args: []string{"upgrade", "--check", "--apply"}, want: []string{"--check", "--apply"}},
		{name: "upgrade --download-only --check", args: []string{"upgrade", "--download-only", "--check"}, want: []string{"--download-only", "--check"}},
		{name: "upgrade bad tag", args: []string{"upgrade", "--tag", "no/such:tag"}, want: []string{"no/such:tag"}},
		{name: "status --format-version 2", args: []string{"status", "--format-version", "2"}, want: []string{"format version: 2"}},
		{name: "status --format nope", args: []string{"status", "--format", "nope"}, want: []string{`"nope"`, "humanreadable, yaml or json"}},
		{name: "status --json --format yaml", args: []string{"status", "--json", "--format", "yaml"}, want: []string{"--json"}},
		{name: "edit invalid YAML", args: []string{"edit", "-f", badYAML}, want: []string{"yaml"}},
		{name: "edit image and boot order", args: []string{"edit", "-f", both}, want: []string{"Invalid state transition"}},
		{name: "edit bad boot order", args: []string{"edit", "-f", badOrder}, want: []string{"sideways"}},
		{name: "edit missing file", args: []string{"edit", "-f", filepath.Join(work, "nosuch.yaml")}, want: []string{"nosuch.yaml"}},
		{name: "usr-overlay offline", args: []string{"usr-overlay"}, want: []string{"--sysroot"}},
		{name: "unknown verb", args: []string{"nosuchverb"}, want: []string{"nosuchverb"}},
		{name: "not a sysroot", args: []string{"--sysroot", notSysroot, "status"}, want: []string{notSysroot, "not an ostree sysroot"}},
		{name: "not an ostree system: status", args: []string{"status"}, noSysroot: true, want: []string{"not booted from an ostree deployment", BootedMarker, "--sysroot"}},
		{name: "not an ostree system: upgrade", args: []string{"upgrade"}, noSysroot: true, want: []string{"not booted from an ostree deployment"}},
		{name: "not an ostree system: rollback", args: []string{"rollback"}, noSysroot: true, want: []string{"not booted from an ostree deployment"}},
		{name: "not root: switch", args: []string{"switch", "--transport", "oci", v1}, notRoot: true, want: []string{"bootc switch requires root"}},
		{name: "not root: upgrade", args: []string{"upgrade"}, notRoot: true, want: []string{"bootc upgrade requires root"}},
		{name: "not root: rollback", args: []string{"rollback"}, notRoot: true, want: []string{"bootc rollback requires root"}},
		{name: "not root: edit", args: []string{"edit", "-f", both}, notRoot: true, want: []string{"bootc edit requires root"}},
		{name: "not root: usr-overlay", args: []string{"usr-overlay"}, notRoot: true, want: []string{"bootc usr-overlay requires root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.notRoot {
				saved := geteuid
				geteuid = func() int { return 1000 }
				t.Cleanup(func() { geteuid = saved })
			}
			before := h.fullState(t)
			var code int
			var out, errs string
			if tc.noSysroot {
				code, out, errs = bootc(t, tc.args...)
			} else {
				code, out, errs = h.try(t, tc.args...)
			}
			t.Logf("bootc %s: %s", strings.Join(tc.args, " "), errs)
			checkOneLineError(t, code, out, errs, tc.want...)
			if after := h.fullState(t); after != before {
				t.Fatalf("changed the sysroot, repo or store:\n--- before\n%s\n--- after\n%s", before, after)
			}
		})
	}
	h.fsck(t)
}
