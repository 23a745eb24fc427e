// Package shadowsync removes stale entries from /etc/shadow and /etc/gshadow before
// systemd-sysusers runs (upstream's bootc-sysusers-shadow-sync.service, tmt 44).
//
// The /etc merge keeps a local change to /etc/gshadow (or /etc/shadow) while the new image's
// /etc/group (or /etc/passwd) no longer names the group (or user): a rebase onto an image
// whose group file was reset, or a group sysusers created on the old image. systemd-sysusers
// then finds the name in the shadow file only and refuses to create it ("already exists"),
// skipping what follows. An entry is stale when its name is in neither /etc/group nor
// /usr/lib/group (for gshadow), or in neither /etc/passwd nor /usr/lib/passwd (for shadow);
// of duplicate entries the first is kept.
package shadowsync

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Result lists what Sync removed, by file ("etc/shadow", "etc/gshadow").
type Result struct {
	Removed map[string][]string
}

// lockFile is shadow-utils' and systemd-sysusers' lock of the account files (lckpwdf).
const lockFile = "etc/.pwd.lock"

// Sync removes the stale and duplicate entries of root's etc/shadow and etc/gshadow, under
// the account files' lock. A file that is missing is skipped; so is everything when no
// passwd file names any user (a tree that is not a system).
func Sync(root string) (Result, error) {
	res := Result{Removed: map[string][]string{}}
	unlock, err := lock(filepath.Join(root, lockFile))
	if err != nil {
		return res, fmt.Errorf("locking %s: %w", filepath.Join(root, lockFile), err)
	}
	defer unlock()
	users, err := names(root, "etc/passwd", "usr/lib/passwd")
	if err != nil {
		return res, err
	}
	if len(users) == 0 {
		return res, nil
	}
	groups, err := names(root, "etc/group", "usr/lib/group")
	if err != nil {
		return res, err
	}
	for _, f := range []struct {
		file  string
		valid map[string]bool
	}{{"etc/shadow", users}, {"etc/gshadow", groups}} {
		removed, err := filterFile(filepath.Join(root, f.file), f.valid)
		if err != nil {
			return res, err
		}
		if len(removed) > 0 {
			res.Removed[f.file] = removed
		}
	}
	return res, nil
}

// lock takes the account files' lock as lckpwdf does: a write lock on the lock file.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &lk); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// names returns the first fields of the colon-separated files under root (missing ones are
// skipped).
func names(root string, files ...string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if name, _, ok := strings.Cut(l, ":"); ok && name != "" && !strings.HasPrefix(name, "#") {
				out[name] = true
			}
		}
	}
	return out, nil
}

// filterFile drops the entries of path whose name valid lacks, and repeated names, and
// returns the names dropped. The file is replaced atomically, with its mode and owner, only
// when something is dropped. Lines that are not entries (blank, comments) stay.
func filterFile(path string, valid map[string]bool) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var kept bytes.Buffer
	var removed []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		name, _, ok := strings.Cut(l, ":")
		if ok && name != "" && !strings.HasPrefix(name, "#") {
			if !valid[name] || seen[name] {
				removed = append(removed, name)
				continue
			}
			seen[name] = true
		}
		kept.WriteString(l)
		kept.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(removed) == 0 {
		return nil, nil
	}
	if err := replaceFile(path, kept.Bytes()); err != nil {
		return nil, fmt.Errorf("rewriting %s: %w", path, err)
	}
	return removed, nil
}

// replaceFile writes data to a temporary file beside path with path's mode and owner,
// syncs it and renames it over path.
func replaceFile(path string, data []byte) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(fs.FileMode(st.Mode & 0o777)); err != nil {
		return err
	}
	if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	return nil
}
