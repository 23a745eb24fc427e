package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/install/disk"
)

// stepsDisk is the second disk of the VM: an ext4 image labelled BOOTCSTEPS holding an
// OCI layout (the guest's update source, at /run/bootc-test/steps/oci), step.sh (what the
// guest runs at boot) and out/ (what step.sh writes back). The host edits it only while
// qemu is stopped, by loop-mounting it.
type stepsDisk struct {
	image string
	mnt   string
}

// stepsLayoutInGuest is the guest's path of the layout on the steps disk.
const stepsLayoutInGuest = "/run/bootc-test/steps/oci"

// newStepsDisk makes the steps disk from the staging directory src (mkfs.ext4 -d).
func newStepsDisk(t *testing.T, src, image, mnt string) *stepsDisk {
	t.Helper()
	var total int64
	err := filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type().IsRegular() {
			fi, err := de.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Room for ext4's metadata, the outputs and one more small image.
	size := (total+total/8)/disk.MiB + 128
	out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "BOOTCSTEPS", "-E", "root_owner=0:0",
		"-d", src, image, fmt.Sprintf("%dM", size)).CombinedOutput()
	if err != nil {
		t.Fatalf("mkfs.ext4 -d %s %s: %v\n%s", src, image, err, out)
	}
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	return &stepsDisk{image: image, mnt: mnt}
}

// edit loop-mounts the steps disk (read-only unless rw), calls fn with its root and
// unmounts it again; the loop device goes with the unmount (autoclear).
func (s *stepsDisk) edit(t *testing.T, rw bool, fn func(root string)) {
	t.Helper()
	opts := "loop,ro,noload"
	if rw {
		opts = "loop,rw"
	}
	if out, err := exec.Command("mount", "-t", "ext4", "-o", opts, s.image, s.mnt).CombinedOutput(); err != nil {
		t.Fatalf("mounting the steps disk: %v\n%s", err, out)
	}
	unmounted := false
	unmount := func() {
		if unmounted {
			return
		}
		unmounted = true
		if err := disk.Unmount(s.mnt); err != nil {
			t.Errorf("unmounting the steps disk: %v", err)
		}
	}
	defer unmount()
	fn(s.mnt)
	unmount()
}

// stepsLayout returns the layout on the mounted steps disk.
func stepsLayout(root string) ociLayout { return ociLayout(filepath.Join(root, "oci")) }

// prepare writes step.sh for the next boot, empties out/ and moves the layout's tag
// stable to the tag stable names (unless it is "").
func (s *stepsDisk) prepare(t *testing.T, stable, script string) {
	t.Helper()
	s.edit(t, true, func(root string) {
		if stable != "" {
			if err := stepsLayout(root).moveTag("stable", stable); err != nil {
				t.Fatalf("moving tag stable to %s: %v", stable, err)
			}
		}
		if err := os.WriteFile(filepath.Join(root, "step.sh"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.RemoveAll(filepath.Join(root, "out"))
		if err := os.Mkdir(filepath.Join(root, "out"), 0o755); err != nil {
			t.Fatal(err)
		}
	})
}

// outputs reads out/* of the steps disk (what step.sh saved during the last boot); after
// a power cut, replay mounts it read-write so that ext4 replays its journal first.
func (s *stepsDisk) outputs(t *testing.T, replay bool) map[string]string {
	t.Helper()
	res := map[string]string{}
	s.edit(t, replay, func(root string) {
		ents, err := os.ReadDir(filepath.Join(root, "out"))
		if err != nil {
			return
		}
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join(root, "out", e.Name())); err == nil {
				res[e.Name()] = string(b)
			}
		}
	})
	return res
}

// stepScript builds a step.sh: a common prelude, then body. The prelude makes the VM
// power off unless the body reaches its end (a failing step stops the scenario with the
// VM off and the console showing why) and defines:
//
//	run CMD...      print "E2E-RUN: CMD", run it, print "E2E-RC: N"; stop on failure
//	status NAME     save `bootc status --format json` as out/status-NAME.json, print the
//	                human status between E2E-STATUS-BEGIN NAME / E2E-STATUS-END NAME
//	finish ACTION   print E2E-END and leave ACTION (reboot, poweroff) for the marker
func stepScript(boot string, body ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/bash
# Written by tests/e2e for boot %q.
set -u
cd "$BOOTC_TEST_STEPS"
echo poweroff >action
mkdir -p out
echo "E2E-BOOT: %s"
fail() { echo "E2E-FAIL: $*"; exit 1; }
run() {
  echo "E2E-RUN: $*"
  "$@"
  local rc=$?
  echo "E2E-RC: $rc"
  [ $rc -eq 0 ] || fail "$* exited with $rc"
}
status() {
  bootc status --format json >"out/status-$1.json" 2>"out/status-$1.err" || { cat "out/status-$1.err"; fail "bootc status --format json"; }
  echo "E2E-STATUS-BEGIN $1"
  bootc status --format humanreadable 2>&1
  echo "E2E-STATUS-END $1"
}
finish() {
  sync
  echo "E2E-END"
  echo "$1" >action
}
`, boot, boot)
	for _, l := range body {
		b.WriteString(l)
		b.WriteString("\n")
	}
	return b.String()
}
