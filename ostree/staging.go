package ostree

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// removeStagingDirs deletes the repository's unused transaction staging directories
// (tmp/staging-*). libostree 2022.7 keeps the staging directory of an aborted transaction
// of the current boot, to resume an interrupted pull in it, so an import that failed (a
// full disk, a bad layer) left its objects in tmp/ until the next boot. A directory is
// removed only when its lock (tmp/<name>-lock, an OFD write lock as libglnx takes it) can
// be taken: a transaction in progress in another process keeps its own.
func removeStagingDirs(repoPath string) error {
	tmp := filepath.Join(repoPath, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("listing %s: %w", tmp, err)
	}
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "staging-") {
			continue
		}
		if err := removeIfUnlocked(tmp, e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func removeIfUnlocked(tmp, name string) error {
	lockPath := filepath.Join(tmp, name+"-lock")
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("locking staging directory %s: %w", name, err)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		return nil // in use by a transaction
	}
	if err := os.RemoveAll(filepath.Join(tmp, name)); err != nil {
		return fmt.Errorf("removing staging directory %s: %w", name, err)
	}
	// Unlinked while still held, as libglnx releases its lock files.
	if err := os.Remove(lockPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", lockPath, err)
	}
	return nil
}
