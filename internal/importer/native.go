package importer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/bootc-go/bootc/ostree"
)

// This file exports the pieces of ImportImage that internal/ostreeext reuses for
// ostree-native images (issue 14): it imports their base layers as ostree objects and the
// derived layers on top through ImportLayer, and then finishes the image commit as
// ImportImage does.

// NativeImport, set by package ostreeext (in its init), imports an ostree-native image;
// it reports native=false for any other image, which ImportImage then imports itself.
var NativeImport func(ctx context.Context, repo *ostree.Repo, img Image, opts Options) (res *Result, native bool, err error)

// importNative hands ostree-native images to NativeImport. Without it (package ostreeext
// not linked in) such an image is refused rather than imported as generic layers, which
// would lose its split extended attributes and change its commit.
func importNative(ctx context.Context, repo *ostree.Repo, img Image, opts Options) (*Result, bool, error) {
	if NativeImport != nil {
		return NativeImport(ctx, repo, img, opts)
	}
	var cfg imgspecv1.Image
	if json.Unmarshal(img.Config, &cfg) == nil {
		if _, ok := cfg.Config.Labels["ostree.final-diffid"]; ok {
			return nil, true, fmt.Errorf("image %s is an ostree-native image: import it with package ostreeext", img.Target)
		}
	}
	return nil, false, nil
}

// ImageMetadata returns the image commit's metadata as ImportImage writes it.
func ImageMetadata(img Image) (ostree.Metadata, error) { return imageMetadata(img) }

// ImageTimestamp returns the image commit's timestamp as ImportImage chooses it.
func ImageTimestamp(img Image) (time.Time, error) {
	var cfg imgspecv1.Image
	if err := json.Unmarshal(img.Config, &cfg); err != nil {
		return time.Time{}, fmt.Errorf("image %s: parsing config: %w", img.Target, err)
	}
	var man imgspecv1.Manifest
	if err := json.Unmarshal(img.Manifest, &man); err != nil {
		return time.Time{}, fmt.Errorf("image %s: parsing manifest: %w", img.Target, err)
	}
	return imageTimestamp(man, cfg), nil
}

// KnownDiffIDs maps the diff IDs of layers already imported to their layer commits.
func KnownDiffIDs(ctx context.Context, repo *ostree.Repo) (map[string]string, error) {
	return knownDiffIDs(ctx, repo)
}

// FinishTree applies to a merged image tree what ImportImage applies before writing the
// image commit: empty usr/etc/hostname and usr/etc/resolv.conf are removed, and (unless
// allowUnbootable) the tree must have a kernel.
func FinishTree(ctx context.Context, repo *ostree.Repo, merged *ostree.MutableTree, allowUnbootable bool) error {
	if err := removeEmptyFiles(ctx, repo, merged, []string{"usr", "etc"}, "hostname", "resolv.conf"); err != nil {
		return err
	}
	if allowUnbootable {
		return nil
	}
	ok, err := hasKernel(merged)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("not bootable: no kernel at usr/lib/modules/*/vmlinuz")
	}
	return nil
}

// AddStats adds o to s.
func (s *Stats) AddStats(o Stats) {
	if s.Filtered == nil {
		s.Filtered = map[string]int{}
	}
	s.add(o)
}
