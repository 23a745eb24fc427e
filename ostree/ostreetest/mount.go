package ostreetest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/testskip"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		testskip.Skip(t, "root", "needs root (mounts, bare repositories, deployments)")
	}
}

// CheckNotRootFS returns an error when path is on the same filesystem as "/". Deploying
// into such a sysroot would FIFREEZE the machine's own root filesystem.
func CheckNotRootFS(path string) error {
	var st, root unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if err := unix.Stat("/", &root); err != nil {
		return fmt.Errorf("checking /: %w", err)
	}
	if st.Dev == root.Dev {
		return fmt.Errorf("refusing to use %s as a test sysroot: it is on the root filesystem", path)
	}
	return nil
}

// TmpfsDir mounts a fresh tmpfs of sizeMiB on a new temporary directory and returns its
// path. At the end of the test it is emptied (immutable bits cleared), unmounted and
// removed.
func TmpfsDir(t testing.TB, sizeMiB int) string {
	t.Helper()
	RequireRoot(t)
	dir, err := os.MkdirTemp("", "bootc-test-sysroot-")
	if err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("size=%dm,mode=0755", sizeMiB)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		os.Remove(dir)
		t.Fatalf("mounting tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := RemoveMounted(dir); err != nil {
			t.Errorf("cleaning up %s: %v", dir, err)
		}
	})
	if err := CheckNotRootFS(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Ext4Dir makes an ext4 image of sizeMiB, loop-mounts it on a new temporary directory and
// returns the mount point; everything is removed at the end of the test.
func Ext4Dir(t testing.TB, sizeMiB int) string {
	t.Helper()
	RequireRoot(t)
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			testskip.Skipf(t, "tool:"+tool, "needs %s: %v", tool, err)
		}
	}
	work := t.TempDir()
	img := filepath.Join(work, "fs.img")
	f, err := os.Create(img)
	if err == nil {
		err = f.Truncate(int64(sizeMiB) << 20)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	dir, err := os.MkdirTemp("", "bootc-test-sysroot-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		t.Fatalf("mounting %s: %v: %s", img, err, out)
	}
	t.Cleanup(func() {
		// umount(8) detaches the loop device it set up (autoclear).
		if err := RemoveMounted(dir); err != nil {
			t.Errorf("cleaning up %s: %v", dir, err)
		}
	})
	if err := CheckNotRootFS(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// RemoveMounted unmounts whatever is mounted below dir, empties dir (clearing immutable
// bits), unmounts dir itself if it is a mount point, and removes it.
func RemoveMounted(dir string) error {
	var errs []error
	unmount := func(m string) {
		if err := unix.Unmount(m, 0); err != nil {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
			}
		}
	}
	mounts := mountsUnder(dir)
	for _, m := range mounts {
		if m != dir {
			unmount(m)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if err := RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range mounts {
		if m == dir {
			unmount(m)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// mountsUnder lists mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil
	}
	// Deepest (and most recent) first.
	out := make([]string, len(ms))
	for i, m := range ms {
		out[len(ms)-1-i] = m.Mountpoint
	}
	return out
}

// RemoveAll removes path like os.RemoveAll, first clearing the immutable and append-only
// attributes libostree sets on deployment directories.
func RemoveAll(path string) error {
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			ClearImmutable(p)
		}
		return nil
	})
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// Inode flags of FS_IOC_GETFLAGS (linux/fs.h).
const (
	fsImmutableFL = 0x10
	fsAppendFL    = 0x20
)

// ClearImmutable clears the immutable and append-only attributes of one directory or file;
// filesystems without attributes are ignored.
func ClearImmutable(path string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return
	}
	const mask = fsImmutableFL | fsAppendFL
	if flags&mask != 0 {
		_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, flags&^mask)
	}
}
