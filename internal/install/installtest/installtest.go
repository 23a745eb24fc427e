// Package installtest holds test helpers for bootc install: bootable fixture images with a
// fake kernel, mounting the partitions of an installed disk image, and checks that an
// install left no mount or loop device behind (digesting a disk image is
// disktest.Digest). It lives in a non-test file so that the
// tests of internal/install and cmd/bootc can share it.
package installtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/install/disk/disktest"
	"github.com/bootc-go/bootc/storage/storagetest"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// Partition numbers of the layout install to-disk writes.
const (
	BootPartition = 1
	RootPartition = 2
)

// RequireRoot skips the test unless it runs as root with loop device support.
func RequireRoot(t testing.TB) {
	t.Helper()
	disktest.RequireRoot(t, "loop devices, mounts, deployments")
}

// TreeLayer is the bootable tree fixtures.BootableTree(version), with a fake kernel, as a
// layer, with its usr/etc moved to etc where an image has it.
func TreeLayer(version string) []storagetest.File {
	var out []storagetest.File
	for _, e := range fixtures.BootableTree(version) {
		f := storagetest.File{Path: e.Path, Mode: int64(e.Mode.Perm()) | int64(e.Mode)&0o7000, UID: e.UID, GID: e.GID}
		switch e.Kind {
		case fixtures.Dir:
			f.Type, f.Path = '5', e.Path+"/"
		case fixtures.Symlink:
			f.Type, f.Linkname = '2', e.Target
		default:
			f.Content = e.Data()
		}
		if strings.HasPrefix(f.Path, "usr/etc") {
			f.Path = strings.Replace(f.Path, "usr/etc", "etc", 1)
		}
		out = append(out, f)
	}
	return out
}

// BaseLayer is [TreeLayer] plus the toplevel directories a real image has.
func BaseLayer(version string) []storagetest.File {
	out := TreeLayer(version)
	for _, d := range []string{"boot/", "dev/", "proc/", "sys/", "run/", "tmp/", "sysroot/"} {
		out = append(out, storagetest.File{Path: d, Type: '5', Mode: 0o755})
	}
	out = append(out,
		storagetest.File{Path: "ostree", Type: '2', Linkname: "sysroot/ostree"},
		storagetest.File{Path: "root", Type: '2', Linkname: "var/roothome"},
		storagetest.File{Path: "etc/fstab", Mode: 0o644, Content: []byte("# UNCONFIGURED FSTAB\n")})
	return out
}

// Dirs returns directory entries for each path and its parents, parents first.
func Dirs(paths ...string) []storagetest.File {
	seen := map[string]bool{}
	var out []storagetest.File
	for _, p := range paths {
		parts := strings.Split(strings.Trim(p, "/"), "/")
		for i := range parts {
			d := strings.Join(parts[:i+1], "/")
			if !seen[d] {
				seen[d] = true
				out = append(out, storagetest.File{Path: d + "/", Type: '5', Mode: 0o755})
			}
		}
	}
	return out
}

// ConfigLayer is a layer with kargs.d (kargs) and an install config drop-in (installTOML,
// the file's whole content; empty: none).
func ConfigLayer(kargs []string, installTOML string) []storagetest.File {
	out := Dirs("usr/lib/bootc/kargs.d", "usr/lib/bootc/install")
	if len(kargs) > 0 {
		out = append(out, storagetest.File{Path: "usr/lib/bootc/kargs.d/10-test.toml", Mode: 0o644,
			Content: []byte(`kargs = ["` + strings.Join(kargs, `", "`) + `"]` + "\n")})
	}
	if installTOML != "" {
		out = append(out, storagetest.File{Path: "usr/lib/bootc/install/50-test.toml", Mode: 0o644, Content: []byte(installTOML)})
	}
	return out
}

// WriteImage writes an image of layers into the OCI layout dir under tag, with the labels of
// a bootc image.
func WriteImage(t testing.TB, dir, tag, version string, layers ...[]storagetest.File) *storagetest.Image {
	t.Helper()
	img, err := storagetest.WriteOCI(dir, tag, storagetest.ImageSpec{Layers: layers,
		Labels: map[string]string{"containers.bootc": "1", "org.opencontainers.image.version": version}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Policy writes a policy.json accepting anything and returns its path.
func Policy(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(p, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// SparseFile creates a sparse file of size bytes in a new temporary directory.
func SparseFile(t testing.TB, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(p)
	if err == nil {
		err = f.Truncate(size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// MountInstalled mounts the root and /boot partitions of a disk image written by install
// to-disk on a new temporary directory (root there, /boot at boot/) and returns it; they are
// unmounted and their loop devices detached at the end of the test.
func MountInstalled(t testing.TB, diskPath string) string {
	t.Helper()
	d, err := disk.Open(diskPath, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mounts disk.Cleanup
	t.Cleanup(func() {
		if err := mounts.Run(); err != nil {
			t.Errorf("unmounting %s: %v", diskPath, err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("closing %s: %v", diskPath, err)
		}
	})
	mnt, err := os.MkdirTemp("", "bootc-installed-")
	if err != nil {
		t.Fatal(err)
	}
	mounts.Push("remove "+mnt, func() error { return os.Remove(mnt) })
	ctx := context.Background()
	rootDev, err := d.PartitionDevice(ctx, RootPartition)
	if err != nil {
		t.Fatal(err)
	}
	bootDev, err := d.PartitionDevice(ctx, BootPartition)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ dev, dir string }{{rootDev, mnt}, {bootDev, filepath.Join(mnt, "boot")}} {
		info, err := disk.Probe(m.dev)
		if err != nil {
			t.Fatal(err)
		}
		if err := mounts.Mount(m.dev, m.dir, info.Type, 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	return mnt
}

// LoopDevicesBackedBy lists the loop devices whose backing file is path.
func LoopDevicesBackedBy(path string) []string {
	abs, _ := filepath.Abs(path)
	matches, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	var out []string
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		if strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)") == abs {
			out = append(out, strings.Split(m, "/")[3])
		}
	}
	return out
}

// MountsOf lists the mount points in /proc/self/mountinfo whose mount point is under dir or
// whose source is one of devs; a failure to read mountinfo is returned as the only entry.
func MountsOf(dir string, devs ...string) []string {
	out, err := disktest.MountsUnder(dir, devs...)
	if err != nil {
		return []string{err.Error()}
	}
	return out
}

// CheckNoLeftovers fails the test when a loop device is still attached to diskPath or
// something is still mounted under mountDir.
func CheckNoLeftovers(t testing.TB, diskPath, mountDir string) {
	t.Helper()
	// The kernel detaches an autoclear loop device asynchronously after its last user.
	loops := LoopDevicesBackedBy(diskPath)
	for deadline := time.Now().Add(5 * time.Second); len(loops) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		loops = LoopDevicesBackedBy(diskPath)
	}
	var devs []string
	for _, l := range loops {
		devs = append(devs, "/dev/"+l)
	}
	if len(loops) > 0 {
		t.Errorf("loop devices still attached to %s: %v", diskPath, loops)
	}
	if m := MountsOf(mountDir, devs...); len(m) > 0 {
		t.Errorf("still mounted: %v", m)
	}
	if mountDir != "" {
		if ents, err := os.ReadDir(mountDir); err == nil && len(ents) > 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("mount directories left in %s: %v", mountDir, names)
		}
	}
}
