package storage

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/ulikunitz/xz"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

// Source is an image opened at its source without copying it (see (*Store).OpenSource): its
// manifest and config are read and checked, and its layers can be streamed one by one
// (concurrently) with OpenLayer. Close it when done.
type Source struct {
	// Reference is the transport-qualified source reference.
	Reference string
	// Name is the name the image gets when it is recorded in a store (PullOptions.Name,
	// else the source's Docker reference, else localhost/bootc/<transport>:<hash>); for an
	// in-place source, its first name in the store.
	Name string
	// Named is Name as parsed here, to hand to PutImage (PutImageSpec.Named) instead of
	// Name, which would be parsed again (nil for an in-place source).
	Named reference.Named
	// ManifestDigest and Manifest are the image manifest's (for a manifest list, of the
	// instance chosen for the architecture), exactly as served.
	ManifestDigest digest.Digest
	Manifest       []byte
	// ManifestMIMEType is the manifest's media type.
	ManifestMIMEType string
	// ListDigest and ListManifest are the manifest list's the image was chosen from, if any.
	ListDigest   digest.Digest
	ListManifest []byte
	// ConfigDigest and Config are the config blob's.
	ConfigDigest digest.Digest
	Config       []byte
	// OCIConfig is the parsed config.
	OCIConfig *imgspecv1.Image
	// Signatures are the image's signatures as the source holds them (for PutImageSpec).
	Signatures [][]byte
	// InPlace says that the source is an image of the store it was opened with: every layer
	// is a StoreLayer, read in place.
	InPlace bool
	// Layers are the image's layers, base first.
	Layers []SourceLayer

	is      types.ImageSource
	bic     types.BlobInfoCache
	fetch   []types.BlobInfo // what to ask GetBlob for, per layer
	cleanup func() error

	closeOnce sync.Once
	closeErr  error
}

// SourceLayer is one layer of a Source.
type SourceLayer struct {
	// Digest is the compressed blob digest listed in the manifest.
	Digest digest.Digest
	// Size is the blob size from the manifest, -1 if unknown.
	Size int64
	// MediaType is the blob's media type from the manifest.
	MediaType string
	// DiffID is the digest of the uncompressed tar, from the config.
	DiffID digest.Digest
	// Store is the layer of the store with this diff ID, if the store has one (always, for an
	// in-place source); nil otherwise. Its content is not verified here: a caller reading it
	// checks its diff ID and drops it (DropLayer) when it fails.
	Store *StoreLayer
}

// OpenSource opens the image named by o.Source without copying it and without a store (a
// containers-storage source must then name its store: containers-storage:[driver@root+run]x).
// See (*Store).OpenSource.
func OpenSource(ctx context.Context, o PullOptions) (*Source, error) {
	var s *Store
	return s.OpenSource(ctx, o)
}

// OpenSource opens the image named by o.Source without copying it: the reference is parsed,
// the signature policy loaded (with RequireSignedPolicy, refused if it accepts anything), the
// manifest read with one request (a manifest list is resolved for o.Architecture, one more
// request), the image checked against the signature policy as copy.Image would before any
// layer is fetched, the config read and the architecture checked. registries.conf (mirrors,
// insecure registries) and the auth files are used exactly as by Pull. For each layer the
// store's layer with the same diff ID, if any, is given (SourceLayer.Store). A
// containers-storage source naming an image of this store is read in place (InPlace): all its
// layers are store layers. s may be nil (see the package-level OpenSource).
func (s *Store) OpenSource(ctx context.Context, o PullOptions) (_ *Source, retErr error) {
	if s != nil {
		if err := s.check(ctx); err != nil {
			return nil, err
		}
	}
	rs, err := s.resolveSource(ctx, o.source(), o.SourceRef)
	if err != nil {
		return nil, err
	}
	src := &Source{Reference: o.Source, cleanup: rs.close}
	defer func() {
		if retErr != nil {
			if err := src.Close(); err != nil {
				s.logger().Warn().Err(err).Str("image", o.Source).Msg("closing source")
			}
		}
	}()
	sys := s.systemContext(&o)
	pc, err := s.policyContext(&o, sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = pc.Destroy() }()
	if rs.inPlace {
		return s.openInPlace(ctx, src, rs, pc, sys, o.architecture())
	}

	named, err := destinationName(rs.ref, o.Name)
	if err != nil {
		return nil, err
	}
	src.Name, src.Named = named.String(), named
	name := transports.ImageName(rs.ref)
	is, err := rs.ref.NewImageSource(ctx, sys)
	if err != nil {
		return nil, fmt.Errorf("opening image %s: %w", name, err)
	}
	src.is = is
	src.bic = blobinfocache.DefaultCache(sys)
	ri, unparsed, img, err := readImage(ctx, is, name, sys)
	if err != nil {
		return nil, err
	}
	if _, err := pc.IsRunningImageAllowed(ctx, unparsed); err != nil {
		return nil, fmt.Errorf("image %s (%s) rejected by the signature policy: %w", o.Source, ri.ManifestDigest, err)
	}
	if err := ri.CheckArchitecture(o.architecture()); err != nil {
		return nil, err
	}
	src.fillFrom(ri)
	if sigs, err := unparsed.Signatures(ctx); err == nil {
		src.Signatures = sigs
	} else {
		s.logger().Debug().Err(err).Str("image", o.Source).Msg("reading signatures")
	}
	infos := img.LayerInfos()
	// Sources such as another containers-storage store serve layers under other digests
	// (uncompressed) than the manifest lists.
	if forCopy, err := img.LayerInfosForCopy(ctx); err == nil && len(forCopy) == len(infos) {
		infos = forCopy
	}
	if len(infos) != len(src.Layers) {
		return nil, fmt.Errorf("image %s: %d layer blobs for %d layers", o.Source, len(infos), len(src.Layers))
	}
	src.fetch = infos
	if s != nil {
		for i := range src.Layers {
			sl, err := s.LayerByDiffID(ctx, src.Layers[i].DiffID)
			if err != nil {
				return nil, err
			}
			src.Layers[i].Store = sl
		}
	}
	return src, nil
}

// fillFrom copies ri's description into src.
func (src *Source) fillFrom(ri *RemoteImage) {
	src.ManifestDigest, src.Manifest, src.ManifestMIMEType = ri.ManifestDigest, ri.Manifest, ri.ManifestMIMEType
	src.ListDigest, src.ListManifest = ri.ListDigest, ri.ListManifest
	src.ConfigDigest, src.Config, src.OCIConfig = ri.ConfigDigest, ri.Config, ri.OCIConfig
	src.Layers = nil
	for _, l := range ri.Layers {
		src.Layers = append(src.Layers, SourceLayer{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType, DiffID: l.DiffID})
	}
}

// openInPlace describes an image of this store as a Source.
func (s *Store) openInPlace(ctx context.Context, src *Source, rs *source, pc *signature.PolicyContext, sys *types.SystemContext, arch string) (*Source, error) {
	img, err := s.inPlace(ctx, rs, pc, sys, arch)
	if err != nil {
		return nil, err
	}
	src.InPlace = true
	if len(img.Names) > 0 {
		src.Name = img.Names[0]
	}
	src.ManifestDigest, src.Manifest, src.ManifestMIMEType = img.ManifestDigest, img.Manifest, img.ManifestMIMEType
	src.ConfigDigest, src.Config, src.OCIConfig = img.ConfigDigest, img.Config, img.OCIConfig
	for _, l := range img.layers {
		cl, err := s.store.Layer(l.ID)
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %s: %w", rs.raw, l.ID, err)
		}
		sl := s.storeLayer(cl)
		if sl.DiffID == "" {
			sl.DiffID = l.UncompressedDigest
		}
		src.Layers = append(src.Layers, SourceLayer{Digest: l.CompressedDigest, Size: l.CompressedSize, MediaType: l.MediaType, DiffID: l.UncompressedDigest, Store: sl})
	}
	return src, nil
}

// readImage reads the manifest of the image is serves (choosing the instance for sys's
// architecture in a manifest list) and its config.
func readImage(ctx context.Context, is types.ImageSource, name string, sys *types.SystemContext) (*RemoteImage, types.UnparsedImage, types.Image, error) {
	ri := &RemoteImage{Reference: name}
	unparsed := image.UnparsedInstance(is, nil)
	raw, mime, err := unparsed.Manifest(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading manifest of %s: %w", name, err)
	}
	if manifest.MIMETypeIsMultiImage(mime) {
		list, err := manifest.ListFromBlob(raw, mime)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("parsing manifest list of %s: %w", name, err)
		}
		if ri.ListDigest, err = manifest.Digest(raw); err != nil {
			return nil, nil, nil, fmt.Errorf("digest of manifest list of %s: %w", name, err)
		}
		ri.ListManifest = raw
		inst, err := list.ChooseInstance(sys)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("choosing an image from manifest list %s of %s: %w", ri.ListDigest, name, err)
		}
		unparsed = image.UnparsedInstance(is, &inst)
		if raw, mime, err = unparsed.Manifest(ctx); err != nil {
			return nil, nil, nil, fmt.Errorf("reading manifest %s of %s: %w", inst, name, err)
		}
	}
	ri.Manifest, ri.ManifestMIMEType = raw, mime
	if ri.ManifestDigest, err = manifest.Digest(raw); err != nil {
		return nil, nil, nil, fmt.Errorf("digest of manifest of %s: %w", name, err)
	}
	img, err := image.FromUnparsedImage(ctx, sys, unparsed)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parsing manifest %s of %s: %w", ri.ManifestDigest, name, err)
	}
	ci := img.ConfigInfo()
	ri.ConfigDigest, ri.ConfigSize = ci.Digest, ci.Size
	if ci.Digest != "" {
		if ri.Config, err = img.ConfigBlob(ctx); err != nil {
			return nil, nil, nil, fmt.Errorf("reading config %s of %s: %w", ci.Digest, name, err)
		}
		if ri.ConfigSize < 0 {
			ri.ConfigSize = int64(len(ri.Config))
		}
	}
	if ri.OCIConfig, err = img.OCIConfig(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("parsing config %s of %s: %w", ci.Digest, name, err)
	}
	infos := img.LayerInfos()
	var diffIDs []digest.Digest
	if ri.OCIConfig != nil {
		diffIDs = ri.OCIConfig.RootFS.DiffIDs
	}
	if len(diffIDs) != 0 && len(diffIDs) != len(infos) {
		return nil, nil, nil, fmt.Errorf("image %s: manifest %s lists %d layers but config %s lists %d diff IDs", name, ri.ManifestDigest, len(infos), ci.Digest, len(diffIDs))
	}
	for i, l := range infos {
		rl := RemoteLayer{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType}
		if len(diffIDs) != 0 {
			rl.DiffID = diffIDs[i]
		}
		ri.Layers = append(ri.Layers, rl)
	}
	return ri, unparsed, img, nil
}

// OpenLayer returns the uncompressed tar stream of layer i. The blob is fetched through
// containers/image (ImageSource.GetBlob, with the blob info cache) as it is read, its digest
// is verified while streaming (a mismatch is reported at the end of the stream as an error
// naming the blob, after which nothing more is returned), and it is decompressed once (gzip,
// zstd, xz, bzip2 or none, recognised by its first bytes). onBytes, if not nil, is called with the
// number of blob bytes read each time some are. Several layers may be read concurrently.
// For an in-place source the store layer's own stream is returned (locking rules of
// (*Store).LayerDiff). The diff ID of the stream is not checked here.
func (src *Source) OpenLayer(ctx context.Context, i int, onBytes func(n int64)) (io.ReadCloser, error) {
	if i < 0 || i >= len(src.Layers) {
		return nil, fmt.Errorf("image %s has no layer %d", src.Reference, i)
	}
	l := src.Layers[i]
	if src.InPlace {
		return l.Store.Open(ctx)
	}
	info := src.fetch[i]
	rc, _, err := src.is.GetBlob(ctx, info, src.bic)
	if err != nil {
		return nil, fmt.Errorf("fetching blob %s (layer %d) of %s: %w", info.Digest, i, src.Reference, err)
	}
	if err := info.Digest.Validate(); err != nil {
		rc.Close()
		return nil, fmt.Errorf("blob %s (layer %d) of %s: %w", info.Digest, i, src.Reference, err)
	}
	vr := &verifyingReader{ctx: ctx, r: rc, want: info.Digest, h: info.Digest.Algorithm().Hash(), onBytes: onBytes, what: fmt.Sprintf("blob %s (layer %d) of %s", info.Digest, i, src.Reference)}
	br := bufio.NewReaderSize(vr, 256<<10)
	lr := &layerReader{vr: vr, br: br, rc: rc}
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		rc.Close()
		return nil, err
	}
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := pgzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("%s: gzip: %w", vr.what, err)
		}
		lr.dec, lr.closeDec = zr, func() { _ = zr.Close() }
	case len(magic) >= 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("%s: zstd: %w", vr.what, err)
		}
		lr.dec, lr.closeDec = zr, zr.Close
	case len(magic) >= 3 && bytes.Equal(magic[:3], []byte("BZh")):
		lr.dec, lr.closeDec = bzip2.NewReader(br), func() {}
	case len(magic) >= 4 && bytes.Equal(magic, []byte{0xfd, '7', 'z', 'X'}):
		zr, err := xz.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("%s: xz: %w", vr.what, err)
		}
		lr.dec, lr.closeDec = zr, func() {}
	default:
		lr.dec, lr.closeDec = br, func() {}
	}
	return lr, nil
}

// RecordDiffID tells the blob info cache that layer i's blob decompresses to its diff ID,
// which containers/image then trusts to reuse store layers for that blob. Call it only once
// the stream's diff ID was verified.
func (src *Source) RecordDiffID(i int) {
	if src.bic == nil || i < 0 || i >= len(src.Layers) {
		return
	}
	l := src.Layers[i]
	if l.Digest != "" && l.DiffID != "" && l.Digest != l.DiffID {
		src.bic.RecordDigestUncompressedPair(l.Digest, l.DiffID)
	}
}

// Close releases the source (and a store opened for a containers-storage source).
func (src *Source) Close() error {
	src.closeOnce.Do(func() {
		var errs []error
		if src.is != nil {
			errs = append(errs, src.is.Close())
		}
		if src.cleanup != nil {
			errs = append(errs, src.cleanup())
		}
		src.closeErr = errors.Join(errs...)
	})
	return src.closeErr
}

// verifyingReader hashes and counts what it reads and checks the digest at EOF.
type verifyingReader struct {
	ctx     context.Context
	r       io.Reader
	want    digest.Digest
	h       hash.Hash
	onBytes func(int64)
	what    string
	err     error
}

// Read reads, hashes and counts; at EOF a digest mismatch is an error.
func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if err := v.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := v.r.Read(p)
	if n > 0 {
		v.h.Write(p[:n])
		if v.onBytes != nil {
			v.onBytes(int64(n))
		}
	}
	switch {
	case err == io.EOF:
		got := digest.NewDigest(v.want.Algorithm(), v.h)
		if got != v.want {
			v.err = fmt.Errorf("%s: digest mismatch: the blob's content has digest %s", v.what, got)
			return n, v.err
		}
		v.err = io.EOF
	case err != nil:
		v.err = fmt.Errorf("%s: %w", v.what, err)
		return n, v.err
	}
	return n, err
}

// layerReader is the decompressed stream of a verified blob.
type layerReader struct {
	vr       *verifyingReader
	br       *bufio.Reader
	rc       io.ReadCloser
	dec      io.Reader
	closeDec func()
	done     bool
}

// Read returns decompressed bytes; at the end of the decompressed stream, the rest of the
// blob is read so that its digest is checked before EOF is returned.
func (l *layerReader) Read(p []byte) (int, error) {
	if l.done {
		return 0, io.EOF
	}
	n, err := l.dec.Read(p)
	if err == io.EOF {
		if _, derr := io.Copy(io.Discard, l.br); derr != nil {
			return n, derr
		}
		if l.vr.err != nil && l.vr.err != io.EOF {
			return n, l.vr.err
		}
		l.done = true
		return n, io.EOF
	}
	if err != nil && l.vr.err != nil && l.vr.err != io.EOF {
		// The decompressor's error comes from the blob: name it.
		return n, l.vr.err
	}
	if err != nil {
		return n, fmt.Errorf("%s: decompressing: %w", l.vr.what, err)
	}
	return n, nil
}

// Close releases the decompressor and the blob stream.
func (l *layerReader) Close() error {
	l.closeDec()
	return l.rc.Close()
}

// ImageSpec returns the PutImageSpec of the source image under name, with the given layer
// contents (their CompressedDigest and DiffID are filled in from the source when empty).
func (src *Source) ImageSpec(name string, layers []PutLayer) PutImageSpec {
	spec := PutImageSpec{Name: name, Source: src.Reference, Manifest: src.Manifest, ListManifest: src.ListManifest, Config: src.Config, Signatures: src.Signatures}
	for i, l := range layers {
		if i < len(src.Layers) {
			if l.CompressedDigest == "" {
				l.CompressedDigest = src.Layers[i].Digest
			}
			if l.DiffID == "" {
				l.DiffID = src.Layers[i].DiffID
			}
		}
		spec.Layers = append(spec.Layers, l)
	}
	return spec
}
