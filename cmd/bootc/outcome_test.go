package main

import (
	"bytes"
	"testing"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/ostree"
)

// TestPrintOutcome pins the text each ending of switch, upgrade, rollback and install reset
// prints (internal/deploy returns the facts; these are the lines deploy used to print).
func TestPrintOutcome(t *testing.T) {
	ref, err := imgref.Parse("ostree-unverified-registry:quay.io/example/os:42")
	if err != nil {
		t.Fatal(err)
	}
	const digest = "sha256:0123"
	staged := &ostree.Deployment{Checksum: "abc", Serial: 1}
	next := &ostree.Deployment{Checksum: "def", Serial: 0}
	fetched := &deploy.Fetched{Report: deploy.FetchReport{LayersFetched: 2, BytesFetched: 3 << 20, LayersFromStore: 1, LayersReused: 4}}
	tests := []struct {
		name string
		out  *deploy.Outcome
		want string
	}{
		{"nil", nil, ""},
		{"none", &deploy.Outcome{}, ""},
		{"spec unchanged", &deploy.Outcome{Result: deploy.ResultSpecUnchanged, Target: ref}, "Image specification is unchanged.\n"},
		{"switch download locked", &deploy.Outcome{Result: deploy.ResultDownloadLocked},
			"Staged deployment present; locking it (download only).\n"},
		{"download unlocked", &deploy.Outcome{Result: deploy.ResultDownloadUnlocked, Changed: true},
			"Staged deployment unlocked; it will be applied at the next reboot.\n"},
		{"check none", &deploy.Outcome{Result: deploy.ResultCheckNone, Target: ref},
			"No changes in: ostree-unverified-registry:quay.io/example/os:42\n"},
		{"check available", &deploy.Outcome{Result: deploy.ResultCheckAvailable, Target: ref, Digest: digest, Version: "42.1",
			Check: &deploy.UpdateCheck{Diff: &deploy.ManifestDiff{Total: 3, TotalSize: 1500, Added: make([]deploy.CheckLayer, 1), AddedSize: 330}}},
			"Update available for: ostree-unverified-registry:quay.io/example/os:42\n  Version: 42.1\n  Digest: sha256:0123\n" +
				"Total new layers: 3     Size: 1.5 kB\nRemoved layers:   0     Size: 0 bytes\nAdded layers:     1     Size: 330 bytes\n"},
		{"check available, no version, no diff", &deploy.Outcome{Result: deploy.ResultCheckAvailable, Target: ref, Digest: digest},
			"Update available for: ostree-unverified-registry:quay.io/example/os:42\n  Digest: sha256:0123\n"},
		{"staged locked", &deploy.Outcome{Result: deploy.ResultStagedLocked}, "Staged update present; locking it (download only).\n"},
		{"staged unlocked", &deploy.Outcome{Result: deploy.ResultStagedUnlocked}, "Staged update present; unlocking it.\n"},
		{"staged kept", &deploy.Outcome{Result: deploy.ResultStagedKept}, "Staged update present, not changed.\n"},
		{"no update", &deploy.Outcome{Result: deploy.ResultNoUpdate}, "No update available.\n"},
		{"deployed", &deploy.Outcome{Result: deploy.ResultDeployed, Changed: true, Target: ref, Digest: digest, Version: "42.1",
			Fetched: fetched, BoundFetched: 2, Pruned: &deploy.PruneReport{Images: 1, Layers: 3, Bytes: 2048, StoreImages: []string{"0123456789abcdef"}}},
			"Fetched 2 bound images\nPruned images: 1 (layers: 3, objsize: 2.00 KiB); removed from containers-storage: 0123456789ab\n" +
				"Queued for next boot: ostree-unverified-registry:quay.io/example/os:42\n  Version: 42.1\n  Digest: sha256:0123\n" +
				"  Fetched 2 layers (3.00 MiB), 1 from containers-storage, 4 already present\n"},
		{"deployed, nothing pruned, no version", &deploy.Outcome{Result: deploy.ResultDeployed, Target: ref, Digest: digest,
			Fetched: &deploy.Fetched{}, Pruned: &deploy.PruneReport{Objects: 5}},
			"Queued for next boot: ostree-unverified-registry:quay.io/example/os:42\n  Digest: sha256:0123\n" +
				"  Fetched 0 layers (0 B), 0 from containers-storage, 0 already present\n"},
		{"failed after the bound images", &deploy.Outcome{BoundFetched: 1, Target: ref, Digest: digest}, "Fetched 1 bound images\n"},
		{"reset", &deploy.Outcome{Result: deploy.ResultReset, Target: ref, Stateroot: "s2026-0", Digest: digest, BoundFetched: 1},
			"Fetched 1 bound images\nReset into the new stateroot s2026-0: ostree-unverified-registry:quay.io/example/os:42\n  Digest: sha256:0123\n"},
		{"rollback", &deploy.Outcome{Result: deploy.ResultRolledBack, Rollback: &deploy.RollbackOutcome{NextBoot: next, NextBootImage: &ref}},
			"Next boot: rollback deployment (ostree-unverified-registry:quay.io/example/os:42)\n"},
		{"rollback without image, staged discarded", &deploy.Outcome{Result: deploy.ResultRolledBack,
			Rollback: &deploy.RollbackOutcome{NextBoot: next, Discarded: staged}},
			"Discarded the staged deployment abc.1\nNext boot: rollback deployment def.0\n"},
		{"rollback reverted", &deploy.Outcome{Result: deploy.ResultRolledBack, Rollback: &deploy.RollbackOutcome{Reverted: true, NextBoot: next}},
			"Reverting queued rollback state\n"},
		{"rollback reverting failed", &deploy.Outcome{Rollback: &deploy.RollbackOutcome{Reverted: true}}, "Reverting queued rollback state\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printOutcome(&b, tt.out)
			if got := b.String(); got != tt.want {
				t.Errorf("printOutcome:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestStoreNote(t *testing.T) {
	if got := storeNote(nil); got != "" {
		t.Errorf("storeNote(nil) = %q", got)
	}
	if got, want := storeNote([]string{"0123456789abcdef", "short"}), "; removed from containers-storage: 0123456789ab, short"; got != want {
		t.Errorf("storeNote = %q, want %q", got, want)
	}
}
