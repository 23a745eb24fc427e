package disk

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/install/disk/disktest"
	"github.com/bootc-go/bootc/internal/testskip"
)

func requireRoot(t *testing.T) {
	t.Helper()
	disktest.RequireRoot(t, "loop devices, mounts")
}

func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testskip.Skipf(t, "tool:"+name, "%s not installed (Debian package %s)", name, debianPackage)
	}
	return p
}

// sparseFile creates a sparse file of the given size in a fresh temporary
// directory.
func sparseFile(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// fillRandom writes random bytes to [off, off+n) of path.
func fillRandom(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func runWithStdin(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// boundLoops returns the loop devices (/dev/loopN) whose backing file is
// one of paths.
func boundLoops(t *testing.T, paths ...string) []string {
	t.Helper()
	ms, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	var out []string
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			continue // detached meanwhile
		}
		backing := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		for _, p := range paths {
			if backing == p {
				out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(m))))
			}
		}
	}
	return out
}

// mountsUnder returns mount points at or below dir, and mounts whose
// source is one of devs.
func mountsUnder(t *testing.T, dir string, devs ...string) []string {
	t.Helper()
	out, err := disktest.MountsUnder(dir, devs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitNoLoops waits until no loop device is backed by paths, and returns
// the ones still bound after a few seconds.
func waitNoLoops(t *testing.T, paths ...string) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := boundLoops(t, paths...)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// guard registers a safety net that runs after every other cleanup of the
// test: it unmounts whatever is still mounted below dir and detaches loop
// devices backed by paths, and fails the test if it had to. Register it
// before anything else so that it runs last.
func guard(t *testing.T, dir string, paths ...string) {
	t.Helper()
	t.Cleanup(func() {
		for _, m := range mountsUnder(t, dir) {
			t.Errorf("leaked mount %s", m)
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
		left := waitNoLoops(t, paths...)
		for _, l := range left {
			t.Errorf("leaked loop device %s", l)
			if f, err := os.OpenFile(l, os.O_RDONLY, 0); err == nil {
				_ = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
				f.Close()
			}
		}
	})
}

func execLookPath(name string) (string, error) { return exec.LookPath(name) }

// TestFileHashSeesZeroWrites checks the test oracle (disktest.Digest) itself: writing zeros
// into a hole, or punching a hole, changes the digest.
func TestFileHashSeesZeroWrites(t *testing.T) {
	img := sparseFile(t, 64*MiB)
	fillRandom(t, img, 0, MiB)
	h0 := disktest.Digest(t, img)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 4096), 32*MiB); err != nil {
		t.Fatal(err)
	}
	f.Sync()
	h1 := disktest.Digest(t, img)
	if h1 == h0 {
		t.Error("writing zeros into a hole went unseen")
	}
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 4096); err != nil {
		t.Fatal(err)
	}
	if disktest.Digest(t, img) == h1 {
		t.Error("punching a hole went unseen")
	}
}
