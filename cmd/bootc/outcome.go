package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/progress"
)

// printOutcome writes the human-readable report of what switch, upgrade, rollback or
// install reset did (internal/deploy prints nothing). out may come with an error: then it
// says what had been done before the error, and only that is reported. A nil out prints
// nothing.
func printOutcome(w io.Writer, out *deploy.Outcome) {
	if out == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	// Bound images are pulled before the deployment is written, so they are reported even
	// when a later step failed; a rollback reverting a queued one says so first.
	if out.BoundFetched > 0 {
		p("Fetched %d bound images\n", out.BoundFetched)
	}
	if rb := out.Rollback; rb != nil && rb.Reverted {
		p("Reverting queued rollback state\n")
	}
	switch out.Result {
	case deploy.ResultSpecUnchanged:
		p("Image specification is unchanged.\n")
	case deploy.ResultDownloadLocked:
		p("Staged deployment present; locking it (download only).\n")
	case deploy.ResultDownloadUnlocked:
		p("Staged deployment unlocked; it will be applied at the next reboot.\n")
	case deploy.ResultCheckNone:
		p("No changes in: %s\n", out.Target)
	case deploy.ResultCheckAvailable:
		p("Update available for: %s\n", out.Target)
		if out.Version != "" {
			p("  Version: %s\n", out.Version)
		}
		p("  Digest: %s\n", out.Digest)
		if out.Check != nil && out.Check.Diff != nil {
			p("%s", out.Check.Diff.Lines())
		}
	case deploy.ResultStagedLocked:
		p("Staged update present; locking it (download only).\n")
	case deploy.ResultStagedUnlocked:
		p("Staged update present; unlocking it.\n")
	case deploy.ResultStagedKept:
		p("Staged update present, not changed.\n")
	case deploy.ResultNoUpdate:
		p("No update available.\n")
	case deploy.ResultDeployed:
		if r := out.Pruned; r != nil && r.Images+r.Layers+len(r.StoreImages) > 0 {
			p("Pruned images: %d (layers: %d, objsize: %s)%s\n", r.Images, r.Layers, progress.HumanBytes(r.Bytes),
				storeNote(r.StoreImages))
		}
		p("Queued for next boot: %s\n", out.Target)
		if out.Version != "" {
			p("  Version: %s\n", out.Version)
		}
		p("  Digest: %s\n", out.Digest)
		if out.Fetched != nil {
			r := out.Fetched.Report
			p("  Fetched %d layers (%s), %d from containers-storage, %d already present\n",
				r.LayersFetched, progress.HumanBytes(uint64(r.BytesFetched)), r.LayersFromStore, r.LayersReused)
		}
	case deploy.ResultReset:
		p("Reset into the new stateroot %s: %s\n", out.Stateroot, out.Target)
		p("  Digest: %s\n", out.Digest)
	case deploy.ResultRolledBack:
		rb := out.Rollback
		if rb.Discarded != nil {
			p("Discarded the staged deployment %s.%d\n", rb.Discarded.Checksum, rb.Discarded.Serial)
		}
		switch {
		case rb.Reverted:
		case rb.NextBootImage != nil:
			p("Next boot: rollback deployment (%s)\n", rb.NextBootImage)
		default:
			p("Next boot: rollback deployment %s.%d\n", rb.NextBoot.Checksum, rb.NextBoot.Serial)
		}
	}
}

// storeNote is the end of the prune line naming the images removed from the store.
func storeNote(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = id[:min(12, len(id))]
	}
	return "; removed from containers-storage: " + strings.Join(short, ", ")
}
