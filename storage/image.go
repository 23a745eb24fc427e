package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	istorage "go.podman.io/image/v5/storage"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
)

// PulledKey is the name of the image big-data item with which Pull marks the images it
// created (a small JSON document: source reference and time). Prune only ever deletes images
// carrying it; images built or pulled by podman in the same store never carry it. The item is
// invisible to podman and removed with the image.
const PulledKey = "bootc.pulled"

// pulledMarker is the content of the PulledKey item.
type pulledMarker struct {
	Source string    `json:"source"`
	Time   time.Time `json:"time"`
	// Names are the names bootc gave the image. A name the image carries beyond them was
	// given by its user (podman tag, bootc image copy-to-storage): Prune keeps it then.
	// Nil in markers written before names were recorded: all the image's names count as
	// bootc's.
	Names []string `json:"names"`
}

// Image is an image in the store.
type Image struct {
	// ID is the containers-storage image ID (for pulled images, the config digest's hex).
	ID string
	// Names are the image's names (e.g. quay.io/x/y:tag, localhost/x:latest).
	Names []string
	// ManifestDigest is the digest of Manifest.
	ManifestDigest digest.Digest
	// Manifest is the image manifest as stored (as served by the source it was pulled from,
	// so its layer digests are the compressed blob digests).
	Manifest []byte
	// ManifestMIMEType is the manifest's media type.
	ManifestMIMEType string
	// ConfigDigest is the digest of Config.
	ConfigDigest digest.Digest
	// Config is the raw config blob.
	Config []byte
	// OCIConfig is the parsed Config (nil for Docker schema1 images, which have none).
	OCIConfig *imgspecv1.Image
	// Created is when the image was created in the store.
	Created time.Time
	// Pulled says whether bootc's Pull created this image (see PulledKey).
	Pulled bool
	// Report summarises the Pull that returned this image; nil otherwise.
	Report *PullReport

	layers []Layer
}

// Layer is one layer of an Image.
type Layer struct {
	// ID is the containers-storage layer ID.
	ID string
	// CompressedDigest is the layer's blob digest as listed in the manifest.
	CompressedDigest digest.Digest
	// CompressedSize is the blob size listed in the manifest (-1 if unknown).
	CompressedSize int64
	// UncompressedDigest is the diff ID: the digest of the layer's uncompressed tar, which
	// LayerDiff reproduces.
	UncompressedDigest digest.Digest
	// UncompressedSize is the size of the uncompressed tar (-1 if unknown).
	UncompressedSize int64
	// MediaType is the blob's media type from the manifest.
	MediaType string
}

// Layers returns the image's layers, base first. Layers are matched with the manifest by
// position, so CompressedDigest and UncompressedDigest of one Layer belong together even when
// the store itself recorded only one of them.
func (i *Image) Layers() []Layer { return slices.Clone(i.layers) }

// CheckArchitecture returns an error wrapping ErrArchitecture when the image is for another
// architecture than arch (empty: runtime.GOARCH).
func (i *Image) CheckArchitecture(arch string) error {
	name := i.ID
	if len(i.Names) > 0 {
		name = i.Names[0]
	}
	return CheckArchitecture(name, i.OCIConfig, arch)
}

// Image returns the image with that ID, ID prefix or name (a name may be short: "localhost/x"
// finds "localhost/x:latest"). The error wraps ErrImageNotFound when there is none.
func (s *Store) Image(ctx context.Context, nameOrID string) (*Image, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	simg, err := s.lookup(nameOrID)
	if err != nil {
		return nil, err
	}
	return s.loadImage(simg)
}

// lookup finds an image by ID, ID prefix or (possibly short) name.
func (s *Store) lookup(nameOrID string) (*cstorage.Image, error) {
	if nameOrID == "" {
		return nil, fmt.Errorf("empty image name: %w", ErrImageNotFound)
	}
	if img, err := s.store.Image(strings.TrimPrefix(nameOrID, "sha256:")); err == nil {
		return img, nil
	}
	ref, err := istorage.Transport.ParseStoreReference(s.store, nameOrID)
	if err != nil {
		return nil, fmt.Errorf("image %q in %s: %w", nameOrID, s.store.GraphRoot(), ErrImageNotFound)
	}
	_, img, err := istorage.ResolveReference(ref)
	if err != nil {
		if errors.Is(err, istorage.ErrNoSuchImage) {
			return nil, fmt.Errorf("image %q in %s: %w", nameOrID, s.store.GraphRoot(), ErrImageNotFound)
		}
		return nil, fmt.Errorf("image %q: %w", nameOrID, err)
	}
	return img, nil
}

// loadImage reads the manifest, config and layer chain of simg.
func (s *Store) loadImage(simg *cstorage.Image) (*Image, error) {
	img := &Image{
		ID:      simg.ID,
		Names:   slices.Clone(simg.Names),
		Created: simg.Created,
		Pulled:  slices.Contains(simg.BigDataNames, PulledKey),
	}
	raw, err := s.store.ImageBigData(simg.ID, cstorage.ImageDigestBigDataKey)
	if err != nil && simg.Digest != "" {
		raw, err = s.store.ImageBigData(simg.ID, cstorage.ImageDigestManifestBigDataNamePrefix+"-"+simg.Digest.String())
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: reading manifest: %w", simg.ID, err)
	}
	img.Manifest = raw
	img.ManifestMIMEType = manifest.GuessMIMEType(raw)
	if img.ManifestDigest, err = manifest.Digest(raw); err != nil {
		return nil, fmt.Errorf("image %s: manifest digest: %w", simg.ID, err)
	}
	if manifest.MIMETypeIsMultiImage(img.ManifestMIMEType) {
		return nil, fmt.Errorf("image %s: stored manifest %s is a manifest list", simg.ID, img.ManifestDigest)
	}
	man, err := manifest.FromBlob(raw, img.ManifestMIMEType)
	if err != nil {
		return nil, fmt.Errorf("image %s: parsing manifest %s: %w", simg.ID, img.ManifestDigest, err)
	}
	if ci := man.ConfigInfo(); ci.Digest != "" {
		img.ConfigDigest = ci.Digest
		if img.Config, err = s.store.ImageBigData(simg.ID, ci.Digest.String()); err != nil {
			return nil, fmt.Errorf("image %s: reading config %s: %w", simg.ID, ci.Digest, err)
		}
		if img.OCIConfig, err = parseOCIConfig(img.Config); err != nil {
			return nil, fmt.Errorf("image %s: parsing config %s: %w", simg.ID, ci.Digest, err)
		}
	}

	var chain []*cstorage.Layer
	for id := simg.TopLayer; id != ""; {
		l, err := s.store.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %s: %w", simg.ID, id, err)
		}
		chain = append(chain, l)
		id = l.Parent
	}
	slices.Reverse(chain)
	var infos []manifest.LayerInfo
	for _, li := range man.LayerInfos() {
		if !li.EmptyLayer {
			infos = append(infos, li)
		}
	}
	if len(infos) != len(chain) {
		return nil, fmt.Errorf("image %s: manifest %s lists %d layers but the store has %d", simg.ID, img.ManifestDigest, len(infos), len(chain))
	}
	var diffIDs []digest.Digest
	if img.OCIConfig != nil && len(img.OCIConfig.RootFS.DiffIDs) == len(chain) {
		diffIDs = img.OCIConfig.RootFS.DiffIDs
	}
	for i, l := range chain {
		ly := Layer{
			ID:                 l.ID,
			CompressedDigest:   infos[i].Digest,
			CompressedSize:     infos[i].Size,
			UncompressedDigest: l.UncompressedDigest,
			UncompressedSize:   l.UncompressedSize,
			MediaType:          infos[i].MediaType,
		}
		if ly.UncompressedDigest == "" && diffIDs != nil {
			ly.UncompressedDigest = diffIDs[i]
		}
		if ly.UncompressedDigest == "" {
			ly.UncompressedSize = -1
		}
		img.layers = append(img.layers, ly)
	}
	return img, nil
}

// markPulled marks the image as created by bootc (Pull, PutImage), bootc having given it
// names.
func (s *Store) markPulled(id, source string, names []string) error {
	return s.writeMarker(id, pulledMarker{Source: source, Time: time.Now().UTC(), Names: append([]string{}, names...)})
}

func (s *Store) writeMarker(id string, m pulledMarker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := s.store.SetImageBigData(id, PulledKey, b, nil); err != nil {
		return fmt.Errorf("image %s: marking as pulled by bootc: %w", id, err)
	}
	return nil
}

// marker returns the image's PulledKey marker, or nil when bootc did not create the image.
func (s *Store) marker(img *cstorage.Image) (*pulledMarker, error) {
	if !slices.Contains(img.BigDataNames, PulledKey) {
		return nil, nil
	}
	b, err := s.store.ImageBigData(img.ID, PulledKey)
	if err != nil {
		return nil, fmt.Errorf("image %s: reading its %s marker: %w", img.ID, PulledKey, err)
	}
	var m pulledMarker
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("image %s: its %s marker: %w", img.ID, PulledKey, err)
	}
	return &m, nil
}

// recordNames adds names to the names bootc gave the image, if bootc created it.
func (s *Store) recordNames(id string, names ...string) error {
	img, err := s.store.Image(id)
	if err != nil {
		return fmt.Errorf("image %s: %w", id, err)
	}
	m, err := s.marker(img)
	if m == nil || err != nil {
		return err
	}
	for _, n := range names {
		if !slices.Contains(m.Names, n) {
			m.Names = append(m.Names, n)
		}
	}
	if m.Names == nil {
		m.Names = []string{}
	}
	return s.writeMarker(id, *m)
}

// userNamed returns the names of img that bootc did not give it (see pulledMarker.Names).
func userNamed(img *cstorage.Image, m *pulledMarker) []string {
	if m == nil || m.Names == nil {
		return nil
	}
	var user []string
	for _, n := range img.Names {
		if !slices.Contains(m.Names, n) {
			user = append(user, n)
		}
	}
	return user
}

// Tag adds name (normalised like a Docker reference, ":latest" when it has no tag or
// digest) to the image with that ID, ID prefix or name, as `podman tag` does: the tag moves
// from an image holding it. An image so named is its user's: Prune no longer deletes it.
func (s *Store) Tag(ctx context.Context, nameOrID, name string) (string, error) {
	if err := s.check(ctx); err != nil {
		return "", err
	}
	img, err := s.lookup(nameOrID)
	if err != nil {
		return "", err
	}
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", name, err)
	}
	full := reference.TagNameOnly(n).String()
	if err := s.store.AddNames(img.ID, []string{full}); err != nil {
		return "", fmt.Errorf("image %s: adding name %s: %w", img.ID, full, err)
	}
	return full, nil
}

// ImageSummary is a short description of an image in the store.
type ImageSummary struct {
	// ID is the image ID.
	ID string
	// Names are the image's names.
	Names []string
	// ManifestDigest is the digest of the image's manifest.
	ManifestDigest digest.Digest
	// Created is when the image was created in the store.
	Created time.Time
	// Pulled says whether bootc's Pull created the image (see PulledKey).
	Pulled bool
}

// Images lists the images in the store, whoever created them.
func (s *Store) Images(ctx context.Context) ([]ImageSummary, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	imgs, err := s.store.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images in %s: %w", s.store.GraphRoot(), err)
	}
	res := make([]ImageSummary, 0, len(imgs))
	for _, i := range imgs {
		res = append(res, ImageSummary{
			ID:             i.ID,
			Names:          slices.Clone(i.Names),
			ManifestDigest: i.Digest,
			Created:        i.Created,
			Pulled:         slices.Contains(i.BigDataNames, PulledKey),
		})
	}
	slices.SortFunc(res, func(a, b ImageSummary) int { return strings.Compare(a.ID, b.ID) })
	return res, nil
}

// LayerDiff streams the uncompressed tar of layer (its changes relative to its parent). For
// layers stored from a full blob, containers-storage reassembles the original tar from its
// tar-split metadata and the files on disk, so the stream's digest is the layer's diff ID.
// Nothing is buffered in memory. Reads fail with ctx's error once ctx is done.
//
// Locking: containers-storage holds the store's layer lock for writing (an in-process mutex
// and a file lock) from this call until the reader is closed. Meanwhile every other operation
// needing that lock waits: another LayerDiff, a Pull committing a layer, Delete, Prune, and
// podman in other processes. Read one layer at a time and close each reader as soon as it is
// consumed; calling such an operation from the goroutine holding an open reader deadlocks.
// Closing a reader before its end reads (and discards) the rest first; see ctxReader.Close.
func (s *Store) LayerDiff(ctx context.Context, layer Layer) (io.ReadCloser, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	unc := archive.Uncompressed
	rc, err := s.store.Diff("", layer.ID, &cstorage.DiffOptions{Compression: &unc})
	if err != nil {
		return nil, fmt.Errorf("layer %s (%s): reading diff: %w", layer.ID, layer.UncompressedDigest, err)
	}
	return &ctxReader{ctx: ctx, rc: rc, layer: layer}, nil
}

// ctxReader stops reading once its context is done and names the layer in read errors.
type ctxReader struct {
	ctx   context.Context
	rc    io.ReadCloser
	layer Layer
}

// Read reads from the diff unless the context is done.
func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("layer %s (%s): %w", r.layer.ID, r.layer.UncompressedDigest, err)
	}
	return n, err
}

// Close reads the rest of the stream before closing it: containers-storage reassembles the tar
// in a goroutine that reads a pgzip-compressed tar-split file, and closing that decompressor
// while the goroutine may still use it is a data race inside pgzip. Draining costs at most
// reading the rest of the layer from disk, and only when a consumer stops early.
func (r *ctxReader) Close() error {
	_, _ = io.Copy(io.Discard, r.rc)
	return r.rc.Close()
}
