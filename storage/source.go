package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/pkg/blobinfocache"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"
)

// Source is an image opened at its source without copying it: its manifest and config are
// read (one manifest request, the config blob), the signature policy and the architecture
// checked, and each layer can then be streamed, verified and decompressed, straight into a
// consumer (the ostree importer). A containers-storage image of this very store is read in
// place (InPlace).
type Source struct {
	// Reference is the transport-qualified source reference.
	Reference string
	// Name is the name the image gets when it is recorded in the store (see PullOptions.Name).
	Name string
	// ManifestDigest, Manifest and ManifestMIMEType describe the image manifest (for a
	// manifest list, the instance for the architecture).
	ManifestDigest   digest.Digest
	Manifest         []byte
	ManifestMIMEType string
	// ConfigDigest and Config are the config blob; OCIConfig is it parsed.
	ConfigDigest digest.Digest
	Config       []byte
	OCIConfig    *imgspecv1.Image
	// Layers lists the layers, base first.
	Layers []SourceLayer
	// InPlace is set for an image of this store read in place; Image is then that image.
	InPlace bool
	Image   *Image

	store *Store
	is    types.ImageSource
	sys   *types.SystemContext
	cache types.BlobInfoCache
	close func() error
}

// SourceLayer is one layer of a Source.
type SourceLayer struct {
	RemoteLayer
	// Store is the store's layer with this diff ID, if the store has one (nil otherwise).
	Store *StoreLayer
}

// StoreLayer is a layer of the store.
type StoreLayer struct {
	// ID is the containers-storage layer ID; DiffID its uncompressed digest.
	ID     string
	DiffID digest.Digest
	// DiffDir is the directory holding the layer's files at their tar paths (the overlay
	// driver's diff directory), "" when the driver's layout is not known.
	DiffDir string

	store *Store
}

// Open streams the layer's uncompressed tar (see (*Store).LayerDiff for the locking).
func (l *StoreLayer) Open(ctx context.Context) (io.ReadCloser, error) {
	return l.store.LayerDiff(ctx, Layer{ID: l.ID, UncompressedDigest: l.DiffID})
}

// OpenSource opens the image o.Source names (any transport Pull takes; a containers-storage
// image of this store in place) and checks it against the signature policy and the
// architecture before any layer is read. The caller must Close it.
func (s *Store) OpenSource(ctx context.Context, o PullOptions) (*Source, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rs, err := s.resolveSource(ctx, o.Source)
	if err != nil {
		return nil, err
	}
	src := &Source{Reference: o.Source, store: s, close: rs.close}
	ok := false
	defer func() {
		if !ok {
			_ = src.Close()
		}
	}()
	sys := s.systemContext(&o)
	pc, err := s.policyContext(&o, sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = pc.Destroy() }()
	if rs.inPlace {
		img, err := s.inPlace(ctx, rs, pc, sys, o.architecture())
		if err != nil {
			return nil, err
		}
		src.InPlace, src.Image = true, img
		src.Name = o.Source
		src.ManifestDigest, src.Manifest, src.ManifestMIMEType = img.ManifestDigest, img.Manifest, img.ManifestMIMEType
		src.ConfigDigest, src.Config, src.OCIConfig = img.ConfigDigest, img.Config, img.OCIConfig
		for _, l := range img.Layers() {
			src.Layers = append(src.Layers, SourceLayer{
				RemoteLayer: RemoteLayer{Digest: l.CompressedDigest, Size: l.CompressedSize, MediaType: l.MediaType, DiffID: l.UncompressedDigest},
				Store:       s.storeLayer(l.ID, l.UncompressedDigest),
			})
		}
		ok = true
		return src, nil
	}

	ri, err := inspectRef(ctx, rs.ref, sys)
	if err != nil {
		return nil, err
	}
	if err := ri.CheckArchitecture(o.architecture()); err != nil {
		return nil, err
	}
	if src.is, err = rs.ref.NewImageSource(ctx, sys); err != nil {
		return nil, fmt.Errorf("opening image %s: %w", o.Source, err)
	}
	var inst *digest.Digest
	if ri.ListDigest != "" {
		inst = &ri.ManifestDigest
	}
	if _, err := pc.IsRunningImageAllowed(ctx, image.UnparsedInstance(src.is, inst)); err != nil {
		return nil, fmt.Errorf("image %s rejected by the signature policy: %w", o.Source, err)
	}
	named, err := destinationName(rs.ref, o.Name)
	if err != nil {
		return nil, err
	}
	src.Name = named.String()
	src.sys, src.cache = sys, blobinfocache.DefaultCache(sys)
	src.ManifestDigest, src.Manifest, src.ManifestMIMEType = ri.ManifestDigest, ri.Manifest, ri.ManifestMIMEType
	src.ConfigDigest, src.Config, src.OCIConfig = ri.ConfigDigest, ri.Config, ri.OCIConfig
	for _, l := range ri.Layers {
		sl := SourceLayer{RemoteLayer: l}
		if l.DiffID != "" {
			if ls, err := s.store.LayersByUncompressedDigest(l.DiffID); err == nil && len(ls) > 0 {
				sl.Store = s.storeLayer(ls[0].ID, l.DiffID)
			}
		}
		src.Layers = append(src.Layers, sl)
	}
	ok = true
	return src, nil
}

// storeLayer describes the store's layer id.
func (s *Store) storeLayer(id string, diffID digest.Digest) *StoreLayer {
	l := &StoreLayer{ID: id, DiffID: diffID, store: s}
	switch s.store.GraphDriverName() {
	case "overlay":
		l.DiffDir = filepath.Join(s.store.GraphRoot(), "overlay", id, "diff")
	case "vfs":
		l.DiffDir = filepath.Join(s.store.GraphRoot(), "vfs", "dir", id)
	}
	return l
}

// Close releases the source.
func (src *Source) Close() error {
	var errs []error
	if src.is != nil {
		errs = append(errs, src.is.Close())
		src.is = nil
	}
	if src.close != nil {
		errs = append(errs, src.close())
		src.close = nil
	}
	return errors.Join(errs...)
}

// OpenLayer streams layer i's uncompressed tar from the source: the blob is fetched (the
// blob info cache records what it learns), its digest verified as it streams (a mismatch is
// an error at its end, naming the blob), and it is decompressed once (gzip, zstd, or none).
// onBytes, if set, is called with the blob bytes read so far. Several layers may be open at
// once. Not for in-place sources, whose layers are store layers.
func (src *Source) OpenLayer(ctx context.Context, i int, onBytes func(n int64)) (io.ReadCloser, error) {
	if src.is == nil {
		return nil, fmt.Errorf("image %s: no source to fetch layers from", src.Reference)
	}
	l := src.Layers[i].RemoteLayer
	rc, size, err := src.is.GetBlob(ctx, types.BlobInfo{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType}, src.cache)
	if err != nil {
		return nil, fmt.Errorf("fetching blob %s of %s: %w", l.Digest, src.Reference, err)
	}
	if l.Size < 0 {
		l.Size = size
	}
	v := &verifier{rc: rc, want: l.Digest, digester: l.Digest.Algorithm().Digester(), onBytes: onBytes, size: l.Size, what: src.Reference}
	if err := l.Digest.Validate(); err != nil {
		rc.Close()
		return nil, fmt.Errorf("blob %s of %s: %w", l.Digest, src.Reference, err)
	}
	algo, dec, br, err := compression.DetectCompressionFormat(v)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("blob %s of %s: detecting its compression: %w", l.Digest, src.Reference, err)
	}
	out := &layerStream{v: v}
	switch {
	case dec == nil:
		out.r = br
	case algo.Name() == compression.Gzip.Name():
		zr, err := pgzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("blob %s of %s: %w", l.Digest, src.Reference, err)
		}
		out.r, out.dec = zr, zr
	default:
		d, err := dec(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("blob %s of %s: %w", l.Digest, src.Reference, err)
		}
		out.r, out.dec = d, d
	}
	return out, nil
}

// verifier checks a blob's digest and size as it is read.
type verifier struct {
	rc       io.ReadCloser
	want     digest.Digest
	digester digest.Digester
	onBytes  func(int64)
	size, n  int64
	what     string
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	if n > 0 {
		v.digester.Hash().Write(p[:n])
		v.n += int64(n)
		if v.onBytes != nil {
			v.onBytes(v.n)
		}
		if v.size >= 0 && v.n > v.size {
			return n, fmt.Errorf("blob %s of %s is larger than its %d bytes", v.want, v.what, v.size)
		}
	}
	if err == io.EOF {
		if got := v.digester.Digest(); got != v.want {
			return n, fmt.Errorf("blob %s of %s has digest %s: %w", v.want, v.what, got, ErrDigestMismatch)
		}
		if v.size >= 0 && v.n != v.size {
			return n, fmt.Errorf("blob %s of %s has %d bytes, not %d", v.want, v.what, v.n, v.size)
		}
	}
	return n, err
}

// layerStream is a decompressed, verified layer. Its end (EOF) is reported only once the
// whole blob was read and matched its digest.
type layerStream struct {
	r   io.Reader
	dec io.ReadCloser
	v   *verifier
}

func (l *layerStream) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err == io.EOF {
		// The decompressor may stop before the blob's end (gzip trailer, padding): the rest
		// must still be read for the digest check.
		if _, cerr := io.Copy(io.Discard, l.v); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

func (l *layerStream) Close() error {
	var err error
	if l.dec != nil {
		err = l.dec.Close()
	}
	return errors.Join(err, l.v.rc.Close())
}
