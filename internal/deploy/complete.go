package deploy

import (
	"context"
	"fmt"

	"github.com/bootc-go/bootc/internal/boundimage"
	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/installconfig"
	"github.com/bootc-go/bootc/internal/kargs"
	"github.com/bootc-go/bootc/ostree"
)

// Completion is what Complete found and did.
type Completion struct {
	// Stateroot, Checksum and Serial name the completed deployment.
	Stateroot, Checksum string
	Serial              int
	// Target is the image the deployment follows (its origin).
	Target imgref.OstreeImageReference
	// ManifestDigest and Config (raw JSON) describe the deployed image, from its commit.
	ManifestDigest string
	Config         []byte
	// AddedKargs and DeletedKargs are the kernel arguments the boot entry gained and lost.
	AddedKargs, DeletedKargs []string
	// Bound is the number of bound images of the deployment; BoundFetched how many of them
	// were pulled (the others were in the store already).
	Bound, BoundFetched int
}

// Complete brings a deployment made by a plain ostree container deploy (Anaconda's
// ostreecontainer, `ostree container image deploy`), which knows nothing of bootc's
// install steps, to what `bootc install` would have made, as upstream's
// `bootc install ensure-completion` does: the image's logically bound images are pulled
// into the store, then the boot entry gets the kernel arguments of the image's install
// configuration and kargs.d (each added unless already present, then the configuration's
// karg-deletes applied), which ostree's deploy does not read. The deployment completed is
// the booted one, else the default (first) one. Bound images are pulled before anything is
// changed, so a failure leaves the sysroot as it was. Complete is idempotent: a second run
// fetches nothing and leaves the boot entries alone.
func (h *Host) Complete(ctx context.Context) (*Completion, error) {
	if err := h.lock(ctx); err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
	d, err := h.completionTarget()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	name := fmt.Sprintf("deployment %s.%d (stateroot %s)", d.Checksum, d.Serial, d.Stateroot)
	ref, err := ImageRefOf(d)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return nil, fmt.Errorf("%s was not made from a container image: its origin has no %s.%s", name, OriginGroup, OriginImageKey)
	}
	c, err := h.Repo.ReadCommit(ctx, d.Checksum)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := &Completion{Stateroot: d.Stateroot, Checksum: d.Checksum, Serial: d.Serial, Target: *ref}
	out.ManifestDigest, _ = c.Metadata[importer.MetaManifestDigest].(string)
	if cfg, _ := c.Metadata[importer.MetaConfig].(string); cfg != "" {
		out.Config = []byte(cfg)
	}
	cfs, err := NewCommitFS(ctx, h.Repo, d.Checksum)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer cfs.Close()
	cfg, _, err := installconfig.Load(cfs, kargs.Arch)
	if err != nil {
		return nil, fmt.Errorf("%s: install configuration: %w", name, err)
	}
	kargsd, _, err := kargs.Load(cfs, kargs.Arch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}

	bound, err := boundimage.List(cfs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if out.Bound = len(bound); out.Bound > 0 {
		store, err := h.openStore(ctx)
		if err != nil {
			return nil, fmt.Errorf("opening containers-storage for the bound images: %w", err)
		}
		if out.BoundFetched, err = PullBound(ctx, store, cfs, h.Pull); err != nil {
			return nil, err
		}
	}

	// The arguments install would have given: the current ones, then the install
	// configuration's and kargs.d's, in install's order (kargs.ForInstall).
	current := kargs.Parse(d.BootOptions)
	src := kargs.InstallSources{Root: current, Kargsd: kargsd}
	if cfg != nil {
		src.Config, src.ConfigDeletes = cfg.Kargs, cfg.KargDeletes
	}
	want := kargs.ForInstall(src)
	for _, a := range want {
		if !current.Contains(a) {
			out.AddedKargs = append(out.AddedKargs, a.String())
		}
	}
	for _, a := range current {
		if !want.Contains(a) {
			out.DeletedKargs = append(out.DeletedKargs, a.String())
		}
	}
	if len(out.AddedKargs) > 0 || len(out.DeletedKargs) > 0 {
		if err := h.Sysroot.SetKargs(ctx, d, want.Strings()); err != nil {
			return nil, err
		}
		if err := h.Sysroot.Load(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// completionTarget is the deployment Complete works on.
func (h *Host) completionTarget() (*ostree.Deployment, error) {
	if b := h.Sysroot.Booted(); b != nil {
		return b, nil
	}
	ds, err := h.Sysroot.Deployments()
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("no deployment in the sysroot %s: nothing to complete (deploy an image first)", h.Sysroot.Path())
	}
	for _, d := range ds[1:] {
		d.Close()
	}
	return ds[0], nil
}
