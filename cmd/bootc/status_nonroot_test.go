package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unprivileged runs bin with args as uid and gid 65534 (nobody) with no supplementary
// groups, and returns the exit code, stdout and stderr.
func unprivileged(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("needs setpriv (util-linux) to run bootc unprivileged: %v", err)
	}
	cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--", bin}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent"}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s unprivileged: %v", bin, err)
	}
	return code, out.String(), errb.String()
}

// readableBy opens p and its parent directories to everyone (test directories are 0700).
func readableBy(t *testing.T, p string) {
	t.Helper()
	for d := p; d != "/" && d != "."; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			_ = os.Chmod(d, fi.Mode().Perm()|0o055)
		}
	}
}

// TestStatusUnprivileged is issue 12 item 4 (upstream tmt readonly 003 runs bootc as
// a dynamic user): the built binary run as nobody prints help, answers `status` from a
// readable sysroot (read-only, no mount namespace), refuses the mutating verbs with a
// clear message, and fails with a clear one-line error, not a bare "Permission denied",
// when the sysroot is not readable.
func TestStatusUnprivileged(t *testing.T) {
	h := newTestHost(t)
	r := startRegistry(t)
	v1 := r.push(t, bootableImage("1"), "latest")
	h.bootc(t, "switch", "--quiet", r.name("latest"))
	bin := buildBootc(t)
	readableBy(t, bin)
	readableBy(t, h.sysroot)

	code, out, errs := unprivileged(t, bin, "--help")
	if code != 0 || !strings.Contains(out, "status") {
		t.Errorf("--help as nobody: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = unprivileged(t, bin, "--sysroot", h.sysroot, "status", "--format", "json")
	if code != 0 || errs != "" || !strings.Contains(out, `"imageDigest":"`+v1.ManifestDigest.String()+`"`) {
		t.Errorf("status as nobody: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = unprivileged(t, bin, "--sysroot", h.sysroot, "upgrade")
	checkOneLineError(t, code, out, errs, "bootc upgrade requires root privileges")

	// The repository's objects readable by root only: a clear error naming the cause.
	objects := filepath.Join(h.sysroot, "ostree", "repo", "objects")
	fi, err := os.Stat(objects)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(objects, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(objects, fi.Mode().Perm()) })
	code, out, errs = unprivileged(t, bin, "--sysroot", h.sysroot, "status", "--format", "json")
	checkOneLineError(t, code, out, errs, "bootc status as a non-root user cannot read the sysroot (run it as root)", "ermission denied")
	if out != "" {
		t.Errorf("failed status printed %q", out)
	}
}
