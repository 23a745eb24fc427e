package deploy

import (
	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/ostree"
)

// Result says which of its possible endings an operation reached. deploy prints nothing:
// the command line renders an Outcome from its Result and the facts beside it.
type Result int

// The endings of Switch, Upgrade, Reset and Rollback.
const (
	// ResultNone: the operation stopped (with an error) before reaching an ending; the
	// Outcome may still say what it did on the way (BoundFetched).
	ResultNone Result = iota
	// ResultSpecUnchanged (Switch): the target is the image the host tracks already.
	ResultSpecUnchanged
	// ResultDownloadLocked (Switch with DownloadOnly): the staged deployment already runs
	// the target; its finalization was locked.
	ResultDownloadLocked
	// ResultDownloadUnlocked (Switch or Upgrade with FromDownloaded): the staged
	// download-only deployment was unlocked, to be applied at the next reboot.
	ResultDownloadUnlocked
	// ResultCheckNone (Upgrade with Check): the source has no image other than the booted
	// or staged one.
	ResultCheckNone
	// ResultCheckAvailable (Upgrade with Check): an update is available (Digest, Version,
	// Check).
	ResultCheckAvailable
	// ResultStagedLocked (Upgrade with DownloadOnly): the staged deployment is the update;
	// its finalization was locked.
	ResultStagedLocked
	// ResultStagedUnlocked (Upgrade): the staged deployment is the update; its lock was
	// released.
	ResultStagedUnlocked
	// ResultStagedKept (Upgrade): the staged deployment is the update and stays as it is.
	ResultStagedKept
	// ResultNoUpdate (Upgrade): nothing is staged and the booted image is the latest.
	ResultNoUpdate
	// ResultDeployed (Switch, Upgrade): Target was fetched and staged (offline: deployed).
	ResultDeployed
	// ResultReset (Reset): Target was deployed in the new stateroot Stateroot.
	ResultReset
	// ResultRolledBack (Rollback): the boot order was changed (see Rollback).
	ResultRolledBack
)

// Outcome describes what an operation did. It may come back together with an error: it then
// says what had been done when the error happened.
type Outcome struct {
	// Result is the ending the operation reached.
	Result Result
	// Changed is set when a deployment was staged, deployed, unlocked or reordered.
	Changed bool
	// Target is the image the operation worked on (Switch's target, Upgrade's tracked image
	// with its Tag, Reset's image).
	Target imgref.OstreeImageReference
	// Staged is the new (or unlocked) deployment (nil when none was made).
	Staged *ostree.Deployment
	// Stateroot is the stateroot of Reset's new deployment.
	Stateroot string
	// Digest and Version describe the image of the new deployment (or of an available
	// update for Upgrade with Check).
	Digest, Version string
	// UpdateAvailable is set by Upgrade with Check.
	UpdateAvailable bool
	// Check is what Upgrade with Check found.
	Check *UpdateCheck
	// Fetched is the import result, when an image was fetched: its Report has the layers
	// fetched, taken from containers-storage and reused, and the bytes fetched.
	Fetched *Fetched
	// BoundFetched is the number of bound images pulled for the new deployment.
	BoundFetched int
	// Pruned is what the prune after a new deployment removed (nil: no prune ran).
	Pruned *PruneReport
	// Rollback is what Rollback changed.
	Rollback *RollbackOutcome
}

// RollbackOutcome is what Rollback changed.
type RollbackOutcome struct {
	// Reverted is set when a queued rollback was reverted: the booted deployment boots next
	// again.
	Reverted bool
	// Discarded is the staged deployment the new boot order dropped (nil: none was staged).
	Discarded *ostree.Deployment
	// NextBoot is the deployment that boots next, and NextBootImage the image it runs (nil:
	// it has no container image reference).
	NextBoot      *ostree.Deployment
	NextBootImage *imgref.OstreeImageReference
}
