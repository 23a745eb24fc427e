package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

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

// mountsUnder lists the mount points under dir (deepest first), from /proc/mounts.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		p := unescapeMount(fields[1])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
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
