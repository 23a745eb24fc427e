// Package storagetest builds test fixtures for package storage and its users: OCI image
// layouts generated from Go (no binary blobs in git), deliberately broken variants of them,
// and a local registry (Debian's docker-registry on 127.0.0.1) behind a counting proxy.
package storagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecs "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Epoch is the modification time given to generated files and the default creation time of
// generated images, so that the same spec always yields the same digests.
var Epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// File is one entry of a generated layer.
type File struct {
	// Path is relative to the layer root ("usr/bin/x"); directories may end with "/".
	Path string
	// Type is a tar type flag; zero means tar.TypeReg.
	Type byte
	// Mode is the permission bits; zero means 0644 for files, 0755 for directories.
	Mode int64
	// Content is a regular file's content.
	Content []byte
	// Linkname is the target of a symlink or hard link.
	Linkname string
	// UID and GID own the entry.
	UID, GID int
	// Xattrs are PAX extended attributes (e.g. "user.x").
	Xattrs map[string]string
}

// Break names a deliberate defect of a generated layer.
type Break int

const (
	// Intact layers are correct.
	Intact Break = iota
	// TruncatedGzip: the layer blob is a gzip stream cut in half; the manifest names the
	// truncated blob's own digest, so the defect shows only when decompressing.
	TruncatedGzip
	// WrongDigest: the blob stored under the layer's digest is a valid gzip stream of another
	// tar (the layer with one content byte changed), so only the digest check can catch it.
	WrongDigest
	// MissingBlob: the manifest names a layer blob that is not in the layout.
	MissingBlob
)

// ImageSpec describes a generated image.
type ImageSpec struct {
	// Layers lists each layer's files, base first.
	Layers [][]File
	// Architecture defaults to "amd64"; OS to "linux".
	Architecture, OS string
	// Labels are the config's labels.
	Labels map[string]string
	// Created defaults to Epoch.
	Created time.Time
	// Breaks maps a layer index to the defect to give it.
	Breaks map[int]Break
}

// Layer describes a generated layer.
type Layer struct {
	// Digest and Size are the blob's as listed in the manifest.
	Digest digest.Digest
	Size   int64
	// MediaType is the OCI gzip layer type.
	MediaType string
	// DiffID is the digest of Tar.
	DiffID digest.Digest
	// Tar is the uncompressed layer.
	Tar []byte
	// Files are the entries, as given.
	Files []File
}

// Image is a generated image in an OCI layout.
type Image struct {
	// Dir is the OCI layout directory and Tag the image's ref name in its index.json.
	Dir, Tag string
	// ManifestDigest and Manifest are the image manifest's.
	ManifestDigest digest.Digest
	Manifest       []byte
	// ConfigDigest and Config are the config blob's.
	ConfigDigest digest.Digest
	Config       []byte
	// Layers are the layers, base first.
	Layers []Layer
}

// Reference returns the image's oci: reference ("oci:DIR:TAG").
func (i *Image) Reference() string { return "oci:" + i.Dir + ":" + i.Tag }

// LayerTar builds the uncompressed tar of files, deterministically (fixed times, no user names).
func LayerTar(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:     f.Path,
			Typeflag: f.Type,
			Mode:     f.Mode,
			Linkname: f.Linkname,
			Uid:      f.UID,
			Gid:      f.GID,
			ModTime:  Epoch,
			Format:   tar.FormatPAX,
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.Content))
		}
		if len(f.Xattrs) > 0 {
			h.PAXRecords = map[string]string{}
			for k, v := range f.Xattrs {
				h.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar header for %s: %w", f.Path, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Content); err != nil {
				return nil, fmt.Errorf("tar content of %s: %w", f.Path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tamperedGzip returns the gzip of the tar of files with one byte of the first non-empty
// regular file changed.
func tamperedGzip(files []File) ([]byte, error) {
	changed := slices.Clone(files)
	for i, f := range changed {
		if (f.Type == 0 || f.Type == tar.TypeReg) && len(f.Content) > 0 {
			c := bytes.Clone(f.Content)
			c[0] ^= 0x01
			changed[i].Content = c
			t, err := LayerTar(changed)
			if err != nil {
				return nil, err
			}
			return gzipBytes(t)
		}
	}
	return nil, errors.New("WrongDigest needs a layer with a non-empty regular file")
}

// gzipBytes compresses b deterministically.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeBlob stores b in the layout under d (which need not be b's digest).
func writeBlob(dir string, d digest.Digest, b []byte) error {
	p := filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

// WriteOCI generates the image described by spec into the OCI layout dir (created if needed;
// an existing layout keeps its other tags and blobs, so images can share layers) under tag.
//
// A WrongDigest or MissingBlob defect replaces or removes the blob of the intact layer: give
// broken images a layer no other image of the layout shares.
func WriteOCI(dir, tag string, spec ImageSpec) (*Image, error) {
	img, err := writeImage(dir, tag, spec)
	if err != nil {
		return nil, err
	}
	if err := AddToIndex(dir, tag, imgspecv1.Descriptor{
		MediaType: imgspecv1.MediaTypeImageManifest,
		Digest:    img.ManifestDigest,
		Size:      int64(len(img.Manifest)),
	}); err != nil {
		return nil, err
	}
	return img, nil
}

// List is a generated multi-architecture image: an OCI image index in an OCI layout.
type List struct {
	// Dir is the OCI layout directory and Tag the index's ref name in its index.json.
	Dir, Tag string
	// Digest and Index are the image index's.
	Digest digest.Digest
	Index  []byte
	// Images are the images the index lists, in order.
	Images []*Image
}

// Reference returns the list's oci: reference ("oci:DIR:TAG").
func (l *List) Reference() string { return "oci:" + l.Dir + ":" + l.Tag }

// WriteOCIList generates one image per spec and an OCI image index listing them with their
// platforms, tagged tag in the layout dir.
func WriteOCIList(dir, tag string, specs ...ImageSpec) (*List, error) {
	l := &List{Dir: dir, Tag: tag}
	idx := imgspecv1.Index{Versioned: imgspecs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex}
	for _, spec := range specs {
		img, err := writeImage(dir, tag, spec)
		if err != nil {
			return nil, err
		}
		var cfg imgspecv1.Image
		if err := json.Unmarshal(img.Config, &cfg); err != nil {
			return nil, err
		}
		l.Images = append(l.Images, img)
		idx.Manifests = append(idx.Manifests, imgspecv1.Descriptor{
			MediaType: imgspecv1.MediaTypeImageManifest,
			Digest:    img.ManifestDigest,
			Size:      int64(len(img.Manifest)),
			Platform:  &imgspecv1.Platform{Architecture: cfg.Architecture, OS: cfg.OS},
		})
	}
	var err error
	if l.Index, err = json.Marshal(idx); err != nil {
		return nil, err
	}
	l.Digest = digest.FromBytes(l.Index)
	if err := writeBlob(dir, l.Digest, l.Index); err != nil {
		return nil, err
	}
	if err := AddToIndex(dir, tag, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageIndex, Digest: l.Digest, Size: int64(len(l.Index))}); err != nil {
		return nil, err
	}
	return l, nil
}

// writeImage writes the blobs and manifest of spec into dir without tagging it.
func writeImage(dir, tag string, spec ImageSpec) (*Image, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	img := &Image{Dir: dir, Tag: tag}
	arch, osName := spec.Architecture, spec.OS
	if arch == "" {
		arch = "amd64"
	}
	if osName == "" {
		osName = "linux"
	}
	created := spec.Created
	if created.IsZero() {
		created = Epoch
	}
	cfg := imgspecv1.Image{
		Created:  &created,
		Platform: imgspecv1.Platform{Architecture: arch, OS: osName},
		Config:   imgspecv1.ImageConfig{Labels: spec.Labels},
		RootFS:   imgspecv1.RootFS{Type: "layers"},
	}
	man := imgspecv1.Manifest{
		Versioned: imgspecs.Versioned{SchemaVersion: 2},
		MediaType: imgspecv1.MediaTypeImageManifest,
	}
	var err error
	for i, files := range spec.Layers {
		t, err := LayerTar(files)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		gz, err := gzipBytes(t)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		l := Layer{MediaType: imgspecv1.MediaTypeImageLayerGzip, DiffID: digest.FromBytes(t), Tar: t, Files: files}
		blob := gz
		switch spec.Breaks[i] {
		case TruncatedGzip:
			blob = gz[:len(gz)/2]
			l.Digest = digest.FromBytes(blob)
		case WrongDigest:
			l.Digest = digest.FromBytes(gz)
			if blob, err = tamperedGzip(files); err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
		default:
			l.Digest = digest.FromBytes(gz)
		}
		l.Size = int64(len(blob))
		if spec.Breaks[i] != MissingBlob {
			if err := writeBlob(dir, l.Digest, blob); err != nil {
				return nil, err
			}
		}
		img.Layers = append(img.Layers, l)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		// One history entry per layer, as builders write them (buildah checks the count).
		cfg.History = append(cfg.History, imgspecv1.History{Created: &created, CreatedBy: fmt.Sprintf("storagetest: layer %d", i)})
		man.Layers = append(man.Layers, imgspecv1.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	}
	if img.Config, err = json.Marshal(cfg); err != nil {
		return nil, err
	}
	img.ConfigDigest = digest.FromBytes(img.Config)
	if err := writeBlob(dir, img.ConfigDigest, img.Config); err != nil {
		return nil, err
	}
	man.Config = imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: img.ConfigDigest, Size: int64(len(img.Config))}
	if img.Manifest, err = json.Marshal(man); err != nil {
		return nil, err
	}
	img.ManifestDigest = digest.FromBytes(img.Manifest)
	if err := writeBlob(dir, img.ManifestDigest, img.Manifest); err != nil {
		return nil, err
	}
	return img, nil
}

// AddToIndex records desc under tag in the OCI layout dir's index.json, replacing an entry
// with the same tag, and writes the oci-layout file.
func AddToIndex(dir, tag string, desc imgspecv1.Descriptor) error {
	layout, err := json.Marshal(imgspecv1.ImageLayout{Version: imgspecv1.ImageLayoutVersion})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, imgspecv1.ImageLayoutFile), layout, 0o644); err != nil {
		return err
	}
	idxPath := filepath.Join(dir, "index.json")
	idx := imgspecv1.Index{Versioned: imgspecs.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex}
	switch b, err := os.ReadFile(idxPath); {
	case err == nil:
		if err := json.Unmarshal(b, &idx); err != nil {
			return fmt.Errorf("%s: %w", idxPath, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	kept := idx.Manifests[:0]
	for _, m := range idx.Manifests {
		if m.Annotations[imgspecv1.AnnotationRefName] != tag {
			kept = append(kept, m)
		}
	}
	desc.Annotations = map[string]string{imgspecv1.AnnotationRefName: tag}
	idx.Manifests = append(kept, desc)
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return os.WriteFile(idxPath, b, 0o644)
}

// Bytes returns n deterministic pseudo-random (incompressible) bytes derived from seed.
func Bytes(seed string, n int) []byte {
	out := make([]byte, 0, n+32)
	block := digest.FromString(seed)
	for len(out) < n {
		block = digest.FromString(block.String())
		raw := []byte(block.Encoded())
		// Hex digits carry 4 bits each: pack pairs into bytes.
		for j := 0; j+1 < len(raw); j += 2 {
			out = append(out, hexVal(raw[j])<<4|hexVal(raw[j+1]))
		}
	}
	return out[:n]
}

func hexVal(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}
