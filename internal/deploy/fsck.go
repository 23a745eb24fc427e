package deploy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FsckCheck is the result of one check of Fsck.
type FsckCheck struct {
	// Name is the check's name (upstream's where it has one).
	Name string
	// Findings are the problems found, empty when the check passed.
	Findings []string
	// Err is set when the check could not run.
	Err error
}

// Fsck checks the host as upstream's `bootc internals fsck` does, and more:
//   - etc-resolvconf: the booted deployment's /usr/etc/resolv.conf is not an empty file
//     (buildah injects one; it must not reach /etc);
//   - repo: every object of every deployment's commit exists and hashes to its name;
//   - store: containers-storage holds the image of the deployment that boots next.
func (h *Host) Fsck(ctx context.Context) []FsckCheck {
	ds, err := Classify(h.Sysroot)
	if err != nil {
		return []FsckCheck{{Name: "deployments", Err: err}}
	}
	return []FsckCheck{h.fsckResolvconf(ds), h.fsckRepo(ctx), h.fsckStore(ctx, ds)}
}

func (h *Host) fsckResolvconf(ds *Deployments) FsckCheck {
	c := FsckCheck{Name: "etc-resolvconf"}
	if ds.Booted == nil {
		return c
	}
	p := filepath.Join(h.Sysroot.DeploymentPath(ds.Booted), "usr/etc/resolv.conf")
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		c.Err = err
	case fi.Mode().IsRegular() && fi.Size() == 0:
		c.Findings = append(c.Findings, "ResolvconfZeroSized: usr/etc/resolv.conf: zero-sized file")
	}
	return c
}

func (h *Host) fsckRepo(ctx context.Context) FsckCheck {
	c := FsckCheck{Name: "repo"}
	deps, err := h.Sysroot.Deployments()
	if err != nil {
		c.Err = err
		return c
	}
	seen := map[string]bool{}
	for _, d := range deps {
		if seen[d.Checksum] {
			continue
		}
		seen[d.Checksum] = true
		res, err := h.Repo.FsckCommit(ctx, d.Checksum)
		if err != nil {
			c.Err = err
			return c
		}
		for _, b := range res.Bad {
			c.Findings = append(c.Findings, fmt.Sprintf("deployment %s.%d: %s", d.Checksum, d.Serial, b))
		}
	}
	return c
}

func (h *Host) fsckStore(ctx context.Context, ds *Deployments) FsckCheck {
	c := FsckCheck{Name: "store"}
	_, dep, err := currentImage(ds)
	if err != nil || dep == nil {
		c.Err = err
		return c
	}
	ref, _ := ImageRefOf(dep)
	digest, err := h.imageDigest(ctx, dep)
	if err != nil || digest == "" {
		c.Err = err
		return c
	}
	store, err := h.openStore(ctx)
	if err != nil {
		c.Err = err
		return c
	}
	if id, err := storeImageID(ctx, store, digest); err != nil || id != "" {
		c.Err = err
		return c
	}
	c.Findings = append(c.Findings, fmt.Sprintf("ImageNotInStore: %s (%s): not in containers-storage at %s; the next upgrade or switch puts it back", ref, digest, store.GraphRoot()))
	return c
}
