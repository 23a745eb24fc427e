package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"

	"golang.org/x/sys/unix"
)

// errStop ends a walk early without an error.
var errStop = errors.New("stop walking")

// entry is one directory entry met by walk.
type entry struct {
	// Path is the entry's path relative to the root, slash-separated ("var/log/x").
	Path string
	// Name is its last element (any bytes but '/').
	Name string
	// Type is its file type (fs.ModeDir, fs.ModeSymlink, 0 for a regular file, ...).
	Type fs.FileMode
	// Stat is its lstat.
	Stat unix.Stat_t
	// parent is the open directory holding it.
	parent *os.File
}

// mountRoot reports whether the entry is the root of a mount (a bind-mounted file or a
// mounted directory), as statx's STATX_ATTR_MOUNT_ROOT says.
func (e *entry) mountRoot() bool {
	return isMountRoot(e.parent, e.Name)
}

// isMountRoot reports whether name in the open directory dir is a mount's root.
func isMountRoot(dir *os.File, name string) bool {
	var stx unix.Statx_t
	if err := unix.Statx(int(dir.Fd()), name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_TYPE, &stx); err != nil {
		return false
	}
	return stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// walk calls fn for every entry under dir (relative to root, "." for the root itself;
// its symbolic links resolved as in the running system, the paths passed to fn spelled
// from dir as given),
// depth first, entries of a directory in byte order of their names. It does not descend
// into directories on another filesystem or mounted elsewhere (the entry itself is still
// passed to fn). fn returning fs.SkipDir for a directory skips its content; any other
// error ends the walk and is returned.
func walk(root *os.Root, dir string, fn func(e *entry) error) error {
	resolved, err := resolve(root, dir)
	if err != nil {
		return err
	}
	d, err := root.Open(resolved)
	if err != nil {
		return fmt.Errorf("opening /%s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(d.Fd()), &st); err != nil {
		d.Close()
		return fmt.Errorf("stat /%s: %w", dir, err)
	}
	return walkDir(dir, d, st.Dev, fn)
}

// walkDir walks the open directory d (path dir, on device dev) and closes it. It opens
// subdirectories relative to d, one name at a time, never following a symbolic link.
func walkDir(dir string, d *os.File, dev uint64, fn func(e *entry) error) error {
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("reading directory /%s: %w", dir, err)
	}
	slices.Sort(names)
	for _, name := range names {
		e := &entry{Path: path.Join(dir, name), Name: name, parent: d}
		if err := unix.Fstatat(int(d.Fd()), name, &e.Stat, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("stat /%s: %w", e.Path, err)
		}
		e.Type = modeType(e.Stat.Mode)
		err := fn(e)
		if errors.Is(err, fs.SkipDir) {
			continue
		}
		if err != nil {
			return err
		}
		if e.Type != fs.ModeDir || e.Stat.Dev != dev || e.mountRoot() {
			continue
		}
		fd, err := unix.Openat(int(d.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening /%s: %w", e.Path, err)
		}
		if err := walkDir(e.Path, os.NewFile(uintptr(fd), e.Path), dev, fn); err != nil {
			return err
		}
	}
	return nil
}

// modeType turns a st_mode file type into an fs.FileMode type.
func modeType(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}
