package deploy

import (
	"context"
	"errors"
	"fmt"
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
var ErrDownloadOnlyOffline = errors.New("--download-only needs a booted system: it stages the update for later, but an offline sysroot (--sysroot) gets new deployments at once; run the command without --download-only")

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
	// RunDir is where reboot-required is written on a booted host ("" disables it).
	RunDir string
	// OnLockWait is called when the sysroot lock is held by another process.
	OnLockWait func()

	store *storage.Store
}

// reporter is h.Progress, or a Reporter discarding everything.
func (h *Host) reporter() progress.Reporter {
	if h.Progress == nil {
		return progress.Nop{}
	}
	return h.Progress
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

// lockClassified takes the sysroot lock (see lock) and classifies the deployments; the
// caller unlocks the sysroot when it succeeded.
func (h *Host) lockClassified(ctx context.Context) (*Deployments, error) {
	if err := h.lock(ctx); err != nil {
		return nil, err
	}
	ds, err := Classify(h.Sysroot)
	if err != nil {
		h.Sysroot.Unlock()
		return nil, err
	}
	return ds, nil
}

// NewOrigin is the origin file of a deployment that follows target.
func NewOrigin(target imgref.OstreeImageReference) *ostree.KeyFile {
	origin := &ostree.KeyFile{}
	origin.Set(OriginGroup, OriginImageKey, target.String())
	return origin
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
	// DownloadOnly stages the new deployment with finalization locked, as Upgrade's does; it
	// is applied by a Switch with FromDownloaded to the same target only.
	DownloadOnly bool
	// FromDownloaded unlocks the deployment a Switch with DownloadOnly staged for target,
	// without fetching anything.
	FromDownloaded bool
}

// SwitchDownloadFile (in the run directory) names the deployment `switch --download-only`
// staged and its target, so that `switch --from-downloaded` applies that and nothing else.
const SwitchDownloadFile = "bootc/switch-download-only"

// Switch makes the host track target: it fetches the image and stages (or, offline,
// deploys) it. When target is what the host already tracks it does nothing.
func (h *Host) Switch(ctx context.Context, target imgref.OstreeImageReference, opts SwitchOptions) (*Outcome, error) {
	ds, err := h.lockClassified(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
	if opts.FromDownloaded {
		return h.switchFromDownloaded(ds, target)
	}
	if opts.DownloadOnly && ds.Offline {
		return nil, ErrDownloadOnlyOffline
	}
	if cur, from, err := currentImage(ds); err != nil {
		return nil, err
	} else if cur != nil && cur.String() == target.String() {
		if opts.DownloadOnly && from == ds.Staged {
			out := &Outcome{Result: ResultDownloadLocked, Target: target}
			if err := ostree.LockStaged(); err != nil {
				return out, err
			}
			return out, h.recordSwitchDownload(ds.Staged, target)
		}
		h.keepTrackedInStore(ctx, from, target, "")
		return &Outcome{Result: ResultSpecUnchanged, Target: target}, nil
	}
	out, err := h.fetchAndDeploy(ctx, ds, target, opts.DownloadOnly, opts.Retain)
	if err == nil && opts.DownloadOnly {
		err = h.recordSwitchDownload(out.Staged, target)
	}
	return out, err
}

// switchDownloadRecord is what SwitchDownloadFile holds: "<checksum>.<serial> <target>".
func switchDownloadRecord(d *ostree.Deployment, target imgref.OstreeImageReference) string {
	return fmt.Sprintf("%s.%d %s\n", d.Checksum, d.Serial, target)
}

func (h *Host) recordSwitchDownload(d *ostree.Deployment, target imgref.OstreeImageReference) error {
	p := filepath.Join(h.runDir(), SwitchDownloadFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(switchDownloadRecord(d, target)), 0o644)
}

// switchFromDownloaded unlocks the staged deployment if `switch --download-only target`
// staged it.
func (h *Host) switchFromDownloaded(ds *Deployments, target imgref.OstreeImageReference) (*Outcome, error) {
	if ds.Staged == nil {
		return nil, fmt.Errorf("No staged deployment to apply (run bootc switch --download-only %s first)", target)
	}
	p := filepath.Join(h.runDir(), SwitchDownloadFile)
	rec, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if string(rec) != switchDownloadRecord(ds.Staged, target) {
		staged := "an image"
		if r, _ := ImageRefOf(ds.Staged); r != nil {
			staged = r.String()
		}
		return nil, fmt.Errorf("the staged deployment (%s) was not downloaded by bootc switch --download-only %s; nothing applied", staged, target)
	}
	if err := ostree.UnlockStaged(); err != nil {
		return nil, err
	}
	_ = os.Remove(p)
	return &Outcome{Result: ResultDownloadUnlocked, Changed: true, Target: target, Staged: ds.Staged}, nil
}

func (h *Host) runDir() string {
	if h.RunDir == "" {
		return "/run"
	}
	return h.RunDir
}

// SwitchInPlace makes the booted deployment (offline: the one that boots next) follow target
// without fetching anything or making a deployment: its origin is replaced, so the next
// upgrade fetches target. This is upstream's `switch --mutate-in-place`, for installers that
// deploy an image and then point it at its registry (Anaconda's %post). It returns the
// deployment changed.
func (h *Host) SwitchInPlace(ctx context.Context, target imgref.OstreeImageReference) (*ostree.Deployment, error) {
	ds, err := h.lockClassified(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
	if ds.Booted == nil {
		return nil, errors.New("no deployment to change: the sysroot has none")
	}
	if err := h.Sysroot.WriteOrigin(ctx, ds.Booted, NewOrigin(target)); err != nil {
		return nil, err
	}
	return ds.Booted, nil
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
	ds, err := h.lockClassified(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
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
		return &Outcome{Result: ResultDownloadUnlocked, Changed: true, Staged: ds.Staged}, nil
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
	out := &Outcome{Target: target, Digest: digest, Version: version}
	if opts.Check {
		available := digest != bootedDigest && digest != stagedDigest
		if out.Check, err = h.checkUpdate(ctx, store, target, remote, ds.Booted, bootedDigest, available); err != nil {
			return nil, err
		}
		if !available {
			out.Result = ResultCheckNone
			return out, nil
		}
		out.Result, out.UpdateAvailable = ResultCheckAvailable, true
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
			out.Result = ResultStagedLocked
			return out, ostree.LockStaged()
		case !opts.DownloadOnly && locked:
			out.Result = ResultStagedUnlocked
			return out, ostree.UnlockStaged()
		}
		out.Result = ResultStagedKept
		h.keepTrackedInStore(ctx, ds.Staged, target, digest)
		return out, nil
	case ds.Staged == nil && digest == bootedDigest:
		out.Result = ResultNoUpdate
		h.keepTrackedInStore(ctx, ds.Booted, target, digest)
		return out, nil
	}
	return h.fetchAndDeploy(ctx, ds, target, opts.DownloadOnly, false)
}

// keepTrackedInStore makes sure that the store holds dep's image when dep runs target's
// image (remoteDigest: the source's manifest digest if already known). A bootc killed while
// it wrote the store after deploying, or a `podman rmi`, leaves a deployment whose image the
// store lacks, and a rerun then finds nothing to do. The image's manifest and config are read
// from the source again, and its layers from the repository. Opening the store and closing it
// also removes the staging directories a killed write left. The deployment does not need the
// store, so a failure is only a warning.
func (h *Host) keepTrackedInStore(ctx context.Context, dep *ostree.Deployment, target imgref.OstreeImageReference, remoteDigest string) {
	if dep == nil || target.Imgref.Transport == imgref.TransportContainersStorage {
		return // the image is read from the store in place: nothing to keep
	}
	store, err := h.openStore(ctx)
	if err != nil {
		return // no store configured or openable: nothing to keep it in
	}
	log := store.Logger().With().Str("image", target.Imgref.String()).Logger()
	err = func() error {
		digest, err := h.imageDigest(ctx, dep)
		if err != nil || digest == "" {
			return err
		}
		if id, err := storeImageID(ctx, store, digest); err != nil || id != "" {
			return err
		}
		if remoteDigest == "" {
			po, err := PullOptionsFor(target, h.Pull)
			if err != nil {
				return err
			}
			remote, err := store.Inspect(ctx, po)
			if err != nil {
				return err
			}
			remoteDigest = remote.ManifestDigest.String()
		}
		if remoteDigest != digest {
			// The source has moved on; the store gets its image with the next update.
			log.Debug().Str("deployed", digest).Str("source", remoteDigest).Msg("the deployed image is no longer at its source; not restoring it in containers-storage")
			return nil
		}
		f, err := Fetch(ctx, store, h.Repo, target, FetchOptions{Pull: h.Pull, Import: h.Import, Sysroot: h.Sysroot.Path()})
		if err != nil {
			return err
		}
		if f.ManifestDigest != digest {
			return fmt.Errorf("the source changed to %s while it was read", f.ManifestDigest)
		}
		if _, _, err := KeepInStore(ctx, store, h.Repo, f, h.Import.Rules); err != nil {
			return err
		}
		log.Info().Str("digest", digest).Msg("the deployed image was missing from containers-storage; restored it")
		return nil
	}()
	if err != nil {
		log.Warn().Err(err).Msg("the deployed image is not kept in containers-storage")
	}
}

// keepDeployedInStore puts the image f just deployed into the store, for podman (its files
// hardlinks of the repository's objects), unless it was read from the store in place. The
// deployment does not need it, so a failure is a warning.
func (h *Host) keepDeployedInStore(ctx context.Context, store *storage.Store, f *Fetched) {
	if f.Report.InPlace {
		return
	}
	if _, _, err := KeepInStore(ctx, store, h.Repo, f, h.Import.Rules); err != nil {
		store.Logger().Warn().Err(err).Str("image", f.Ref.Imgref.String()).Msg("the image is deployed, but not kept in containers-storage")
	}
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
	// The staging task, with upstream's steps (bound images are pulled before the
	// deployment is written, see PullBound).
	rep := h.reporter()
	rep.Start(progress.Task{Name: progress.TaskStaging, ID: f.ManifestDigest, Description: "Deploying Image", StepsTotal: 4})
	rep.Step(progress.Subtask{Kind: progress.StepMerging, ID: "fetching", Description: "Merging Image"})
	out := &Outcome{Target: target, Fetched: f, Digest: f.ManifestDigest, Version: f.Version()}
	opts, err := h.prepareDeploy(ctx, ds, target, f.Import.Commit, locked)
	if err == nil {
		rep.Step(progress.Subtask{Kind: progress.StepBoundImages, ID: progress.StepBoundImages, Description: "Pulling Bound Images"})
		out.BoundFetched, err = h.pullBound(ctx, store, f.Import.Commit)
	}
	if err != nil {
		// Refused before anything was written to the sysroot (an /etc conflict, bad
		// kargs.d, a bound image that cannot be fetched): the fetch is undone, so the
		// repository is as it was.
		if uerr := h.unfetch(ctx, refsBefore); uerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the fetched image again: %w", uerr))
		}
		return out, err
	}
	rep.Step(progress.Subtask{Kind: progress.StepDeploying, ID: progress.StepDeploying, Description: "Deploying Image"})
	d, err := h.writeDeployment(ctx, ds, opts)
	if err != nil {
		return out, err
	}
	out.Changed, out.Staged = true, d
	// Writing the image's layers into containers-storage takes a while for a large image.
	storing := progress.Subtask{Kind: progress.StatusStoring, ID: f.ManifestDigest, Description: "Storing the image in containers-storage"}
	progress.Status(rep, storing, 0, true)
	h.keepDeployedInStore(ctx, store, f)
	progress.Status(rep, storing, 0, false)
	if !retain {
		rep.Step(progress.Subtask{Kind: progress.StepCleanup, ID: progress.StepCleanup, Description: "Removing old images"})
		if out.Pruned, err = h.Prune(ctx); err != nil {
			return out, fmt.Errorf("deployed, but pruning failed: %w", err)
		}
	}
	rep.Done()
	if ds.Booted != nil {
		// An update recorded by upgrade --check is now applied.
		if det, err := h.Repo.ReadDetachedMetadata(ctx, ds.Booted.Checksum); err == nil && det[CachedManifestDigest] != nil {
			_ = h.Repo.WriteDetachedMetadata(ctx, ds.Booted.Checksum, nil)
		}
	}
	h.rebootRequired(out.Digest)
	out.Result = ResultDeployed
	return out, nil
}

// pullBound pulls the bound images of commit into store (see PullBound) and returns how
// many it pulled.
func (h *Host) pullBound(ctx context.Context, store *storage.Store, commit string) (int, error) {
	cfs, err := NewCommitFS(ctx, h.Repo, commit)
	if err != nil {
		return 0, err
	}
	defer cfs.Close()
	return PullBound(ctx, store, cfs, h.Pull)
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
	return ostree.DeployOptions{Stateroot: stateroot, Revision: commit, Origin: NewOrigin(target), Merge: merge,
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

// rollbackPlan is the deployment list Rollback writes, in boot order: the rollback
// deployment first, then the booted one; or, when a rollback is already queued (the
// rollback boots first), the booted one first again (reverting is then set). The other
// deployments follow; a staged deployment is left out, so writing the list discards it.
func rollbackPlan(ds *Deployments) (list []*ostree.Deployment, reverting bool, err error) {
	if ds.Rollback == nil {
		return nil, false, ErrNoRollback
	}
	if ds.RollbackQueued {
		list = []*ostree.Deployment{ds.Booted, ds.Rollback}
	} else {
		list = []*ostree.Deployment{ds.Rollback, ds.Booted}
	}
	return append(list, ds.Other...), ds.RollbackQueued, nil
}

// Rollback makes the rollback deployment boot next (or reverts a queued rollback). A staged
// deployment is discarded. No /etc merge happens: each deployment keeps its own /etc.
func (h *Host) Rollback(ctx context.Context) (*Outcome, error) {
	ds, err := h.lockClassified(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
	list, reverting, err := rollbackPlan(ds)
	if err != nil {
		return nil, err
	}
	rb := &RollbackOutcome{Reverted: reverting}
	out := &Outcome{Rollback: rb}
	if err := h.Sysroot.WriteDeployments(ctx, list, ostree.WriteOptions{}); err != nil {
		return out, err
	}
	rb.Discarded, rb.NextBoot = ds.Staged, list[0]
	rb.NextBootImage, _ = ImageRefOf(list[0])
	h.rebootRequired(list[0].Checksum)
	out.Result, out.Changed = ResultRolledBack, true
	return out, nil
}
