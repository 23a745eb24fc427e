package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// EtcConflictError lists the locally changed /etc paths that a new deployment cannot carry
// over: the 3-way merge keeps local changes, but not a local file where the new image has a
// directory, nor a local directory where it has a file.
type EtcConflictError struct {
	Paths []string
}

func (e *EtcConflictError) Error() string {
	return fmt.Sprintf("/etc merge conflict: local changes to %s conflict with the new image's file types (file vs directory); move them aside and retry",
		strings.Join(e.Paths, ", "))
}

// EtcConflicts compares a deployment's /etc with its defaults (usr/etc) and reports the
// locally modified or added paths whose type conflicts with the new image's usr/etc (read
// from newRoot, the new commit's tree).
func EtcConflicts(deploymentDir string, newRoot fs.FS) ([]string, error) {
	cur, orig := filepath.Join(deploymentDir, "etc"), filepath.Join(deploymentDir, "usr/etc")
	var conflicts []string
	err := filepath.WalkDir(cur, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(cur, p)
		if rel == "." {
			return nil
		}
		modified, err := locallyModified(p, filepath.Join(orig, rel))
		if err != nil || !modified {
			return err
		}
		st, err := fs.Stat(newRoot, "usr/etc/"+filepath.ToSlash(rel))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("new image's usr/etc/%s: %w", rel, err)
		}
		if st.IsDir() != d.IsDir() {
			conflicts = append(conflicts, "/etc/"+rel)
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checking /etc of %s: %w", deploymentDir, err)
	}
	sort.Strings(conflicts)
	return conflicts, nil
}

// locallyModified reports whether the /etc path cur differs from its default orig (added,
// other type, owner, mode, content or link target), as libostree's merge sees changes.
func locallyModified(cur, orig string) (bool, error) {
	var a, b syscall.Stat_t
	if err := syscall.Lstat(cur, &a); err != nil {
		return false, err
	}
	if err := syscall.Lstat(orig, &b); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		return false, err
	}
	if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid {
		return true, nil
	}
	switch a.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		if a.Size != b.Size {
			return true, nil
		}
		if a.Dev == b.Dev && a.Ino == b.Ino {
			return false, nil
		}
		x, err := os.ReadFile(cur)
		if err != nil {
			return false, err
		}
		y, err := os.ReadFile(orig)
		if err != nil {
			return false, err
		}
		return !bytes.Equal(x, y), nil
	case syscall.S_IFLNK:
		x, err := os.Readlink(cur)
		if err != nil {
			return false, err
		}
		y, err := os.Readlink(orig)
		if err != nil {
			return false, err
		}
		return x != y, nil
	}
	return false, nil
}
