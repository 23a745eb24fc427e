package install

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// dpkgInfoDir holds dpkg's per-package file lists (PACKAGE.list, PACKAGE.conffiles).
const dpkgInfoDir = "var/lib/dpkg/info"

// keptTrees are the top-level directories of the previous system that its cleanup never
// touches: its configuration and data (what the installed system may want to migrate), the
// ostree sysroot and /boot, which now belong to the installed system, and the API
// filesystems.
var keptTrees = []string{"etc", "var", "home", "root", "srv", "opt", "boot", "ostree", "sysroot",
	"tmp", "run", "proc", "sys", "dev", "mnt", "media", lostAndFound}

// PreviousCleanup is what RemovePreviousSystem did.
type PreviousCleanup struct {
	// Packages is the number of packages whose files were removed.
	Packages int
	// Removed is the number of files, symlinks and (emptied) directories removed.
	Removed int
	// Database names the package database read ("" when none was found).
	Database string
}

// RemovePreviousSystem removes, from the physical root physRoot of a system installed
// with `install to-existing-root --cleanup`, the files the previous system's packages own
// (dpkg's file lists; the equivalent of upstream's Fedora script, which removes the
// previous system's RPMs), then the stamp that asked for it, so that it runs once. It keeps
// /etc, /var, the home directories and every file no package owns, and never leaves
// physRoot (every path is resolved inside it). Without a dpkg database it removes only the
// stamp.
func RemovePreviousSystem(physRoot string) (PreviousCleanup, error) {
	var res PreviousCleanup
	root, err := os.OpenRoot(physRoot)
	if err != nil {
		return res, err
	}
	defer root.Close()
	lists, err := fs.Glob(root.FS(), dpkgInfoDir+"/*.list")
	if err != nil {
		return res, err
	}
	if len(lists) > 0 {
		res.Database = "/" + dpkgInfoDir
	}
	var dirs, dirLinks []string
	for _, l := range lists {
		paths, err := readLines(root, l)
		if err != nil {
			return res, fmt.Errorf("reading %s: %w", l, err)
		}
		conf, err := readLines(root, strings.TrimSuffix(l, ".list")+".conffiles")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("reading the conffiles of %s: %w", l, err)
		}
		removed := false
		for _, p := range paths {
			rel := strings.TrimPrefix(path.Clean("/"+p), "/")
			if rel == "" || slices.Contains(conf, p) || keptTree(rel) {
				continue
			}
			fi, err := root.Lstat(rel)
			if err != nil {
				continue // gone already, or below a removed symlink
			}
			switch {
			case fi.IsDir():
				dirs = append(dirs, rel)
				continue
			case fi.Mode()&fs.ModeSymlink != 0:
				// A symlink to a directory (Debian's /bin -> usr/bin) goes last: the
				// files listed below it are removed through it first.
				if st, err := root.Stat(rel); err == nil && st.IsDir() {
					dirLinks = append(dirLinks, rel)
					continue
				}
			}
			if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return res, fmt.Errorf("removing /%s: %w", rel, err)
			}
			res.Removed++
			removed = true
		}
		if removed {
			res.Packages++
		}
	}
	// Deepest first; a directory still holding files no package owns stays.
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	slices.SortStableFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, d := range dirs {
		if root.Remove(d) == nil {
			res.Removed++
		}
	}
	slices.Sort(dirLinks)
	for _, l := range slices.Compact(dirLinks) {
		if root.Remove(l) == nil {
			res.Removed++
		}
	}
	if err := root.Remove(DestructiveCleanupStamp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("removing %s: %w", filepath.Join(physRoot, DestructiveCleanupStamp), err)
	}
	return res, nil
}

// keptTree reports whether rel (relative to the physical root) lies in keptTrees.
func keptTree(rel string) bool {
	top, _, _ := strings.Cut(rel, "/")
	return slices.Contains(keptTrees, top)
}

// readLines reads the non-empty lines of name in root.
func readLines(root *os.Root, name string) ([]string, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}
