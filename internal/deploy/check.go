package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/storage"
)

// UpdateCheck is what `bootc upgrade --check` found: the image the host tracks as the
// registry serves it now, compared with the booted image and with what is on disk. Its
// JSON form is what `upgrade --check --format json` prints.
type UpdateCheck struct {
	// Image is the image reference checked (ostree-unverified-registry:...).
	Image string `json:"image"`
	// UpdateAvailable is set when the image differs from the booted (and the staged) one.
	UpdateAvailable bool `json:"updateAvailable"`
	// Version is the image's org.opencontainers.image.version label (nil if none).
	Version *string `json:"version"`
	// Digest is the image's manifest digest.
	Digest string `json:"digest"`
	// BootedDigest is the booted image's manifest digest (nil if unknown).
	BootedDigest *string `json:"bootedDigest"`
	// Layers are the image's layers, base first.
	Layers []CheckLayer `json:"layers"`
	// Diff compares the image's layers with the booted image's (nil when the booted
	// image's manifest is unknown), as upstream's ManifestDiff does.
	Diff *ManifestDiff `json:"diff"`
	// Fetch are the layers an upgrade would download: neither the ostree repository nor
	// the containers-storage store has them (by digest or by diff ID). Empty without an
	// update.
	Fetch []CheckLayer `json:"fetch"`
	// FetchSize is the sum of the sizes of Fetch.
	FetchSize int64 `json:"fetchSize"`
}

// CheckLayer is one layer of an UpdateCheck.
type CheckLayer struct {
	// Digest is the blob digest from the manifest.
	Digest string `json:"digest"`
	// Size is the blob size from the manifest (compressed, usually).
	Size int64 `json:"size"`
}

// ManifestDiff compares the layers of two manifests by blob digest (upstream's
// ostree-ext ManifestDiff).
type ManifestDiff struct {
	// Total and TotalSize count the new manifest's layers.
	Total     int   `json:"total"`
	TotalSize int64 `json:"totalSize"`
	// Removed are the old manifest's layers the new one lacks, by digest.
	Removed     []CheckLayer `json:"removed"`
	RemovedSize int64        `json:"removedSize"`
	// Added are the new manifest's layers the old one lacks, by digest.
	Added     []CheckLayer `json:"added"`
	AddedSize int64        `json:"addedSize"`
}

// manifestLayers reads the layers of a raw OCI or Docker schema 2 manifest.
func manifestLayers(raw []byte) ([]CheckLayer, error) {
	var m struct {
		Layers []CheckLayer `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parsing the image manifest: %w", err)
	}
	return m.Layers, nil
}

// NewManifestDiff compares the layers of old and new. Removed and Added are sorted by
// digest, as upstream sorts them.
func NewManifestDiff(old, new []CheckLayer) *ManifestDiff {
	d := &ManifestDiff{Removed: []CheckLayer{}, Added: []CheckLayer{}}
	has := func(ls []CheckLayer, digest string) bool {
		return slices.ContainsFunc(ls, func(l CheckLayer) bool { return l.Digest == digest })
	}
	for _, l := range new {
		d.Total++
		d.TotalSize += l.Size
		if !has(old, l.Digest) && !has(d.Added, l.Digest) {
			d.Added = append(d.Added, l)
			d.AddedSize += l.Size
		}
	}
	for _, l := range old {
		if !has(new, l.Digest) && !has(d.Removed, l.Digest) {
			d.Removed = append(d.Removed, l)
			d.RemovedSize += l.Size
		}
	}
	byDigest := func(a, b CheckLayer) int { return strings.Compare(a.Digest, b.Digest) }
	slices.SortFunc(d.Added, byDigest)
	slices.SortFunc(d.Removed, byDigest)
	return d
}

// Lines is upstream's human-readable diff: three lines, counts padded to four columns,
// sizes as GLib's g_format_size writes them.
func (d *ManifestDiff) Lines() string {
	return fmt.Sprintf("Total new layers: %-4d  Size: %s\nRemoved layers:   %-4d  Size: %s\nAdded layers:     %-4d  Size: %s\n",
		d.Total, FormatSizeSI(d.TotalSize), len(d.Removed), FormatSizeSI(d.RemovedSize), len(d.Added), FormatSizeSI(d.AddedSize))
}

// FormatSizeSI formats a byte count as GLib's g_format_size does by default: "1 byte",
// "330 bytes", then one decimal with SI units ("1.5 kB", "356.2 MB").
func FormatSizeSI(n int64) string {
	if n < 0 {
		n = 0
	}
	if n == 1 {
		return "1 byte"
	}
	if n < 1000 {
		return fmt.Sprintf("%d bytes", n)
	}
	units := []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	v := float64(n) / 1000
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// checkUpdate fills an UpdateCheck for remote, the image target resolves to now.
func (h *Host) checkUpdate(ctx context.Context, store *storage.Store, target imgref.OstreeImageReference, remote *storage.RemoteImage,
	booted *ostree.Deployment, bootedDigest string, available bool) (*UpdateCheck, error) {
	c := &UpdateCheck{Image: target.String(), UpdateAvailable: available, Digest: remote.ManifestDigest.String(),
		Layers: []CheckLayer{}, Fetch: []CheckLayer{}}
	if remote.OCIConfig != nil {
		if v := remote.OCIConfig.Config.Labels["org.opencontainers.image.version"]; v != "" {
			c.Version = &v
		}
	}
	if bootedDigest != "" {
		c.BootedDigest = &bootedDigest
	}
	for _, l := range remote.Layers {
		c.Layers = append(c.Layers, CheckLayer{Digest: l.Digest.String(), Size: max(l.Size, 0)})
	}
	if booted != nil {
		commit, err := h.Repo.ReadCommit(ctx, booted.Checksum)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// The booted commit is gone: nothing to compare with.
		case err != nil:
			return nil, fmt.Errorf("deployment %s.%d: %w", booted.Checksum, booted.Serial, err)
		default:
			if raw, _ := commit.Metadata[importer.MetaManifest].(string); raw != "" {
				old, err := manifestLayers([]byte(raw))
				if err != nil {
					return nil, fmt.Errorf("manifest of deployment %s.%d: %w", booted.Checksum, booted.Serial, err)
				}
				c.Diff = NewManifestDiff(old, c.Layers)
			}
		}
	}
	if !available {
		return c, nil
	}
	known, err := importer.KnownDiffIDs(ctx, h.Repo)
	if err != nil {
		return nil, fmt.Errorf("layers of repository %s: %w", h.Repo.Path(), err)
	}
	for i, l := range remote.Layers {
		if commit, err := h.Repo.ResolveRev(ctx, imgref.BlobRef(l.Digest.String()), true); err == nil && commit != "" {
			continue
		}
		if known[l.DiffID.String()] != "" {
			continue
		}
		if sl, err := store.LayerByDiffID(ctx, l.DiffID); err != nil {
			return nil, err
		} else if sl != nil {
			continue
		}
		c.Fetch = append(c.Fetch, c.Layers[i])
		c.FetchSize += c.Layers[i].Size
	}
	return c, nil
}
