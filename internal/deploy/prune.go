package deploy

import (
	"context"
	"encoding/json"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
)

// PruneReport says what Prune removed.
type PruneReport struct {
	Images, Layers int
	Objects        int
	Bytes          uint64
	StoreImages    []string
}

// Prune removes what no deployment needs, as upstream's image GC does: image refs that no
// deployment's origin names and whose commit is not deployed, layer refs that no remaining
// image lists, then unreachable objects; and the images bootc pulled into the
// containers-storage store that no remaining image ref corresponds to (images that podman
// built or pulled are never touched).
func (h *Host) Prune(ctx context.Context) (*PruneReport, error) {
	rep := &PruneReport{}
	deps, err := h.Sysroot.Deployments()
	if err != nil {
		return nil, err
	}
	want := pruneKeepSet(deps)
	images, err := h.Repo.ListRefs(ctx, imgref.ImageRefPrefix)
	if err != nil {
		return nil, err
	}
	keepLayers := map[string]bool{}
	keepDigests := map[string]bool{}
	for ref, commit := range images {
		if !want.keepsImage(ref, commit) {
			if err := h.Repo.DeleteRef(ctx, ref); err != nil {
				return nil, err
			}
			rep.Images++
			continue
		}
		c, err := h.Repo.ReadCommit(ctx, commit)
		if err != nil {
			return nil, err
		}
		if d, _ := c.Metadata[importer.MetaManifestDigest].(string); d != "" {
			keepDigests[d] = true
		}
		mj, _ := c.Metadata[importer.MetaManifest].(string)
		for _, ref := range layerRefs(mj) {
			keepLayers[ref] = true
		}
	}
	blobs, err := h.Repo.ListRefs(ctx, imgref.BlobRefPrefix)
	if err != nil {
		return nil, err
	}
	for ref := range blobs {
		if !keepLayers[ref] {
			if err := h.Repo.DeleteRef(ctx, ref); err != nil {
				return nil, err
			}
			rep.Layers++
		}
	}
	// Every deployment's commit is kept even when its deployment ref is missing (a host
	// installed by an older bootc has none): the booted commit must never be pruned.
	st, err := h.Sysroot.PruneRepo(ctx)
	if err != nil {
		return nil, err
	}
	rep.Objects, rep.Bytes = st.Pruned, st.Bytes
	if h.store != nil || h.Store != nil {
		store, err := h.openStore(ctx)
		if err != nil {
			return nil, err
		}
		all, err := store.Images(ctx)
		if err != nil {
			return nil, err
		}
		// Bound images stay while a deployment names them.
		keep, err := boundNames(h.Sysroot, deps)
		if err != nil {
			return nil, err
		}
		for _, i := range all {
			if !i.Pulled || keepDigests[i.ManifestDigest.String()] {
				keep = append(keep, i.ID)
			}
		}
		if rep.StoreImages, err = store.Prune(ctx, keep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// keepSet is what prune keeps of the image refs: those a deployment's origin names, and
// those whose commit a deployment runs.
type keepSet struct {
	refs, commits map[string]bool
}

// pruneKeepSet builds the keep set of the deployments deps.
func pruneKeepSet(deps []*ostree.Deployment) keepSet {
	k := keepSet{refs: map[string]bool{}, commits: map[string]bool{}}
	for _, d := range deps {
		k.commits[d.Checksum] = true
		if r, err := ImageRefOf(d); err == nil && r != nil {
			k.refs[imgref.ImageRef(r.Imgref)] = true
		}
	}
	return k
}

// keepsImage reports whether the image ref ref, at commit, stays.
func (k keepSet) keepsImage(ref, commit string) bool {
	return k.refs[ref] || k.commits[commit]
}

// layerRefs returns the layer commit refs of the layers a manifest (an image commit's
// ostree.manifest metadata) names; none when it does not parse.
func layerRefs(manifest string) []string {
	var man imgspecv1.Manifest
	if json.Unmarshal([]byte(manifest), &man) != nil {
		return nil
	}
	out := make([]string, len(man.Layers))
	for i, l := range man.Layers {
		out[i] = imgref.BlobRef(l.Digest.String())
	}
	return out
}
