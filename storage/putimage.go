package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	tsartar "github.com/vbatts/tar-split/archive/tar"
	"github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"
)

// PutLayer describes one layer of a PutImage spec: content already on this machine.
type PutLayer struct {
	// CompressedDigest is the layer's blob digest as listed in the manifest.
	CompressedDigest digest.Digest
	// DiffID is the digest of the layer's uncompressed tar (the config's rootfs.diff_ids entry).
	DiffID digest.Digest
	// TarSplit is the layer's tar-split: the JSON lines vbatts/tar-split's JSON packer writes
	// (storage.NewJSONPacker), plain or gzip-compressed. It gives every tar header byte for
	// byte, so the store reproduces the original tar. Not read when the store already has the
	// layer.
	TarSplit []byte
	// Resolve returns the path of a file holding the content of the regular-file entry name
	// (the entry's name exactly as in its tar header). The file is hardlinked into the store
	// when its owner, mode and xattrs equal the header's (so it must never be modified
	// afterwards, by anyone), copied otherwise. It is called once per regular-file entry.
	Resolve func(name string) (string, error)
}

// PutImageSpec describes an image for PutImage.
type PutImageSpec struct {
	// Name is the name the image gets (e.g. quay.io/x/y:tag; normalised like a Docker
	// reference). Empty: no name.
	Name string
	// Named, if set, is Name already parsed (e.g. Source.Named); it is used instead of
	// parsing Name again.
	Named reference.Named
	// Source is the reference the image came from, recorded in the PulledKey marker.
	Source string
	// Manifest is the image manifest (not a list), exactly as served by its source.
	Manifest []byte
	// ListManifest is the manifest list Manifest was chosen from, if any (stored as
	// containers/image does, so the image can be looked up by the list's digest).
	ListManifest []byte
	// Config is the raw config blob.
	Config []byte
	// Signatures are the image's signatures (each a containers/image signature blob), if any.
	Signatures [][]byte
	// Layers are the manifest's layers, base first, one per non-empty manifest layer.
	Layers []PutLayer
}

// PutStats counts what PutImage did.
type PutStats struct {
	// LayersReused were already in the store; LayersCreated were built by PutImage.
	LayersReused, LayersCreated int
	// FilesLinked were hardlinked from Resolve's files; FilesCopied were copied (metadata
	// differs, another filesystem, too many links, or a driver without a staging API).
	FilesLinked, FilesCopied int
	// BytesLinked and BytesCopied are the sizes of those files.
	BytesLinked, BytesCopied int64
	// ImageCreated says whether the image record is new (else the name was added to it).
	ImageCreated bool
}

// errDifferUnsupported makes PutImage fall back to the tar path.
var errDifferUnsupported = errors.New("staged layer options not supported by the bootc differ")

// PutImage creates an image in the store from content that is already on this machine,
// without downloading anything. For each layer, base first, the layer ID containers/image
// would use (ChainID) is looked up; a missing layer is created from its tar-split and the
// files Resolve names. With the overlay driver it is built through containers-storage's
// staged-layer API (PrepareStagedLayer with bootc's differ, then ApplyStagedLayer): the
// differ writes the layer directory exactly as containers-storage's ApplyDiff would (overlay
// whiteouts as 0:0 character devices, opaque directories as the trusted.overlay.opaque xattr;
// owners, modes, xattrs, times, devices, symlinks, hardlinks between entries as the headers
// say), except that regular files are hardlinks of Resolve's files when those have the
// header's uid, gid, mode and xattrs (a linked file keeps its own mtime), and copies
// otherwise or when linking fails with EXDEV or EMLINK. Other drivers get the layer through
// PutLayer from the tar reassembled from the tar-split and the files (always a copy). Layers
// carry the compressed digest, diff ID, size, UIDs/GIDs and tar-split, so containers/image and
// podman reuse them like pulled layers.
//
// The image record is then written as containers/image's storage destination writes it: ID
// the config digest's hex, the manifest under "manifest" and "manifest-<digest>" (and the
// list's, if any), the config under its digest, the signatures, the creation time from the
// config, and the name; a new image is marked as pulled by bootc (PulledKey). PutImage is
// idempotent: existing layers are reused, an existing image with the same layers gets the
// name added. On failure, the layers and the image it created are deleted.
func (s *Store) PutImage(ctx context.Context, spec PutImageSpec) (*Image, PutStats, error) {
	var stats PutStats
	if err := s.check(ctx); err != nil {
		return nil, stats, err
	}
	mime := manifest.GuessMIMEType(spec.Manifest)
	if manifest.MIMETypeIsMultiImage(mime) {
		return nil, stats, errors.New("PutImage: the manifest is a manifest list; give the image's manifest and the list as ListManifest")
	}
	man, err := manifest.FromBlob(spec.Manifest, mime)
	if err != nil {
		return nil, stats, fmt.Errorf("PutImage: parsing manifest: %w", err)
	}
	manDigest, err := manifest.Digest(spec.Manifest)
	if err != nil {
		return nil, stats, fmt.Errorf("PutImage: manifest digest: %w", err)
	}
	what := "image " + manDigest.String()
	if spec.Name != "" {
		what = "image " + spec.Name + " (" + manDigest.String() + ")"
	}
	ci := man.ConfigInfo()
	if ci.Digest == "" {
		return nil, stats, fmt.Errorf("PutImage: %s has no config", what)
	}
	if got := digest.Canonical.FromBytes(spec.Config); got != ci.Digest {
		return nil, stats, fmt.Errorf("PutImage: %s: config digest %s, manifest says %s", what, got, ci.Digest)
	}
	cfg, err := parseOCIConfig(spec.Config)
	if err != nil {
		return nil, stats, fmt.Errorf("PutImage: %s: parsing config %s: %w", what, ci.Digest, err)
	}
	var infos []manifest.LayerInfo
	for _, li := range man.LayerInfos() {
		if !li.EmptyLayer {
			infos = append(infos, li)
		}
	}
	if len(infos) != len(spec.Layers) {
		return nil, stats, fmt.Errorf("PutImage: %s: manifest lists %d layers, %d given", what, len(infos), len(spec.Layers))
	}
	if len(cfg.RootFS.DiffIDs) != len(spec.Layers) {
		return nil, stats, fmt.Errorf("PutImage: %s: config %s lists %d diff IDs, %d layers given", what, ci.Digest, len(cfg.RootFS.DiffIDs), len(spec.Layers))
	}
	for i, l := range spec.Layers {
		if l.CompressedDigest != infos[i].Digest {
			return nil, stats, fmt.Errorf("PutImage: %s: layer %d is %s in the manifest, %s given", what, i, infos[i].Digest, l.CompressedDigest)
		}
		if l.DiffID != cfg.RootFS.DiffIDs[i] {
			return nil, stats, fmt.Errorf("PutImage: %s: layer %d has diff ID %s in the config, %s given", what, i, cfg.RootFS.DiffIDs[i], l.DiffID)
		}
	}
	named := spec.Named
	if named != nil {
		named = reference.TagNameOnly(named)
	} else if spec.Name != "" {
		n, err := reference.ParseNormalizedNamed(spec.Name)
		if err != nil {
			return nil, stats, fmt.Errorf("PutImage: image name %q: %w", spec.Name, err)
		}
		named = reference.TagNameOnly(n)
	}

	var created []string // layer IDs created here, base first
	ok := false
	defer func() {
		if ok {
			return
		}
		for _, id := range slices.Backward(created) {
			if err := s.store.DeleteLayer(id); err != nil && !errors.Is(err, cstorage.ErrLayerUnknown) {
				s.log.Warn().Err(err).Str("layer", id).Msg("PutImage failed; deleting the layer it created")
			}
		}
	}()
	parent := ""
	for i, l := range spec.Layers {
		if err := ctx.Err(); err != nil {
			return nil, stats, err
		}
		id := ChainID(parent, l.DiffID)
		if _, err := s.store.Layer(id); err == nil {
			stats.LayersReused++
			parent = id
			continue
		} else if !errors.Is(err, cstorage.ErrLayerUnknown) {
			return nil, stats, fmt.Errorf("PutImage: %s: layer %d (%s): %w", what, i, id, err)
		}
		if err := s.createLayer(ctx, id, parent, l, infos[i].Size, &stats); err != nil {
			return nil, stats, fmt.Errorf("PutImage: %s: layer %d (%s, diff ID %s): %w", what, i, l.CompressedDigest, l.DiffID, err)
		}
		created = append(created, id)
		stats.LayersCreated++
		parent = id
	}

	imageID := ci.Digest.Encoded()
	opts, err := imageOptions(spec, manDigest, cfg.Created)
	if err != nil {
		return nil, stats, fmt.Errorf("PutImage: %s: %w", what, err)
	}
	var names []string
	if named != nil {
		names = []string{named.String()}
	}
	// The name is added after the image exists, as containers/image does: AddNames moves a
	// tag that an older image holds (a tag that moved upstream), where CreateImage refuses it.
	simg, err := s.store.CreateImage(imageID, nil, parent, "", opts)
	switch {
	case err == nil:
		stats.ImageCreated = true
		if err := s.markPulled(imageID, spec.Source, names); err != nil {
			if _, derr := s.store.DeleteImage(imageID, false); derr != nil {
				err = errors.Join(err, derr)
			}
			return nil, stats, fmt.Errorf("PutImage: %s: %w", what, err)
		}
	case errors.Is(err, cstorage.ErrDuplicateID):
		simg, err = s.store.Image(imageID)
		if err != nil {
			return nil, stats, fmt.Errorf("PutImage: %s: reading image %s: %w", what, imageID, err)
		}
		if simg.TopLayer != parent {
			return nil, stats, fmt.Errorf("PutImage: %s: image %s exists with top layer %s, not %s: %w", what, imageID, simg.TopLayer, parent, cstorage.ErrDuplicateID)
		}
		for _, bd := range opts.BigData {
			if err := s.store.SetImageBigData(imageID, bd.Key, bd.Data, manifest.Digest); err != nil {
				return nil, stats, fmt.Errorf("PutImage: %s: image %s: saving %s: %w", what, imageID, bd.Key, err)
			}
		}
		if opts.Metadata != "" {
			if err := s.store.SetMetadata(imageID, opts.Metadata); err != nil {
				return nil, stats, fmt.Errorf("PutImage: %s: image %s: saving metadata: %w", what, imageID, err)
			}
		}
	default:
		return nil, stats, fmt.Errorf("PutImage: %s: creating image %s: %w", what, imageID, err)
	}
	if len(names) > 0 {
		if err := s.store.AddNames(imageID, names); err != nil {
			return nil, stats, fmt.Errorf("PutImage: %s: image %s: adding name %s: %w", what, imageID, names[0], err)
		}
		if err := s.recordNames(imageID, names...); err != nil {
			return nil, stats, fmt.Errorf("PutImage: %s: %w", what, err)
		}
	}
	ok = true
	if simg, err = s.store.Image(imageID); err != nil {
		return nil, stats, fmt.Errorf("PutImage: %s: reading image %s: %w", what, imageID, err)
	}
	img, err := s.loadImage(simg)
	if err != nil {
		return nil, stats, err
	}
	s.log.Debug().Str("image", imageID).Strs("names", names).Int("layers_created", stats.LayersCreated).Int("layers_reused", stats.LayersReused).
		Int("files_linked", stats.FilesLinked).Int("files_copied", stats.FilesCopied).Msg("put image into containers-storage")
	return img, stats, nil
}

// imageOptions builds the image record's options as containers/image's storage destination
// does (CommitWithOptions, PutSignaturesWithFormat).
func imageOptions(spec PutImageSpec, manDigest digest.Digest, created *time.Time) (*cstorage.ImageOptions, error) {
	ci, _ := manifest.FromBlob(spec.Manifest, manifest.GuessMIMEType(spec.Manifest))
	cfgDigest := ci.ConfigInfo().Digest
	opts := &cstorage.ImageOptions{}
	if created != nil {
		opts.CreationDate = *created
	}
	opts.BigData = append(opts.BigData, cstorage.ImageBigDataOption{Key: cfgDigest.String(), Data: spec.Config, Digest: digest.Canonical.FromBytes(spec.Config)})
	if len(spec.ListManifest) > 0 && !bytes.Equal(spec.ListManifest, spec.Manifest) {
		ld, err := manifest.Digest(spec.ListManifest)
		if err != nil {
			return nil, fmt.Errorf("manifest list digest: %w", err)
		}
		opts.BigData = append(opts.BigData, cstorage.ImageBigDataOption{Key: cstorage.ImageDigestManifestBigDataNamePrefix + "-" + ld.String(), Data: spec.ListManifest, Digest: ld})
	}
	opts.BigData = append(opts.BigData,
		cstorage.ImageBigDataOption{Key: cstorage.ImageDigestManifestBigDataNamePrefix + "-" + manDigest.String(), Data: spec.Manifest, Digest: manDigest},
		cstorage.ImageBigDataOption{Key: cstorage.ImageDigestBigDataKey, Data: spec.Manifest, Digest: manDigest})
	sizes := []int{}
	var blob []byte
	for _, sig := range spec.Signatures {
		sizes = append(sizes, len(sig))
		blob = append(blob, sig...)
	}
	if blob == nil {
		blob = []byte{}
	}
	meta := struct {
		SignatureSizes  []int                   `json:"signature-sizes,omitempty"`
		SignaturesSizes map[digest.Digest][]int `json:"signatures-sizes,omitempty"`
	}{SignaturesSizes: map[digest.Digest][]int{manDigest: sizes}}
	if len(blob) > 0 {
		meta.SignatureSizes = sizes
		opts.BigData = append(opts.BigData, cstorage.ImageBigDataOption{Key: "signatures", Data: blob, Digest: digest.Canonical.FromBytes(blob)})
	}
	opts.BigData = append(opts.BigData, cstorage.ImageBigDataOption{Key: "signature-" + manDigest.Encoded(), Data: blob, Digest: digest.Canonical.FromBytes(blob)})
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	opts.Metadata = string(b)
	return opts, nil
}

// tarSplitReader returns the plain JSON lines of ts (gunzipped if needed).
func tarSplitReader(ts []byte) (io.Reader, func(), error) {
	if len(ts) >= 2 && ts[0] == 0x1f && ts[1] == 0x8b {
		zr, err := pgzip.NewReader(bytes.NewReader(ts))
		if err != nil {
			return nil, nil, fmt.Errorf("tar-split: %w", err)
		}
		return zr, func() { _ = zr.Close() }, nil
	}
	return bytes.NewReader(ts), func() {}, nil
}

// createLayer creates store layer id on parent from l.
func (s *Store) createLayer(ctx context.Context, id, parent string, l PutLayer, compressedSize int64, stats *PutStats) error {
	if len(l.TarSplit) == 0 {
		return errors.New("no tar-split recorded for the layer")
	}
	if l.Resolve == nil {
		return errors.New("no resolver for the layer's files")
	}
	d := &fillDiffer{ctx: ctx, layer: l}
	diffOpts := &drivers.ApplyDiffWithDifferOpts{}
	out, err := s.store.PrepareStagedLayer(diffOpts, d)
	if err != nil {
		if out != nil && out.Target != "" {
			if cerr := s.store.CleanupStagedLayer(out); cerr != nil {
				s.log.Warn().Err(cerr).Str("layer", id).Msg("cleaning up the staging directory")
			}
		} else if out != nil && out.TarSplit != nil {
			out.TarSplit.Close()
		}
		if errors.Is(err, cstorage.ErrNotSupported) || errors.Is(err, errDifferUnsupported) {
			s.log.Debug().Str("layer", id).Str("driver", s.store.GraphDriverName()).Msg("no staged-layer API for this driver; applying the layer from its reassembled tar")
			return s.putLayerFromTar(ctx, id, parent, l, compressedSize, stats)
		}
		return err
	}
	if _, err := s.store.Layer(id); err == nil {
		// Created meanwhile (a concurrent PutImage or pull): keep that one.
		if cerr := s.store.CleanupStagedLayer(out); cerr != nil {
			s.log.Debug().Err(cerr).Str("layer", id).Msg("cleaning up the staging directory")
		}
		return nil
	}
	stats.FilesLinked += d.linked
	stats.FilesCopied += d.copied
	stats.BytesLinked += d.linkedBytes
	stats.BytesCopied += d.copiedBytes
	if _, err := s.store.ApplyStagedLayer(cstorage.ApplyStagedLayerOptions{
		ID:          id,
		ParentLayer: parent,
		DiffOutput:  out,
		DiffOptions: diffOpts,
	}); err != nil {
		if cerr := s.store.CleanupStagedLayer(out); cerr != nil && !errors.Is(cerr, os.ErrNotExist) {
			s.log.Debug().Err(cerr).Str("layer", id).Msg("cleaning up the staging directory")
		}
		return fmt.Errorf("applying staged layer: %w", err)
	}
	return nil
}

// putLayerFromTar creates the layer from the tar reassembled from its tar-split and files.
func (s *Store) putLayerFromTar(ctx context.Context, id, parent string, l PutLayer, compressedSize int64, stats *PutStats) error {
	r, done, err := tarSplitReader(l.TarSplit)
	if err != nil {
		return err
	}
	defer done()
	fg := &resolverGetter{layer: l, stats: stats}
	tr := asm.NewOutputTarStream(fg, tsstorage.NewJSONUnpacker(r))
	defer tr.Close()
	lo := &cstorage.LayerOptions{OriginalDigest: l.CompressedDigest, UncompressedDigest: l.DiffID}
	if compressedSize > 0 {
		lo.OriginalSize = &compressedSize
	}
	if _, _, err := s.store.PutLayer(id, parent, nil, "", false, lo, &ctxReader{ctx: ctx, rc: tr, layer: Layer{ID: id, UncompressedDigest: l.DiffID}}); err != nil {
		return fmt.Errorf("putting layer %s: %w", id, err)
	}
	return nil
}

// resolverGetter is a tar-split FileGetter reading files through a layer's resolver.
type resolverGetter struct {
	layer PutLayer
	stats *PutStats
}

// Get opens the file holding entry name's content.
func (g *resolverGetter) Get(name string) (io.ReadCloser, error) {
	p, err := g.layer.Resolve(name)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", name, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("content of %s: %w", name, err)
	}
	if fi, err := f.Stat(); err == nil {
		g.stats.FilesCopied++
		g.stats.BytesCopied += fi.Size()
	}
	return f, nil
}

// fillDiffer is a drivers.Differ building a layer directory from a tar-split and a resolver.
type fillDiffer struct {
	ctx   context.Context
	layer PutLayer

	dest     string
	opaque   string // xattr marking opaque directories ("" for AUFS-style whiteouts)
	whiteout bool   // overlay whiteouts (character devices)
	dirs     []dirTimes

	linked, copied           int
	linkedBytes, copiedBytes int64
}

// dirTimes are a directory's times, set once all entries are written.
type dirTimes struct {
	path         string
	atime, mtime time.Time
}

// Close releases nothing.
func (d *fillDiffer) Close() error { return nil }

// countingUnpacker counts the tar size while entries are read.
type countingUnpacker struct {
	up   tsstorage.Unpacker
	size int64
}

// Next returns the next entry.
func (c *countingUnpacker) Next() (*tsstorage.Entry, error) {
	e, err := c.up.Next()
	if err == nil {
		switch e.Type {
		case tsstorage.SegmentType:
			c.size += int64(len(e.Payload))
		case tsstorage.FileType:
			c.size += e.Size
		}
	}
	return e, err
}

// ApplyDiff writes the layer into dest (the driver's staging directory).
func (d *fillDiffer) ApplyDiff(dest string, options *archive.TarOptions, differOpts *drivers.DifferOptions) (out drivers.DriverWithDifferOutput, retErr error) {
	if options != nil && (options.ForceMask != nil || len(options.UIDMaps) > 0 || len(options.GIDMaps) > 0 || options.InUserNS) {
		return out, errDifferUnsupported
	}
	if differOpts != nil && differOpts.Format != drivers.DifferOutputFormatDir {
		return out, errDifferUnsupported
	}
	d.dest = dest
	if options != nil && options.WhiteoutFormat == archive.OverlayWhiteoutFormat {
		d.whiteout = true
		d.opaque = archive.GetOverlayXattrName("opaque")
	}
	// The tar-split goes, uncompressed, into an unlinked file of the staging directory, which
	// containers-storage compresses into the layer's tar-split file.
	tmpDir := dest
	if differOpts != nil && differOpts.StagingDirectory != "" {
		tmpDir = differOpts.StagingDirectory
	}
	f, err := os.CreateTemp(tmpDir, ".bootc-tar-split-")
	if err != nil {
		return out, err
	}
	_ = os.Remove(f.Name())
	defer func() {
		if retErr != nil {
			f.Close()
		}
	}()
	r, done, err := tarSplitReader(d.layer.TarSplit)
	if err != nil {
		return out, err
	}
	up := &countingUnpacker{up: tsstorage.NewJSONUnpacker(io.TeeReader(r, f))}
	uids, gids := map[uint32]bool{}, map[uint32]bool{}
	var rootMode *os.FileMode
	err = asm.IterateHeaders(up, func(hdr *tsartar.Header) error {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if !strings.HasPrefix(path.Base(hdr.Name), archive.WhiteoutPrefix) {
			uids[uint32(hdr.Uid)] = true
			gids[uint32(hdr.Gid)] = true
		}
		rel, err := entryPath(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "." {
			if hdr.Typeflag != tsartar.TypeDir {
				return fmt.Errorf("tar entry %q: the root is not a directory", hdr.Name)
			}
			m := os.FileMode(hdr.Mode & 0o777)
			rootMode = &m
			return d.applyMeta(dest, hdr, true)
		}
		if err := d.entry(rel, hdr); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
		return nil
	})
	// Read what follows the last header (the end-of-archive segments), for the size and the
	// copy of the tar-split.
	for err == nil {
		if _, nerr := up.Next(); nerr != nil {
			if nerr != io.EOF {
				err = nerr
			}
			break
		}
	}
	done()
	if err != nil {
		return out, err
	}
	for _, dt := range slices.Backward(d.dirs) {
		if err := lutimes(dt.path, dt.atime, dt.mtime); err != nil {
			return out, err
		}
	}
	if err := f.Sync(); err != nil {
		return out, fmt.Errorf("tar-split: %w", err)
	}
	out = drivers.DriverWithDifferOutput{
		Target:             dest,
		Size:               up.size,
		UIDs:               sortedIDs(uids),
		GIDs:               sortedIDs(gids),
		UncompressedDigest: d.layer.DiffID,
		CompressedDigest:   d.layer.CompressedDigest,
		TarSplit:           f,
		RootDirMode:        rootMode,
	}
	return out, nil
}

// sortedIDs returns the keys of m, sorted.
func sortedIDs(m map[uint32]bool) []uint32 {
	res := make([]uint32, 0, len(m))
	for k := range m {
		res = append(res, k)
	}
	slices.Sort(res)
	return res
}

// entryPath cleans a tar entry name into a path relative to the layer root, refusing names
// that leave it.
func entryPath(name string) (string, error) {
	c := path.Clean("/" + name)
	if strings.Contains(name, "\x00") {
		return "", fmt.Errorf("tar entry %q: NUL in name", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("tar entry %q: path leaves the layer", name)
		}
	}
	if c == "/" {
		return ".", nil
	}
	return c[1:], nil
}

// parentOK makes sure the parent directory of p (relative) exists and is a real directory
// (not reached through a symlink), creating missing parents as containers-storage does
// (0755, owned by root).
func (d *fillDiffer) parentOK(rel string) error {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	cur := d.dest
	for _, part := range strings.Split(dir, "/") {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			return fmt.Errorf("parent %s is not a directory", strings.TrimPrefix(cur, d.dest+"/"))
		case errors.Is(err, os.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// entry writes one tar entry (rel is its cleaned relative path).
func (d *fillDiffer) entry(rel string, hdr *tsartar.Header) error {
	if err := d.parentOK(rel); err != nil {
		return err
	}
	p := filepath.Join(d.dest, rel)
	base := path.Base(rel)
	if d.whiteout {
		if base == archive.WhiteoutOpaqueDir {
			if err := unix.Lsetxattr(filepath.Dir(p), d.opaque, []byte{'y'}, 0); err != nil {
				return &os.PathError{Op: "setxattr " + d.opaque, Path: filepath.Dir(p), Err: err}
			}
			return nil
		}
		if orig, ok := strings.CutPrefix(base, archive.WhiteoutPrefix); ok {
			if orig == "" || orig == "." || orig == ".." {
				return errors.New("invalid whiteout")
			}
			op := filepath.Join(filepath.Dir(p), orig)
			if err := unix.Mknod(op, unix.S_IFCHR, 0); err != nil {
				if errors.Is(err, unix.ENOTDIR) {
					return nil
				}
				return &os.PathError{Op: "mknod", Path: op, Err: err}
			}
			return os.Lchown(op, hdr.Uid, hdr.Gid)
		}
	}
	// A later entry replaces an earlier one, except directory over directory.
	if fi, err := os.Lstat(p); err == nil {
		if !(fi.IsDir() && hdr.Typeflag == tsartar.TypeDir) {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	switch hdr.Typeflag {
	case tsartar.TypeDir:
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := d.applyMeta(p, hdr, false); err != nil {
			return err
		}
		d.dirs = append(d.dirs, dirTimes{path: p, atime: atimeOf(hdr), mtime: hdr.ModTime})
		return nil
	case tsartar.TypeReg, tsartar.TypeRegA:
		return d.regular(p, hdr)
	case tsartar.TypeLink:
		target, err := entryPath(hdr.Linkname)
		if err != nil || target == "." {
			return fmt.Errorf("hard link target %q is outside the layer", hdr.Linkname)
		}
		return os.Link(filepath.Join(d.dest, target), p)
	case tsartar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
		return d.applyMeta(p, hdr, true)
	case tsartar.TypeChar, tsartar.TypeBlock, tsartar.TypeFifo:
		mode := uint32(hdr.Mode & 0o7777)
		switch hdr.Typeflag {
		case tsartar.TypeChar:
			mode |= unix.S_IFCHR
		case tsartar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		if err := unix.Mknod(p, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return &os.PathError{Op: "mknod", Path: p, Err: err}
		}
		return d.applyMeta(p, hdr, true)
	case tsartar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

// regular writes a regular file: a hardlink of the resolver's file when its metadata is the
// header's, else a copy.
func (d *fillDiffer) regular(p string, hdr *tsartar.Header) error {
	if hdr.Size == 0 && strings.HasPrefix(path.Base(hdr.Name), archive.WhiteoutPrefix) {
		// An AUFS-style whiteout (the driver keeps them as files): no content to resolve.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return d.applyMeta(p, hdr, true)
	}
	src, err := d.layer.Resolve(hdr.Name)
	if err != nil {
		return fmt.Errorf("resolving content: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(src, &st); err != nil {
		return &os.PathError{Op: "stat", Path: src, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("content file %s is not a regular file", src)
	}
	if st.Size != hdr.Size {
		return fmt.Errorf("content file %s has %d bytes, the header says %d", src, st.Size, hdr.Size)
	}
	if int(st.Uid) == hdr.Uid && int(st.Gid) == hdr.Gid && int64(st.Mode&0o7777) == hdr.Mode&0o7777 {
		same, err := sameXattrs(src, headerXattrs(hdr))
		if err != nil {
			return err
		}
		if same {
			err := os.Link(src, p)
			if err == nil {
				d.linked++
				d.linkedBytes += hdr.Size
				return nil
			}
			if !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EMLINK) && !errors.Is(err, unix.EPERM) {
				return err
			}
		}
	}
	if err := copyFile(src, p, hdr.Size); err != nil {
		return err
	}
	d.copied++
	d.copiedBytes += hdr.Size
	return d.applyMeta(p, hdr, true)
}

// copyFile copies src to a new file dst, checking its size.
func copyFile(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if n != size {
		return fmt.Errorf("copying %s: %d bytes, want %d", src, n, size)
	}
	return nil
}

// headerXattrs returns the extended attributes a tar header carries.
func headerXattrs(hdr *tsartar.Header) map[string]string {
	m := map[string]string{}
	for k, v := range hdr.Xattrs { //nolint:staticcheck // the deprecated field is still filled by readers
		m[k] = v
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			m[name] = v
		}
	}
	return m
}

// sameXattrs reports whether the file p has exactly the extended attributes want.
func sameXattrs(p string, want map[string]string) (bool, error) {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return len(want) == 0, nil
		}
		return false, &os.PathError{Op: "listxattr", Path: p, Err: err}
	}
	buf := make([]byte, sz)
	if sz > 0 {
		if sz, err = unix.Llistxattr(p, buf); err != nil {
			return false, &os.PathError{Op: "listxattr", Path: p, Err: err}
		}
		buf = buf[:sz]
	}
	var names []string
	for _, n := range bytes.Split(buf, []byte{0}) {
		if len(n) > 0 {
			names = append(names, string(n))
		}
	}
	if len(names) != len(want) {
		return false, nil
	}
	for _, n := range names {
		w, ok := want[n]
		if !ok {
			return false, nil
		}
		v, err := getxattr(p, n)
		if err != nil {
			return false, err
		}
		if string(v) != w {
			return false, nil
		}
	}
	return true, nil
}

// getxattr reads one extended attribute of p (not following symlinks).
func getxattr(p, name string) ([]byte, error) {
	sz, err := unix.Lgetxattr(p, name, nil)
	if err != nil {
		return nil, &os.PathError{Op: "getxattr " + name, Path: p, Err: err}
	}
	buf := make([]byte, sz)
	sz, err = unix.Lgetxattr(p, name, buf)
	if err != nil {
		return nil, &os.PathError{Op: "getxattr " + name, Path: p, Err: err}
	}
	return buf[:sz], nil
}

// applyMeta gives p the header's owner, xattrs, mode and (unless it is a directory, whose
// times are set at the end) times, as containers-storage's tar extraction does.
func (d *fillDiffer) applyMeta(p string, hdr *tsartar.Header, times bool) error {
	if err := os.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	xs := headerXattrs(hdr)
	keys := make([]string, 0, len(xs))
	for k := range xs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := unix.Lsetxattr(p, k, []byte(xs[k]), 0); err != nil {
			return &os.PathError{Op: "setxattr " + k, Path: p, Err: err}
		}
	}
	if hdr.Typeflag != tsartar.TypeSymlink {
		if err := unix.Chmod(p, uint32(hdr.Mode&0o7777)); err != nil {
			return &os.PathError{Op: "chmod", Path: p, Err: err}
		}
	}
	if times {
		return lutimes(p, atimeOf(hdr), hdr.ModTime)
	}
	return nil
}

// atimeOf returns the header's access time, or its modification time when it has none.
func atimeOf(hdr *tsartar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

// lutimes sets p's times without following symlinks.
func lutimes(p string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: p, Err: err}
	}
	return nil
}
