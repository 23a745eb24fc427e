package install

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// lostAndFound is the ext4 directory an empty filesystem has.
const lostAndFound = "lost+found"

// isMountPoint reports whether path is the root of a mounted filesystem or a bind mount.
func isMountPoint(path string) (bool, error) {
	mp, err := mountinfo.Mounted(path)
	if err != nil {
		return false, fmt.Errorf("checking whether %s is a mount point: %w", path, err)
	}
	return mp, nil
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
