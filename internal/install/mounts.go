package install

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lostAndFound is the ext4 directory an empty filesystem has.
const lostAndFound = "lost+found"

// MountInfo is one line of /proc/self/mountinfo.
type MountInfo struct {
	// Major and Minor are the device numbers of the mounted filesystem (st_dev).
	Major, Minor uint32
	// Root is the mounted subtree of the filesystem ("/" for a whole filesystem).
	Root string
	// Target is the mount point.
	Target string
	// FSType is the filesystem type.
	FSType string
	// Source is the mount source ("/dev/loop3", "tmpfs").
	Source string
	// Options are the per-mount and superblock options.
	Options string
}

// mountinfoPath is read by Mounts; tests may point it elsewhere.
var mountinfoPath = "/proc/self/mountinfo"

// unescapeMount decodes the octal escapes (\040) of mountinfo fields.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Mounts parses /proc/self/mountinfo.
func Mounts() ([]MountInfo, error) {
	f, err := os.Open(mountinfoPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []MountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(fields) < sep+3 {
			continue
		}
		var m MountInfo
		maj, mi, ok := strings.Cut(fields[2], ":")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(maj, 10, 32)
		b, err2 := strconv.ParseUint(mi, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		m.Major, m.Minor = uint32(a), uint32(b)
		m.Root = unescapeMount(fields[3])
		m.Target = unescapeMount(fields[4])
		m.Options = fields[5]
		m.FSType = fields[sep+1]
		m.Source = unescapeMount(fields[sep+2])
		if len(fields) > sep+3 {
			m.Options += "," + fields[sep+3]
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// MountAt returns the last (topmost) mount whose mount point is path, or nil.
func MountAt(path string) (*MountInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	ms, err := Mounts()
	if err != nil {
		return nil, err
	}
	var found *MountInfo
	for i := range ms {
		if ms[i].Target == abs {
			found = &ms[i]
		}
	}
	return found, nil
}

// MountsUnder lists the mount points at or below dir.
func MountsUnder(dir string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	ms, err := Mounts()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.Target == abs || strings.HasPrefix(m.Target, abs+"/") {
			out = append(out, m.Target)
		}
	}
	return out, nil
}

// isMountPoint reports whether path is the root of a mounted filesystem (its device differs
// from its parent's, or it is a bind mount listed in mountinfo).
func isMountPoint(path string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Join(path, ".."), &parent); err != nil {
		return false, err
	}
	if st.Dev != parent.Dev || st.Ino == parent.Ino {
		return true, nil
	}
	m, err := MountAt(path)
	if err != nil {
		return false, err
	}
	return m != nil, nil
}

// blockDevice returns the /dev node of the block device major:minor ("" when the kernel
// knows no such block device, e.g. for tmpfs).
func blockDevice(major, minor uint32) string {
	b, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/uevent", major, minor))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(l, "DEVNAME="); ok {
			return "/dev/" + name
		}
	}
	return ""
}

// deviceOf returns the block device holding the filesystem mounted at path ("" if none).
func deviceOf(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", err
	}
	return blockDevice(unix.Major(st.Dev), unix.Minor(st.Dev)), nil
}

// requireEmptyRoot checks that root holds nothing but lost+found and directories that are
// (or contain only) mount points, as upstream's check of a to-filesystem target.
func requireEmptyRoot(root string) error {
	ents, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == lostAndFound {
			continue
		}
		p := filepath.Join(root, e.Name())
		if !e.IsDir() {
			return fmt.Errorf("%s is not empty: found %s", root, e.Name())
		}
		if err := requireOnlyMounts(p); err != nil {
			return fmt.Errorf("%s is not empty: %w", root, err)
		}
	}
	return nil
}

func requireOnlyMounts(dir string) error {
	mp, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if mp {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		return fmt.Errorf("found empty directory %s", dir)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.Name() == lostAndFound {
			continue
		}
		if !e.IsDir() {
			return fmt.Errorf("found %s", p)
		}
		if err := requireOnlyMounts(p); err != nil {
			return err
		}
	}
	return nil
}

// sameFilesystem reports whether a and b are on the same filesystem.
func sameFilesystem(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		return false, err
	}
	if err := unix.Stat(b, &sb); err != nil {
		return false, err
	}
	return sa.Dev == sb.Dev, nil
}

// errNotMounted is returned for a to-filesystem target that is not a mount point.
var errNotMounted = errors.New("not a mount point")
