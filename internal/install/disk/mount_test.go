package disk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMountPushesUnmount(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	guard(t, dir)
	var c Cleanup
	t.Cleanup(func() { c.Run() })
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "a", "b")
	os.Mkdir(a, 0o755)
	if err := c.Mount("tmpfs", a, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(b, 0o755)
	if err := c.Mount("tmpfs", b, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	// A remount mounts nothing new and pushes nothing.
	if err := c.Mount("", b, "", unix.MS_REMOUNT|unix.MS_RDONLY, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Errorf("%d cleanup actions, want 2", c.Len())
	}
	if got := mountsUnder(t, dir); len(got) != 2 {
		t.Fatalf("mounts %v", got)
	}
	// Nested mounts come off in reverse order.
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if got := mountsUnder(t, dir); len(got) != 0 {
		t.Errorf("left mounted: %v", got)
	}
}

func TestMountErrorNamesMountPoint(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	var c Cleanup
	target := filepath.Join(dir, "missing")
	err := c.Mount("/dev/nonexistent-device", target, "ext4", 0, "")
	if err == nil || !strings.Contains(err.Error(), target) || !strings.Contains(err.Error(), "/dev/nonexistent-device") {
		t.Errorf("error %v", err)
	}
	if c.Len() != 0 {
		t.Error("failed mount pushed an unmount")
	}
	// Unmounting something not mounted is done already.
	if err := Unmount(dir); err != nil {
		t.Errorf("Unmount of a plain directory: %v", err)
	}
}

// TestUnmountBusyFallsBackToLazy: a mount kept busy by an open file is
// detached lazily instead of failing the cleanup.
func TestUnmountBusyFallsBackToLazy(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	guard(t, dir)
	var c Cleanup
	t.Cleanup(func() { c.Run() })
	if err := c.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := unmountRetries
	unmountRetries = 2
	t.Cleanup(func() { unmountRetries = old })
	if err := c.Run(); err != nil {
		t.Fatalf("cleanup of a busy mount: %v", err)
	}
	if got := mountsUnder(t, dir); len(got) != 0 {
		t.Errorf("still mounted: %v", got)
	}
	if _, err := f.WriteString("still works"); err != nil {
		t.Errorf("open file after lazy unmount: %v", err)
	}
}
