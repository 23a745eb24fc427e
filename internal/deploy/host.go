package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/kargs"
	"github.com/bootc-go/bootc/internal/progress"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/storage"
)

// DefaultStateroot is the stateroot used when a sysroot has no deployment yet.
const DefaultStateroot = "default"

// RebootRequiredFile is written after a change that takes effect at the next boot.
const RebootRequiredFile = "reboot-required"

// ErrNoRollback is returned by Rollback when there is no rollback deployment.
var ErrNoRollback = errors.New("No rollback available")

// ErrDownloadOnlyOffline is returned by Upgrade with DownloadOnly on an offline sysroot:
// there a new deployment is made at once, not staged, so it cannot be held back.
var ErrDownloadOnlyOffline = errors.New("--download-only needs a booted system: it stages the update for later, but an offline sysroot (--sysroot) gets new deployments at once; run bootc upgrade without --download-only")

// Host is a sysroot with its repository and containers-storage store, on which bootc's
// operations run. Booted hosts stage new deployments (finalized at shutdown by
// ostree-finalize-staged.service); offline sysroots get them deployed at once, with the
// /etc merge done in-process.
type Host struct {
	Sysroot *ostree.Sysroot
	Repo    *ostree.Repo
	// Store opens the containers-storage store when an operation needs it.
	Store func(ctx context.Context) (*storage.Store, error)
	// Pull and Import hold the settings for fetching images.
	Pull   storage.PullOptions
	Import importer.Options
	// Progress receives long operations' progress (nil: none).
	Progress progress.Reporter
	// Out receives the messages for the user.
	Out io.Writer
	// RunDir is where reboot-required is written on a booted host ("" disables it).
	RunDir string
	// OnLockWait is called when the sysroot lock is held by another process.
	OnLockWait func()

	store *storage.Store
}

func (h *Host) printf(format string, args ...any) {
	if h.Out != nil {
		fmt.Fprintf(h.Out, format, args...)
	}
}

func (h *Host) openStore(ctx context.Context) (*storage.Store, error) {
	if h.store == nil {
		if h.Store == nil {
			return nil, errors.New("no containers-storage store configured")
		}
		s, err := h.Store(ctx)
		if err != nil {
			return nil, err
		}
		h.store = s
	}
	return h.store, nil
}

// Close closes the store if an operation opened it (the sysroot and repo are the caller's).
func (h *Host) Close() error {
	if h.store != nil {
		err := h.store.Close()
		h.store = nil
		return err
	}
	return nil
}

// lock takes the sysroot lock (waiting for another bootc) and reloads the sysroot.
func (h *Host) lock(ctx context.Context) error {
	if err := h.Sysroot.Lock(ctx, h.OnLockWait); err != nil {
		return err
	}
	if err := h.Sysroot.Load(ctx); err != nil {
		h.Sysroot.Unlock()
		return err
	}
	return nil
}

// Outcome describes what an operation did.
type Outcome struct {
	// Changed is set when a deployment was staged, deployed or reordered.
	Changed bool
	// Staged is the new deployment (nil when none was made).
	Staged *ostree.Deployment
	// Digest and Version describe the image of the new deployment (or of an available
	// update for Upgrade with Check).
	Digest, Version string
	// UpdateAvailable is set by Upgrade with Check.
	UpdateAvailable bool
	// Fetched is the import result, when an image was fetched.
	Fetched *Fetched
}

// currentImage returns the image reference the host tracks: the staged deployment's, else
// the booted one's.
func currentImage(ds *Deployments) (*imgref.OstreeImageReference, *ostree.Deployment, error) {
	for _, d := range []*ostree.Deployment{ds.Staged, ds.Booted} {
		if d == nil {
			continue
		}
		r, err := ImageRefOf(d)
		if err != nil {
			return nil, nil, err
		}
		if r != nil {
			return r, d, nil
		}
	}
	return nil, nil, nil
}

// imageDigest returns the manifest digest recorded in a deployment's commit ("" if none).
func (h *Host) imageDigest(ctx context.Context, d *ostree.Deployment) (string, error) {
	if d == nil {
		return "", nil
	}
	c, err := h.Repo.ReadCommit(ctx, d.Checksum)
	if errors.Is(err, fs.ErrNotExist) {
		// The deployment's commit is gone from the repository (pruned by an older bootc,
		// or deleted by hand): its digest is unknown, so any image is an update.
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("deployment %s.%d: %w", d.Checksum, d.Serial, err)
	}
	s, _ := c.Metadata[importer.MetaManifestDigest].(string)
	return s, nil
}

// SwitchOptions control Switch.
type SwitchOptions struct {
	// Retain keeps the previous image's ref (by default it is pruned when unused).
	Retain bool
}

// Switch makes the host track target: it fetches the image and stages (or, offline,
// deploys) it. When target is what the host already tracks it does nothing.
func (h *Host) Switch(ctx context.Context, target imgref.OstreeImageReference, opts SwitchOptions) (*Outcome, error) {
	if err := h.lock(ctx); err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
	ds, err := Classify(h.Sysroot)
	if err != nil {
		return nil, err
	}
	if cur, _, err := currentImage(ds); err != nil {
		return nil, err
	} else if cur != nil && cur.String() == target.String() {
		h.printf("Image specification is unchanged.\n")
		return &Outcome{}, nil
	}
	return h.fetchAndDeploy(ctx, ds, target, false, opts.Retain)
}

// UpgradeOptions control Upgrade.
type UpgradeOptions struct {
	// Check only looks for an update (one manifest request) and records it for status.
	Check bool
	// DownloadOnly stages the update with finalization locked.
	DownloadOnly bool
	// FromDownloaded unlocks a staged download-only update without fetching anything.
	FromDownloaded bool
	// Tag replaces the tag of the tracked image reference.
	Tag string
}

// Upgrade fetches the newer version of the tracked image and stages it.
func (h *Host) Upgrade(ctx context.Context, opts UpgradeOptions) (*Outcome, error) {
	if opts.Check && (opts.DownloadOnly || opts.FromDownloaded) {
		return nil, errors.New("--check cannot be combined with --download-only or --from-downloaded")
	}
	if err := h.lock(ctx); err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
	ds, err := Classify(h.Sysroot)
	if err != nil {
		return nil, err
	}
	if opts.DownloadOnly && ds.Offline {
		return nil, ErrDownloadOnlyOffline
	}
	if opts.FromDownloaded {
		if ds.Staged == nil {
			return nil, errors.New("No staged deployment to apply (run bootc upgrade --download-only first)")
		}
		if err := ostree.UnlockStaged(); err != nil {
			return nil, err
		}
		h.printf("Staged deployment unlocked; it will be applied at the next reboot.\n")
		return &Outcome{Changed: true, Staged: ds.Staged}, nil
	}
	ref, from, err := currentImage(ds)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return nil, errors.New("the booted deployment has no container image reference; use bootc switch to choose one")
	}
	if g := rpmostreeGroup(from); g != "" {
		return nil, fmt.Errorf("deployment %s has rpm-ostree changes (origin group %q); bootc cannot upgrade it", from.Checksum, g)
	}
	target := *ref
	if opts.Tag != "" {
		if target, err = ref.WithTag(opts.Tag); err != nil {
			return nil, err
		}
	}
	store, err := h.openStore(ctx)
	if err != nil {
		return nil, err
	}
	po, err := PullOptionsFor(target, h.Pull)
	if err != nil {
		return nil, err
	}
	remote, err := store.Inspect(ctx, po)
	if err != nil {
		return nil, err
	}
	digest := remote.ManifestDigest.String()
	version := ""
	if remote.OCIConfig != nil {
		version = remote.OCIConfig.Config.Labels["org.opencontainers.image.version"]
	}
	bootedDigest, err := h.imageDigest(ctx, ds.Booted)
	if err != nil {
		return nil, err
	}
	stagedDigest := ""
	if ds.Staged != nil {
		if stagedDigest, err = h.imageDigest(ctx, ds.Staged); err != nil {
			return nil, err
		}
	}
	out := &Outcome{Digest: digest, Version: version}
	if opts.Check {
		if digest == bootedDigest || digest == stagedDigest {
			h.printf("No changes in: %s\n", target)
			return out, nil
		}
		out.UpdateAvailable = true
		h.printf("Update available for: %s\n", target)
		if version != "" {
			h.printf("  Version: %s\n", version)
		}
		h.printf("  Digest: %s\n", digest)
		if ds.Booted != nil {
			err = h.Repo.WriteDetachedMetadata(ctx, ds.Booted.Checksum, ostree.Metadata{
				CachedManifestDigest: digest, CachedManifest: string(remote.Manifest), CachedConfig: string(remote.Config)})
		}
		return out, err
	}
	switch {
	case ds.Staged != nil && digest == stagedDigest:
		locked := ostree.StagedLocked()
		switch {
		case opts.DownloadOnly && !locked:
			h.printf("Staged update present; locking it (download only).\n")
			return out, ostree.LockStaged()
		case !opts.DownloadOnly && locked:
			h.printf("Staged update present; unlocking it.\n")
			return out, ostree.UnlockStaged()
		}
		h.printf("Staged update present, not changed.\n")
		return out, nil
	case ds.Staged == nil && digest == bootedDigest:
		h.printf("No update available.\n")
		return out, nil
	}
	return h.fetchAndDeploy(ctx, ds, target, opts.DownloadOnly, false)
}

// fetchAndDeploy fetches target, checks /etc and kernel arguments, and stages or deploys it.
func (h *Host) fetchAndDeploy(ctx context.Context, ds *Deployments, target imgref.OstreeImageReference, locked, retain bool) (*Outcome, error) {
	store, err := h.openStore(ctx)
	if err != nil {
		return nil, err
	}
	refsBefore, err := h.containerRefs(ctx)
	if err != nil {
		return nil, err
	}
	f, err := Fetch(ctx, store, h.Repo, target, FetchOptions{Pull: h.Pull, Import: h.Import, Progress: h.Progress,
		Sysroot: h.Sysroot.Path()})
	if err != nil {
		return nil, err
	}
	opts, err := h.prepareDeploy(ctx, ds, target, f.Import.Commit, locked)
	if err != nil {
		// Refused before anything was written to the sysroot (an /etc conflict, bad
		// kargs.d): the fetch is undone, so the repository and the store are as they were.
		if uerr := h.unfetch(ctx, refsBefore); uerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the fetched image again: %w", uerr))
		}
		return nil, err
	}
	d, err := h.writeDeployment(ctx, ds, opts)
	if err != nil {
		return nil, err
	}
	if !f.Report.InPlace {
		// The store keeps what the host runs, for podman (its files hardlinks of the
		// repository's objects); the deployment does not need it.
		if _, _, err := KeepInStore(ctx, store, h.Repo, f, h.Import.Rules); err != nil {
			store.Logger().Warn().Err(err).Str("image", target.Imgref.String()).Msg("the image is deployed, but not kept in containers-storage")
		}
	}
	out := &Outcome{Changed: true, Staged: d, Fetched: f, Digest: f.ManifestDigest, Version: f.Version()}
	if !retain {
		if err := h.Prune(ctx); err != nil {
			return out, fmt.Errorf("deployed, but pruning failed: %w", err)
		}
	}
	if ds.Booted != nil {
		// An update recorded by upgrade --check is now applied.
		if det, err := h.Repo.ReadDetachedMetadata(ctx, ds.Booted.Checksum); err == nil && det[CachedManifestDigest] != nil {
			_ = h.Repo.WriteDetachedMetadata(ctx, ds.Booted.Checksum, nil)
		}
	}
	h.rebootRequired(out.Digest)
	h.printf("Queued for next boot: %s\n", target)
	if out.Version != "" {
		h.printf("  Version: %s\n", out.Version)
	}
	h.printf("  Digest: %s\n", out.Digest)
	r := f.Report
	h.printf("  Fetched %d layers (%s), %d from containers-storage, %d already present\n",
		r.LayersFetched, progress.HumanBytes(uint64(r.BytesFetched)), r.LayersFromStore, r.LayersReused)
	return out, nil
}

// containerRefs returns the image and layer refs of the repository (ref -> commit).
func (h *Host) containerRefs(ctx context.Context) (map[string]string, error) {
	refs, err := h.Repo.ListRefs(ctx, imgref.ImageRefPrefix)
	if err != nil {
		return nil, err
	}
	blobs, err := h.Repo.ListRefs(ctx, imgref.BlobRefPrefix)
	if err != nil {
		return nil, err
	}
	for r, c := range blobs {
		refs[r] = c
	}
	return refs, nil
}

// unfetch undoes a fetch whose image will not be deployed: the image and layer refs are
// put back as they were before (refs the fetch added are deleted, refs it moved are reset)
// and the objects only they reached are pruned. (A fetch writes nothing to the store.)
func (h *Host) unfetch(ctx context.Context, before map[string]string) error {
	ctx = context.WithoutCancel(ctx)
	after, err := h.containerRefs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for ref, commit := range after {
		old, existed := before[ref]
		switch {
		case !existed:
			errs = append(errs, h.Repo.DeleteRef(ctx, ref))
		case old != commit:
			errs = append(errs, h.Repo.SetRef(ctx, ref, old))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if _, err := h.Sysroot.PruneRepo(ctx); err != nil {
		return err
	}
	return nil
}

// prepareDeploy checks that commit can be deployed (the /etc preflight) and computes the
// deployment's options (kernel arguments, origin). It writes nothing.
func (h *Host) prepareDeploy(ctx context.Context, ds *Deployments, target imgref.OstreeImageReference, commit string, locked bool) (ostree.DeployOptions, error) {
	stateroot := DefaultStateroot
	if ds.Booted != nil {
		stateroot = ds.Booted.Stateroot
	}
	if locked && (ds.Booted == nil || ds.Offline) {
		return ostree.DeployOptions{}, ErrDownloadOnlyOffline
	}
	merge := h.Sysroot.MergeDeployment(stateroot)
	newFS, err := NewCommitFS(ctx, h.Repo, commit)
	if err != nil {
		return ostree.DeployOptions{}, err
	}
	defer newFS.Close()
	var args []string
	if merge != nil {
		if conflicts, err := EtcConflicts(h.Sysroot.DeploymentPath(merge), newFS); err != nil {
			return ostree.DeployOptions{}, err
		} else if len(conflicts) > 0 {
			return ostree.DeployOptions{}, &EtcConflictError{Paths: conflicts}
		}
		mergeFS, err := NewCommitFS(ctx, h.Repo, merge.Checksum)
		if err != nil {
			return ostree.DeployOptions{}, err
		}
		cl, err := kargs.ForUpdateFS(merge.BootOptions, mergeFS, newFS, kargs.Arch)
		mergeFS.Close()
		if err != nil {
			return ostree.DeployOptions{}, err
		}
		args = cl.Strings()
	} else {
		cl, _, err := kargs.Load(newFS, kargs.Arch)
		if err != nil {
			return ostree.DeployOptions{}, err
		}
		args = cl.Strings()
	}
	origin := &ostree.KeyFile{}
	origin.Set(OriginGroup, OriginImageKey, target.String())
	return ostree.DeployOptions{Stateroot: stateroot, Revision: commit, Origin: origin, Merge: merge,
		KernelArgs: args, Locked: locked}, nil
}

// writeDeployment makes the deployment prepared by prepareDeploy: staged on a booted host,
// else deployed at once and made the default.
func (h *Host) writeDeployment(ctx context.Context, ds *Deployments, opts ostree.DeployOptions) (*ostree.Deployment, error) {
	if ds.Booted != nil && !ds.Offline {
		return h.Sysroot.StageTree(ctx, opts)
	}
	d, err := h.Sysroot.DeployTree(ctx, opts)
	if err != nil {
		return nil, err
	}
	// New deployment first; the previous default stays as the rollback; pinned deployments
	// and other stateroots are kept.
	list := []*ostree.Deployment{d}
	all, err := h.Sysroot.Deployments()
	if err != nil {
		return nil, err
	}
	for _, o := range all {
		if (opts.Merge != nil && o.Equal(opts.Merge)) || o.Pinned || o.Stateroot != opts.Stateroot {
			list = append(list, o)
		}
	}
	if err := h.Sysroot.WriteDeployments(ctx, list, ostree.WriteOptions{}); err != nil {
		return nil, err
	}
	return d, nil
}

// rebootRequired writes RunDir/reboot-required on a booted host.
func (h *Host) rebootRequired(digest string) {
	if h.RunDir == "" || !h.Sysroot.IsBooted() {
		return
	}
	_ = os.WriteFile(filepath.Join(h.RunDir, RebootRequiredFile), []byte("bootc: Reboot required for image: "+digest+"\n"), 0o644)
}

// Rollback makes the rollback deployment boot next (or reverts a queued rollback). A staged
// deployment is discarded. No /etc merge happens: each deployment keeps its own /etc.
func (h *Host) Rollback(ctx context.Context) (*Outcome, error) {
	if err := h.lock(ctx); err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
	ds, err := Classify(h.Sysroot)
	if err != nil {
		return nil, err
	}
	if ds.Rollback == nil {
		return nil, ErrNoRollback
	}
	var list []*ostree.Deployment
	if ds.RollbackQueued {
		list = []*ostree.Deployment{ds.Booted, ds.Rollback}
		h.printf("Reverting queued rollback state\n")
	} else {
		list = []*ostree.Deployment{ds.Rollback, ds.Booted}
	}
	list = append(list, ds.Other...)
	if err := h.Sysroot.WriteDeployments(ctx, list, ostree.WriteOptions{}); err != nil {
		return nil, err
	}
	if ds.Staged != nil {
		h.printf("Discarded the staged deployment %s.%d\n", ds.Staged.Checksum, ds.Staged.Serial)
	}
	if !ds.RollbackQueued {
		if ref, _ := ImageRefOf(list[0]); ref != nil {
			h.printf("Next boot: rollback deployment (%s)\n", ref)
		} else {
			h.printf("Next boot: rollback deployment %s.%d\n", list[0].Checksum, list[0].Serial)
		}
	}
	h.rebootRequired(list[0].Checksum)
	return &Outcome{Changed: true}, nil
}
