package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/ostree/ostreetest"
)

// TestInstallFinalize: install finalize ROOT_PATH refuses, with one line naming the object
// at fault, a missing target, the running root filesystem, a directory that is not an
// ostree sysroot, a sysroot without deployments (upstream's "Failed to find deployment"),
// a deployment whose boot entry is gone and one whose kernel is missing from /boot; a
// complete sysroot is synced and remounted read-only.
func TestInstallFinalize(t *testing.T) {
	ostreetest.RequireRoot(t)
	deployed := func(t *testing.T) string {
		h := newTestHost(t)
		h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, filepath.Join(t.TempDir(), "oci"), "v1", bootableImage("1")))
		return h.sysroot
	}
	for _, c := range []struct {
		name  string
		setup func(t *testing.T) string
		wants []string // in the one-line error; none: success
	}{
		{name: "missing target", setup: func(t *testing.T) string { return filepath.Join(t.TempDir(), "nothing") },
			wants: []string{"nothing", "no such file"}},
		{name: "running root filesystem", setup: func(*testing.T) string { return "/" },
			wants: []string{"/ is on the running system's root filesystem"}},
		{name: "not a sysroot", setup: func(t *testing.T) string { return ostreetest.TmpfsDir(t, 16) },
			wants: []string{"is not an ostree sysroot (no ostree/repo)"}},
		{name: "no deployment", setup: func(t *testing.T) string {
			root := ostreetest.TmpfsDir(t, 64)
			for _, args := range [][]string{{"admin", "init-fs", "--modern", root}, {"admin", "--sysroot=" + root, "os-init", "default"}} {
				if out, err := exec.Command("ostree", args...).CombinedOutput(); err != nil {
					t.Fatalf("ostree %v: %v\n%s", args, err, out)
				}
			}
			return root
		}, wants: []string{"Failed to find deployment in"}},
		{name: "boot entry gone", setup: func(t *testing.T) string {
			root := deployed(t)
			entries, _ := filepath.Glob(filepath.Join(root, "boot/loader/entries/*.conf"))
			for _, e := range entries {
				if err := os.Remove(e); err != nil {
					t.Fatal(err)
				}
			}
			return root
		}, wants: []string{"Failed to find deployment in", "no boot entries in", "boot/loader/entries"}},
		{name: "kernel missing", setup: func(t *testing.T) string {
			root := deployed(t)
			kernels, _ := filepath.Glob(filepath.Join(root, "boot/ostree/*/vmlinuz*"))
			if len(kernels) == 0 {
				t.Fatal("no kernel under boot/ostree")
			}
			for _, k := range kernels {
				if err := os.Remove(k); err != nil {
					t.Fatal(err)
				}
			}
			return root
		}, wants: []string{"boot entry", "linux", "vmlinuz", "is missing from"}},
		{name: "complete", setup: deployed},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := c.setup(t)
			code, out, errs := bootc(t, "install", "finalize", root)
			if len(c.wants) > 0 {
				checkOneLineError(t, code, out, errs, append(c.wants, root)...)
				return
			}
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			t.Cleanup(func() {
				if err := unix.Mount("", root, "", unix.MS_REMOUNT, ""); err != nil {
					t.Errorf("remounting %s read-write: %v", root, err)
				}
			})
			for _, w := range []string{"Checked 1 deployments", "remounted read-only: " + root, "Installation finalized."} {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if err := os.WriteFile(filepath.Join(root, "probe"), nil, 0o644); !errors.Is(err, unix.EROFS) {
				t.Errorf("writing to the finalized root: %v, want EROFS", err)
			}
		})
	}
}
