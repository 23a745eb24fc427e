//go:build cgo

package ostree

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestStagedLockOrder checks the --download-only lock file around staging: a locked stage
// has the lock in place before libostree stages (a kill in between must not leave an
// unlocked deployment), a plain stage removes an earlier lock (libostree 2022.7 keeps it, so
// the new deployment would never be finalized), and a failed stage leaves the lock as it was.
func TestStagedLockOrder(t *testing.T) {
	stageErr := errors.New("stage failed")
	for _, tc := range []struct {
		name               string
		lockedBefore, lock bool
		fail               bool
		wantLockedAtStage  bool
		wantLockedAfter    bool
		wantErr            bool
	}{
		{name: "locked stage", lock: true, wantLockedAtStage: true, wantLockedAfter: true},
		{name: "plain stage after download-only", lockedBefore: true, wantLockedAtStage: true, wantLockedAfter: false},
		{name: "plain stage", wantLockedAfter: false},
		{name: "locked stage fails", lock: true, fail: true, wantLockedAtStage: true, wantLockedAfter: false, wantErr: true},
		{name: "locked stage fails, was locked", lockedBefore: true, lock: true, fail: true, wantLockedAtStage: true, wantLockedAfter: true, wantErr: true},
		{name: "plain stage fails, was locked", lockedBefore: true, fail: true, wantLockedAtStage: true, wantLockedAfter: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldFile, oldStage := stagedLockFile, stageImpl
			t.Cleanup(func() { stagedLockFile, stageImpl = oldFile, oldStage })
			stagedLockFile = filepath.Join(t.TempDir(), "run/ostree/staged-deployment-locked")
			if tc.lockedBefore {
				if err := lockStaged(); err != nil {
					t.Fatal(err)
				}
			}
			var lockedAtStage bool
			stageImpl = func(*Sysroot, context.Context, DeployOptions) (*Deployment, error) {
				lockedAtStage = StagedLocked()
				if tc.fail {
					return nil, stageErr
				}
				return &Deployment{Checksum: "c"}, nil
			}
			_, err := (&Sysroot{}).StageTree(context.Background(), DeployOptions{Locked: tc.lock})
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, stageErr)) {
				t.Fatalf("StageTree: %v, want error %v", err, tc.wantErr)
			}
			if lockedAtStage != tc.wantLockedAtStage {
				t.Errorf("locked while staging: %v, want %v", lockedAtStage, tc.wantLockedAtStage)
			}
			if got := StagedLocked(); got != tc.wantLockedAfter {
				t.Errorf("locked after StageTree: %v, want %v", got, tc.wantLockedAfter)
			}
		})
	}
}
