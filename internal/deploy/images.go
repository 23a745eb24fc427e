package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/opencontainers/go-digest"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/storage"
)

// DefaultCopyTarget is the name `bootc image copy-to-storage` gives the image when none is
// chosen, as upstream does.
const DefaultCopyTarget = "localhost/bootc"

// HostImage is an image of the repository: one a deployment was made from or may be.
type HostImage struct {
	// Ref is the image's reference (transport and name).
	Ref imgref.ImageReference
	// Commit is its image commit; ManifestDigest the digest its source served.
	Commit, ManifestDigest string
}

// HostImages lists the images of the repository, sorted by reference.
func (h *Host) HostImages(ctx context.Context) ([]HostImage, error) {
	refs, err := h.Repo.ListRefs(ctx, imgref.ImageRefPrefix)
	if err != nil {
		return nil, err
	}
	var out []HostImage
	for ref, commit := range refs {
		r, err := imgref.ImageReferenceFromRef(ref)
		if err != nil {
			return nil, fmt.Errorf("repository ref %s: %w", ref, err)
		}
		c, err := h.Repo.ReadCommit(ctx, commit)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", r, err)
		}
		d, _ := c.Metadata[importer.MetaManifestDigest].(string)
		out = append(out, HostImage{Ref: r, Commit: commit, ManifestDigest: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref.String() < out[j].Ref.String() })
	return out, nil
}

// Copied is what CopyToStorage did.
type Copied struct {
	// Source is the image copied; Name the name it has in the store now.
	Source imgref.ImageReference
	Name   string
	// ID is the image's ID in the store, ManifestDigest its manifest's digest there.
	ID             string
	ManifestDigest digest.Digest
	// Created is set when the store did not hold the image, which was then made from the
	// repository (its files hardlinks of the repository's objects where they share a
	// filesystem).
	Created bool
}

// CopyToStorage makes the repository's image source (nil: the booted deployment's, on an
// offline sysroot the default one's) an image of the store named target (empty:
// DefaultCopyTarget), for podman: `podman build` FROM it, then `bootc switch --transport
// containers-storage`. When the store holds the image already (bootc keeps what the host runs
// there) it only gets the name. Otherwise it is rebuilt from the repository, which keeps the
// manifest and config as canonical JSON: its digests are then those of these documents, not
// the source's, as with upstream's export. Either way the image is its user's from then on:
// bootc's prune leaves it to `podman rmi`.
func (h *Host) CopyToStorage(ctx context.Context, source *imgref.ImageReference, target string) (*Copied, error) {
	if target == "" {
		target = DefaultCopyTarget
	}
	ds, err := h.lockClassified(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
	var commit string
	if source == nil {
		ref, err := ImageRefOf(ds.Booted)
		if err != nil {
			return nil, err
		}
		if ref == nil {
			return nil, errors.New("the booted deployment has no container image reference; name the image to copy with --source")
		}
		source = &ref.Imgref
		// The booted deployment's own commit: the repository may keep its image under
		// another name than the origin's (install --target-imgref, switch
		// --mutate-in-place).
		commit = ds.Booted.Checksum
	} else {
		if commit, err = h.Repo.ResolveRev(ctx, imgref.ImageRef(*source), true); err != nil {
			return nil, err
		}
		if commit == "" {
			return nil, fmt.Errorf("image %s is not in the repository (see bootc image list)", source)
		}
	}
	c, err := h.Repo.ReadCommit(ctx, commit)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", source, err)
	}
	manDigest, _ := c.Metadata[importer.MetaManifestDigest].(string)
	manJSON, _ := c.Metadata[importer.MetaManifest].(string)
	cfgJSON, _ := c.Metadata[importer.MetaConfig].(string)
	if manJSON == "" || cfgJSON == "" {
		return nil, fmt.Errorf("image %s: commit %s records no manifest and config", source, commit)
	}
	store, err := h.openStore(ctx)
	if err != nil {
		return nil, err
	}
	out := &Copied{Source: *source}
	if out.ID, err = storeImageID(ctx, store, manDigest); err != nil {
		return nil, err
	}
	out.ManifestDigest = digest.Digest(manDigest)
	if out.ID == "" {
		f, err := fetchedFromRepo(ctx, h, *source, []byte(manJSON), []byte(cfgJSON))
		if err != nil {
			return nil, err
		}
		img, _, err := KeepInStore(ctx, store, h.Repo, f, h.Import.Rules)
		if err != nil {
			return nil, fmt.Errorf("copying %s to containers-storage: %w", source, err)
		}
		out.ID, out.ManifestDigest, out.Created = img.ID, img.ManifestDigest, true
	}
	if out.Name, err = store.Tag(ctx, out.ID, target); err != nil {
		return nil, err
	}
	return out, nil
}

// storeImageID returns the ID of the store's image whose manifest digest is manDigest ("" if
// none).
func storeImageID(ctx context.Context, store *storage.Store, manDigest string) (string, error) {
	imgs, err := store.Images(ctx)
	if err != nil {
		return "", err
	}
	for _, i := range imgs {
		if i.ManifestDigest.String() == manDigest {
			return i.ID, nil
		}
	}
	return "", nil
}

// fetchedFromRepo describes the repository's image ref (manifest and config as the
// repository keeps them) for KeepInStore, with no name: the caller names it. The manifest's
// config descriptor is made to match the config kept.
func fetchedFromRepo(ctx context.Context, h *Host, ref imgref.ImageReference, man, cfg []byte) (*Fetched, error) {
	var m map[string]any
	if err := json.Unmarshal(man, &m); err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", ref, err)
	}
	cd, ok := m["config"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("image %s: the manifest has no config", ref)
	}
	cd["digest"], cd["size"] = digest.FromBytes(cfg).String(), len(cfg)
	man, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var layers struct {
		Layers []struct {
			MediaType string        `json:"mediaType"`
			Digest    digest.Digest `json:"digest"`
			Size      int64         `json:"size"`
		} `json:"layers"`
	}
	var config struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(man, &layers); err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", ref, err)
	}
	if err := json.Unmarshal(cfg, &config); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", ref, err)
	}
	if len(layers.Layers) != len(config.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image %s: %d layers in the manifest, %d diff IDs in the config", ref, len(layers.Layers), len(config.RootFS.DiffIDs))
	}
	f := &Fetched{Import: &importer.Result{}, source: sourceInfo{Reference: "ostree-repo:" + ref.String(), Manifest: man, Config: cfg}}
	for i, l := range layers.Layers {
		lc, err := h.Repo.ResolveRev(ctx, imgref.BlobRef(l.Digest.String()), true)
		if err != nil {
			return nil, err
		}
		if lc == "" {
			return nil, fmt.Errorf("image %s: layer %s is not in the repository", ref, l.Digest)
		}
		f.Import.LayerCommits = append(f.Import.LayerCommits, lc)
		f.source.Layers = append(f.source.Layers, storage.SourceLayer{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType, DiffID: config.RootFS.DiffIDs[i]})
	}
	return f, nil
}
