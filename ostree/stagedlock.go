package ostree

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// stagedLockFile is StagedLockedPath (tests point it elsewhere).
var stagedLockFile = StagedLockedPath

// lockStaged creates the finalization lock file.
func lockStaged() error {
	err := os.MkdirAll(filepath.Dir(stagedLockFile), 0o755)
	if err == nil {
		err = os.WriteFile(stagedLockFile, nil, 0o644)
	}
	if err != nil {
		return fmt.Errorf("locking finalization of the staged deployment (%s): %w", stagedLockFile, err)
	}
	return nil
}

// LockStaged holds the staged deployment back from finalization (no error if already).
func LockStaged() error { return lockStaged() }

// UnlockStaged removes the finalization lock of a staged deployment (no error if absent).
func UnlockStaged() error {
	if err := os.Remove(stagedLockFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unlocking staged deployment: %w", err)
	}
	return nil
}

// StagedLocked reports whether the staged deployment's finalization is locked.
func StagedLocked() bool {
	_, err := os.Stat(stagedLockFile)
	return err == nil
}
