package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/install/disk/disktest"
	"github.com/bootc-go/bootc/internal/install/installtest"
	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage/storagetest"
	"github.com/bootc-go/bootc/tests/image/testimage"
)

func init() {
	// Verbs run in-process here: install to-disk must not re-execute the test binary.
	installReexec = false
}

// installEnv is a containers-storage root and a policy for install tests.
type installEnv struct {
	layout, storage string
}

func newInstallEnv(t *testing.T) *installEnv {
	t.Helper()
	installtest.RequireRoot(t)
	for _, tool := range []string{"mkfs.ext4", "ostree"} {
		if _, err := exec.LookPath(tool); err != nil {
			testskip.Skipf(t, "tool:"+tool, "needs %s: %v", tool, err)
		}
	}
	work := t.TempDir()
	e := &installEnv{layout: filepath.Join(work, "oci"), storage: filepath.Join(work, "storage")}
	t.Setenv("CONTAINERS_POLICY_JSON", installtest.Policy(t))
	t.Cleanup(func() { removeStore(t, e.storage) })
	return e
}

// removeStore removes a test store (its overlay mounts first).
func removeStore(t *testing.T, dir string) {
	if out, err := exec.Command("sh", "-c", `grep -o " $0[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l; rm -rf "$0"`, dir).CombinedOutput(); err != nil {
		t.Errorf("removing %s: %v: %s", dir, err, out)
	}
}

// installStatus is the part of `bootc status --format json` the install tests check.
type installStatus struct {
	Spec struct {
		Image struct {
			Image, Transport string
		}
	}
	Status struct {
		Booted *struct {
			Image struct {
				Image struct {
					Image, Transport string
				}
				ImageDigest string
				Version     string
			}
			Ostree struct {
				Stateroot string
				Checksum  string
			}
		}
		Rollback *json.RawMessage
		Staged   *json.RawMessage
	}
}

// checkInstalledStatus mounts an installed disk image and checks what ostree and bootc
// say about it: one deployment, whose origin follows wantImage (transport:name) and whose
// image has digest.
func checkInstalledStatus(t *testing.T, diskPath, transport, name, digest string) {
	t.Helper()
	root := installtest.MountInstalled(t, diskPath)
	out, err := exec.Command("ostree", "admin", "--sysroot="+root, "status").CombinedOutput()
	if err != nil {
		t.Fatalf("ostree admin status: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), " default "); n != 1 {
		t.Errorf("ostree admin status shows %d deployments, want 1:\n%s", n, out)
	}
	origins, _ := filepath.Glob(filepath.Join(root, "ostree/deploy/default/deploy/*.origin"))
	if len(origins) != 1 {
		t.Fatalf("origin files: %v", origins)
	}
	origin, _ := os.ReadFile(origins[0])
	want := "container-image-reference=ostree-unverified-image:" + transport + ":" + name + "\n"
	if transport == "registry" {
		want = "container-image-reference=ostree-unverified-registry:" + name + "\n"
	}
	if !strings.Contains(string(origin), want) {
		t.Errorf("origin:\n%s\nwant %s", origin, want)
	}
	code, js, errs := bootc(t, "status", "--sysroot", root, "--format", "json")
	if code != 0 {
		t.Fatalf("bootc status: exit %d\n%s", code, errs)
	}
	var st installStatus
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("bootc status: %v\n%s", err, js)
	}
	b := st.Status.Booted
	if b == nil || b.Image.ImageDigest != digest || b.Image.Image.Image != name || b.Image.Image.Transport != transport ||
		st.Spec.Image.Image != name || st.Status.Rollback != nil || st.Status.Staged != nil {
		t.Errorf("bootc status does not show %s:%s (%s) as the only deployment:\n%s", transport, name, digest, js)
	}
	code, human, _ := bootc(t, "status", "--sysroot", root, "--format", "humanreadable")
	if code != 0 || !strings.Contains(human, digest) || !strings.Contains(human, name) {
		t.Errorf("bootc status (human) does not show the image and its digest:\n%s", human)
	}
}

// TestInstallToDiskStatus installs a fixture image (fake kernel, no bootloader) through the
// CLI and checks ostree's and bootc's view of the installed sysroot.
func TestInstallToDiskStatus(t *testing.T) {
	e := newInstallEnv(t)
	img := installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"))
	diskPath := installtest.SparseFile(t, 2*disk.GiB)
	code, out, errs := runBootc(t, "--storage-root", e.storage, "install", "to-disk", "--via-loopback",
		"--source-imgref", img.Reference(), "--filesystem", "ext4", "--bootloader", "none", diskPath)
	if code != 0 {
		t.Fatalf("install: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out, "Installation complete!") || !strings.Contains(out, img.ManifestDigest.String()) {
		t.Errorf("install output:\n%s", out)
	}
	installtest.CheckNoLeftovers(t, diskPath, "")
	checkInstalledStatus(t, diskPath, "oci", e.layout+":v1", img.ManifestDigest.String())
}

// TestInstallToFilesystemCLI installs a fixture image into a mounted tmpfs through the CLI
// (mount specs given, as tmpfs has no UUID), with root's SSH keys and a stateroot, and checks
// bootc's view of it.
func TestInstallToFilesystemCLI(t *testing.T) {
	e := newInstallEnv(t)
	img := installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"))
	root := ostreetest.TmpfsDir(t, 256)
	keys := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(keys, []byte("ssh-ed25519 AAAA test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := bootc(t, "--storage-root", e.storage, "install", "to-filesystem", "--source-imgref", img.Reference(),
		"--target-imgref", "quay.io/example/os:1", "--root-mount-spec", "LABEL=root", "--bootloader", "none",
		"--stateroot", "os1", "--karg", "console=ttyS0,115200n8", "--root-ssh-authorized-keys", keys, "--skip-finalize", root)
	if code != 0 {
		t.Fatalf("install: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, js, errs := bootc(t, "status", "--sysroot", root, "--format", "json")
	if code != 0 {
		t.Fatalf("bootc status: exit %d\n%s", code, errs)
	}
	var st installStatus
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatal(err)
	}
	if b := st.Status.Booted; b == nil || b.Image.Image.Image != "quay.io/example/os:1" || b.Image.Image.Transport != "registry" ||
		b.Image.ImageDigest != img.ManifestDigest.String() || b.Ostree.Stateroot != "os1" {
		t.Errorf("bootc status:\n%s", js)
	}
	entries, _ := filepath.Glob(filepath.Join(root, "boot/loader/entries/*.conf"))
	if len(entries) != 1 {
		t.Fatalf("boot entries: %v", entries)
	}
	entry, _ := os.ReadFile(entries[0])
	if !strings.Contains(string(entry), "options root=LABEL=root rw console=ttyS0,115200n8 ostree=") {
		t.Errorf("boot entry:\n%s", entry)
	}
	tmpfiles, _ := filepath.Glob(filepath.Join(root, "ostree/deploy/os1/deploy/*/etc/tmpfiles.d/bootc-root-ssh.conf"))
	if len(tmpfiles) != 1 {
		t.Errorf("bootc-root-ssh.conf: %v", tmpfiles)
	}
	// Issue 10 item 1: the deployment ref (ostree/B/S/N) keeps the installed commit from a
	// later prune by refs; install used to write none.
	if refs := ostreetest.CLI(t, "--repo="+filepath.Join(root, "ostree/repo"), "refs"); !regexp.MustCompile(`(?m)^ostree/[01]/[01]/0$`).MatchString(refs) {
		t.Errorf("no deployment ref after install:\n%s", refs)
	}
}

// TestInstallKargDelete (upstream tmt 40): install to-filesystem --karg-delete removes
// kernel arguments the image's kargs.d and its install configuration add: a bare key
// removes the argument whatever its value (localtestkarg=somevalue, foo=bar), KEY=VALUE only
// that exact argument; the boot entry keeps the others.
func TestInstallKargDelete(t *testing.T) {
	e := newInstallEnv(t)
	img := installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"),
		installtest.ConfigLayer([]string{"localtestkarg=somevalue", "keep.me=1", "exact=2"}, "[install]\nkargs = [\"foo=bar\"]\n"))
	root := ostreetest.TmpfsDir(t, 256)
	code, out, errs := bootc(t, "--storage-root", e.storage, "install", "to-filesystem", "--source-imgref", img.Reference(),
		"--root-mount-spec", "LABEL=root", "--bootloader", "none", "--skip-finalize",
		"--karg-delete", "localtestkarg", "--karg-delete", "foo", "--karg-delete", "exact=3", root)
	if code != 0 {
		t.Fatalf("install: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	entries, _ := filepath.Glob(filepath.Join(root, "boot/loader/entries/*.conf"))
	if len(entries) != 1 {
		t.Fatalf("boot entries: %v", entries)
	}
	b, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	var options []string
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "options "); ok {
			options = strings.Fields(rest)
		}
	}
	for _, tc := range []struct {
		arg  string
		want bool
	}{{"localtestkarg=somevalue", false}, {"foo=bar", false}, {"keep.me=1", true}, {"exact=2", true}, {"root=LABEL=root", true}} {
		if got := slices.Contains(options, tc.arg); got != tc.want {
			t.Errorf("boot entry options contain %s: %v, want %v\n%s", tc.arg, got, tc.want, b)
		}
	}
	for _, o := range options {
		if strings.HasPrefix(o, "localtestkarg") || strings.HasPrefix(o, "foo") {
			t.Errorf("boot entry options still have %s:\n%s", o, b)
		}
	}
}

// TestInstallCLIRefusals checks command-line errors: one line, exit 1 (2 for usage), the
// disk untouched.
func TestInstallCLIRefusals(t *testing.T) {
	e := newInstallEnv(t)
	img := installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"))
	partitioned := installtest.SparseFile(t, 2*disk.GiB)
	d, err := disk.Open(partitioned, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreatePartitions(disk.NewLayout(disk.LayoutOptions{}), false); err != nil {
		t.Fatal(err)
	}
	d.Close()
	before := disktest.Digest(t, partitioned)
	common := []string{"--storage-root", e.storage, "install", "to-disk", "--via-loopback", "--filesystem", "ext4"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"partition table", []string{"--source-imgref", img.Reference(), partitioned}, 1, "use --wipe to overwrite it"},
		{"no source", []string{partitioned}, 2, "--source-imgref"},
		{"no transport", []string{"--source-imgref", "quay.io/example/os:1", partitioned}, 1, "give the transport"},
		{"grub", []string{"--wipe", "--bootloader", "grub", "--source-imgref", img.Reference(), partitioned}, 1, "--bootloader grub: image " + img.Reference() + " lacks /usr/sbin/grub-mkconfig"},
		{"systemd-boot", []string{"--bootloader", "systemd", "--source-imgref", img.Reference(), partitioned}, 1, `bootloader "systemd" is not supported`},
		{"block setup", []string{"--block-setup", "tpm2-luks", "--source-imgref", img.Reference(), partitioned}, 1, "not supported"},
		{"root size", []string{"--root-size", "lots", "--source-imgref", img.Reference(), partitioned}, 1, "--root-size"},
		{"not a file", []string{"--source-imgref", img.Reference(), t.TempDir()}, 1, "needs a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := bootc(t, append(common, tc.args...)...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errs, tc.code, tc.want)
			}
			// The error is one line, the last (a refusal after the pull follows its progress).
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			if tc.code == 1 && !strings.Contains(errs, "level=") && (strings.Count(errs, "error:") != 1 || !strings.HasPrefix(lines[len(lines)-1], "error: ")) {
				t.Errorf("error is not one line:\n%s", errs)
			}
		})
	}
	code, _, errs := bootc(t, "--sysroot", t.TempDir(), "install", "to-filesystem", "--source-imgref", img.Reference(), t.TempDir())
	if code != 1 || !strings.Contains(errs, "--sysroot does not apply") {
		t.Errorf("--sysroot: exit %d\n%s", code, errs)
	}
	if disktest.Digest(t, partitioned) != before {
		t.Errorf("a refused install changed %s", partitioned)
	}
	installtest.CheckNoLeftovers(t, partitioned, "")
}

// builtBootc builds this command into the test's temporary directory.
func builtBootc(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootc")
	out, err := exec.Command("go", "build", "-tags", "containers_image_openpgp exclude_graphdriver_btrfs", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBootc runs the built bootc binary (install to-disk then runs in its own mount
// namespace, as in production) and returns its exit code, stdout and stderr.
func runBootc(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(builtBootc(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running bootc: %v", err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

// TestInstallInterrupted sends SIGTERM to `bootc install to-disk` while it imports the
// image: it must exit with an error naming the step and leave nothing mounted and no loop
// device attached to the disk image, whether it runs in its own mount namespace (the
// default) or in the caller's (BOOTC_SKIP_UNSHARE=1).
func TestInstallInterrupted(t *testing.T) {
	e := newInstallEnv(t)
	// Enough content that the import takes a while: 24 distinct files of 16 MiB (zeros,
	// so the layout stays small).
	big := installtest.Dirs("usr/share/big")
	for i := range 24 {
		content := make([]byte, 16<<20)
		copy(content, fmt.Sprintf("file %d\n", i))
		big = append(big, storagetest.File{Path: fmt.Sprintf("usr/share/big/%02d", i), Content: content})
	}
	img := installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"), big)
	bin := builtBootc(t)
	for _, tc := range []struct {
		name string
		env  []string
	}{{"private namespace", nil}, {"caller's namespace", []string{"BOOTC_SKIP_UNSHARE=1"}}} {
		t.Run(tc.name, func(t *testing.T) {
			diskPath := installtest.SparseFile(t, 4*disk.GiB)
			mountsBefore, _ := os.ReadDir("/run/bootc/mounts")
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			cmd := exec.Command(bin, "--storage-root", e.storage, "install", "to-disk", "--via-loopback",
				"--bootloader", "none", "--filesystem", "ext4", "--source-imgref", img.Reference(), "--progress-fd", "3", diskPath)
			cmd.ExtraFiles = []*os.File{w}
			cmd.Env = append(os.Environ(), tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			signalled := make(chan bool, 1)
			go func() {
				sent := false
				sc := bufio.NewScanner(r)
				sc.Buffer(make([]byte, 1<<20), 16<<20)
				for sc.Scan() {
					if !sent && strings.Contains(sc.Text(), `"task":"importing"`) {
						sent = cmd.Process.Signal(syscall.SIGTERM) == nil
					}
				}
				signalled <- sent
			}()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var werr error
			select {
			case werr = <-done:
			case <-time.After(3 * time.Minute):
				cmd.Process.Kill()
				t.Fatalf("install did not end\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
			}
			if !<-signalled {
				t.Fatalf("the install never reported the importing task (exit: %v)\nstdout:\n%s\nstderr:\n%s", werr, &stdout, &stderr)
			}
			if werr == nil || !strings.Contains(stderr.String(), "error: install: importing oci:") {
				t.Errorf("exit %v, want an error naming the import\nstdout:\n%s\nstderr:\n%s", werr, &stdout, &stderr)
			}
			installtest.CheckNoLeftovers(t, diskPath, "")
			if m := installtest.MountsOf("/run/bootc/mounts"); len(m) > 0 {
				t.Errorf("still mounted: %v", m)
			}
			mountsAfter, _ := os.ReadDir("/run/bootc/mounts")
			if len(mountsAfter) > len(mountsBefore) {
				t.Errorf("mount directories left in /run/bootc/mounts: %v (before: %v)", mountsAfter, mountsBefore)
			}
		})
	}
}

// TestInstallToDiskBoots installs the project's bootable test image to a disk image with
// --bootloader extlinux (the image ships GRUB too, the default, which tests/e2e boots) and
// boots it in qemu through that bootloader (no -kernel) up to the image's marker on the
// serial console.
func TestInstallToDiskBoots(t *testing.T) {
	installtest.RequireRoot(t)
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		testskip.Skip(t, "qemu", "needs qemu-system-x86_64 (Debian package qemu-system-x86)")
	}
	imgs := testimage.Build(t)
	e := newInstallEnv(t)
	diskPath := installtest.SparseFile(t, 4*disk.GiB)
	start := time.Now()
	code, out, errs := runBootc(t, "--storage-root", e.storage, "install", "to-disk", "--via-loopback",
		"--source-imgref", imgs.Ref("v1"), "--filesystem", "ext4", "--bootloader", "extlinux", diskPath)
	if code != 0 {
		t.Fatalf("install: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("installed in %s:\n%s", time.Since(start).Round(time.Second), out)
	if !strings.Contains(out, "Bootloader: extlinux") {
		t.Errorf("the bootloader is not extlinux:\n%s", out)
	}
	installtest.CheckNoLeftovers(t, diskPath, "")
	if d, err := disk.Open(diskPath, disk.Options{ReadOnly: true}); err != nil {
		t.Error(err)
	} else {
		table, err := d.ReadTable()
		d.Close()
		if err != nil {
			t.Error(err)
		} else if p := table.Partition(installtest.BootPartition); p == nil || p.Name != "boot" ||
			p.Attributes&disk.AttrLegacyBIOSBootable == 0 || !table.PMBRBootable || len(table.BootCode) == 0 {
			t.Errorf("partition table not set up for syslinux's gptmbr.bin: %+v", table)
		}
	}
	t.Run("status", func(t *testing.T) {
		checkInstalledStatus(t, diskPath, "oci", imgs.Layout+":v1", imgs.Digests["v1"])
	})
	start = time.Now()
	log := bootDisk(t, qemu, diskPath, "BOOTC-TEST-MARKER version=1", 180*time.Second)
	t.Logf("booted to the marker in %s", time.Since(start).Round(time.Second))
	if !strings.Contains(log, "BOOTC-TEST-CMDLINE: ") || !strings.Contains(log, "console=ttyS0,115200n8") {
		t.Errorf("kernel command line missing or without the image's kargs.d:\n%s", tail(log, 40))
	}
}

// bootDisk boots diskPath in qemu (TCG) and waits until the serial console shows marker
// and the line after it (the marker service's kernel command line), then stops qemu and
// returns the console log. It fails the test with the log's tail when
// the marker does not come within timeout.
func bootDisk(t *testing.T, qemu, diskPath, marker string, timeout time.Duration) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "serial.log")
	cmd := exec.Command(qemu, "-accel", "tcg", "-m", "1536", "-smp", "2", "-nographic", "-no-reboot",
		"-nic", "none", "-drive", "file="+diskPath+",format=raw,if=virtio", "-serial", "file:"+logPath,
		"-monitor", "none")
	var qout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &qout, &qout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	seen := func(log string) bool {
		i := strings.Index(log, marker)
		return i >= 0 && cmdlineLine.MatchString(log[i:])
	}
	deadline := time.After(timeout)
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			if seen(string(b)) {
				return string(b)
			}
			t.Fatalf("qemu exited (%v) before %q\nqemu: %s\nserial console (tail):\n%s", err, marker, &qout, tail(string(b), 60))
		case <-deadline:
			stop()
			b, _ := os.ReadFile(logPath)
			t.Fatalf("no %q on the serial console within %s\nserial console (tail):\n%s", marker, timeout, tail(string(b), 60))
		case <-time.After(500 * time.Millisecond):
			b, _ := os.ReadFile(logPath)
			if seen(string(b)) {
				stop()
				return string(b)
			}
		}
	}
}

// cmdlineLine is the marker service's complete kernel command line line.
var cmdlineLine = regexp.MustCompile(`BOOTC-TEST-CMDLINE: [^\n]*\n`)

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
