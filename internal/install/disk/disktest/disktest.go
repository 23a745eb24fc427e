// Package disktest holds test helpers for disk images that need nothing of package disk:
// skipping without root and loop devices, digesting a sparse image, and listing mounts.
// It does not import disk, so disk's own tests can use it as well as installtest (which
// imports disk).
package disktest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/testskip"
)

// RequireRoot skips the test unless it runs as root with loop device support. needs says
// what root is needed for; the skip message reads "needs root (NEEDS)".
func RequireRoot(t testing.TB, needs string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testskip.Skip(t, "root", "needs root ("+needs+")")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		testskip.Skipf(t, "loop", "no loop device support: %v", err)
	}
}

// Digest digests a (sparse) file: its size, the offsets of its data extents
// (SEEK_DATA/SEEK_HOLE) and their content. Any write, including of zeros, and any punched
// hole changes it; holes are not read, so a 1 GiB sparse image digests fast.
func Digest(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "size %d\n", st.Size())
	for off := int64(0); off < st.Size(); {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole remains
		}
		if err != nil {
			t.Fatal(err)
		}
		hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "data %d-%d\n", data, hole)
		if _, err := io.Copy(h, io.NewSectionReader(f, data, hole-data)); err != nil {
			t.Fatal(err)
		}
		off = hole
	}
	return hex.EncodeToString(h.Sum(nil))
}

// MountsUnder lists the mount points in /proc/self/mountinfo that are dir or below it
// (dir "" matches none) or whose source is one of devs.
func MountsUnder(dir string, devs ...string) ([]string, error) {
	ms, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		under := dir != "" && (m.Mountpoint == dir || strings.HasPrefix(m.Mountpoint, dir+"/"))
		return !under && !slices.Contains(devs, m.Source), false
	})
	if err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Mountpoint
	}
	return out, nil
}
