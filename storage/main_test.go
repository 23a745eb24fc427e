package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/sys/mountinfo"
	"github.com/rs/zerolog"
	"go.podman.io/storage/pkg/reexec"

	"github.com/bootc-go/bootc/internal/testskip"
)

// TestMain lets containers-storage re-execute the test binary for its helpers
// (storage-applyLayer, storage-mountfrom, ...).
func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// requireRoot skips tests that need root (mounting overlays, chown in layers).
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		testskip.Skip(t, "root", "needs root: containers-storage with the overlay driver mounts filesystems and keeps file ownership")
	}
}

// testStore is a store in temporary directories, closed (and checked for leftover mounts) at
// the end of the test.
type testStore struct {
	*Store
	root, runRoot string
}

// testLogger logs to the test.
func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
}

// newTestStore opens a store in t.TempDir() with the overlay driver, or vfs where overlay does
// not work (said in the log). free, if not nil, replaces the free-space probe.
func newTestStore(t *testing.T, free func(string) (uint64, error)) *testStore {
	t.Helper()
	requireRoot(t)
	root, runRoot := t.TempDir(), t.TempDir()
	opts := Options{
		Root:             filepath.Join(root, "graph"),
		RunRoot:          filepath.Join(runRoot, "run"),
		Driver:           "overlay",
		BlobInfoCacheDir: filepath.Join(root, "cache"),
		TempDir:          filepath.Join(root, "tmp"),
		FreeSpace:        free,
		Log:              testLogger(t),
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Logf("overlay driver unavailable here (%v); falling back to vfs", err)
		opts.Driver = "vfs"
		if s, err = Open(context.Background(), opts); err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
	ts := &testStore{Store: s, root: opts.Root, runRoot: opts.RunRoot}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertNoMounts(t, root, runRoot)
	})
	return ts
}

// mountsUnder returns the mount points below any of dirs, from /proc/self/mountinfo.
func mountsUnder(t testing.TB, dirs ...string) []string {
	t.Helper()
	var res []string
	for _, d := range dirs {
		ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(d))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			res = append(res, m.Mountpoint)
		}
	}
	return res
}

// assertNoMounts fails the test if anything is mounted below dirs.
func assertNoMounts(t testing.TB, dirs ...string) {
	t.Helper()
	if m := mountsUnder(t, dirs...); len(m) > 0 {
		t.Errorf("mounts left behind after Close: %v", m)
	}
}
