package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/bootc-go/bootc/internal/install/disk"
)

// checkNoLeftovers registers a cleanup, run after every other cleanup of the test,
// that kills any qemu the test started and fails the test when qemu processes, mounts
// or loop devices of dir (the test's work directory) are left. Mounts found are
// unmounted (lazily if busy) so that removing dir cannot reach into them.
func checkNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	t.Cleanup(func() {
		if left := killLeftoverVMs(); len(left) > 0 {
			t.Errorf("qemu still running at the end (killed now): %v", left)
		}
		if q := runningQemus(dir); len(q) > 0 {
			t.Errorf("qemu processes using %s left: %v", dir, q)
		}
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("mounts left under %s: %v", dir, m)
			for _, p := range m {
				_ = disk.Unmount(p)
			}
		}
		if l := loopsBackedBy(dir); len(l) > 0 {
			t.Errorf("loop devices left backed by files under %s: %v", dir, l)
		}
	})
}

// mountsUnder lists the mount points under dir (deepest first), from /proc/self/mountinfo.
func mountsUnder(dir string) []string {
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Mountpoint
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

// loopsBackedBy lists the loop devices whose backing file is under dir, from
// /sys/block/loop*/loop/backing_file.
func loopsBackedBy(dir string) []string {
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		p := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, filepath.Base(filepath.Dir(filepath.Dir(f)))+" -> "+p)
		}
	}
	return out
}
