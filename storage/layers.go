package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"

	"github.com/bootc-go/bootc/internal/progress"
)

// SysrootStoreRoot returns the graph root of the containers-storage store that the system
// in sysroot uses once booted: <sysroot>/ostree/deploy/<stateroot>/var/lib/containers/storage
// (the stateroot's /var is the booted system's /var). An offline sysroot and the host it
// becomes share that cache, on the ostree repo's filesystem.
func SysrootStoreRoot(sysroot, stateroot string) string {
	return filepath.Join(sysroot, "ostree", "deploy", stateroot, "var", "lib", "containers", "storage")
}

// ChainID returns the ID containers/image gives the layer with diff ID diffID on top of the
// layer parentID ("" for a base layer): the diff ID's hex for a base layer, else the hex of
// sha256(parentID + "+" + diffID hex) (go.podman.io/image/v5/storage's layerID for layers not
// identified by a TOC).
func ChainID(parentID string, diffID digest.Digest) string {
	if parentID == "" {
		return diffID.Encoded()
	}
	return digest.Canonical.FromString(parentID + "+" + diffID.Encoded()).Encoded()
}

// StoreLayer is a layer of the store, found by its diff ID (see LayerByDiffID).
type StoreLayer struct {
	// ID is the containers-storage layer ID.
	ID string
	// DiffID is the digest of the layer's uncompressed tar (which Open reproduces).
	DiffID digest.Digest
	// CompressedDigest is the digest of the blob the layer was made from, if recorded.
	CompressedDigest digest.Digest
	// Size is the size of the uncompressed tar, -1 if unknown.
	Size int64
	// Dir is the directory holding the layer's unpacked files at their tar paths (overlay:
	// <graphroot>/overlay/<id>/diff; vfs: <graphroot>/vfs/dir/<id>), or "" when the graph
	// driver's layout is not known. Overlay whiteouts are character devices 0:0 there and
	// opaque directories carry the xattr trusted.overlay.opaque=y; the tar stream from Open
	// has them as .wh. entries. Files there must only be read: they may be hardlinks of
	// other files (see PutImage).
	Dir string

	store *Store
}

// LayerByDiffID returns a layer of the store whose uncompressed digest is diffID, or nil (and
// no error) when there is none. Among several, a layer made from a full blob (with a recorded
// compressed digest) is preferred.
func (s *Store) LayerByDiffID(ctx context.Context, diffID digest.Digest) (*StoreLayer, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if diffID == "" {
		return nil, nil
	}
	ls, err := s.store.LayersByUncompressedDigest(diffID)
	if err != nil {
		if errors.Is(err, cstorage.ErrLayerUnknown) {
			return nil, nil
		}
		return nil, fmt.Errorf("looking up layer %s in %s: %w", diffID, s.store.GraphRoot(), err)
	}
	if len(ls) == 0 {
		return nil, nil
	}
	best := ls[0]
	for _, l := range ls {
		if l.CompressedDigest != "" && best.CompressedDigest == "" {
			best = l
		}
	}
	return s.storeLayer(&best), nil
}

// storeLayer describes l.
func (s *Store) storeLayer(l *cstorage.Layer) *StoreLayer {
	sl := &StoreLayer{
		ID:               l.ID,
		DiffID:           l.UncompressedDigest,
		CompressedDigest: l.CompressedDigest,
		Size:             l.UncompressedSize,
		Dir:              s.layerDir(l.ID),
		store:            s,
	}
	if sl.DiffID == "" {
		sl.Size = -1
	}
	return sl
}

// layerDir returns the directory of layer id's files for the drivers whose layout is known,
// if it exists; "" otherwise.
func (s *Store) layerDir(id string) string {
	var dir string
	switch s.store.GraphDriverName() {
	case "overlay", "overlay2":
		dir = filepath.Join(s.store.GraphRoot(), "overlay", id, "diff")
	case "vfs":
		dir = filepath.Join(s.store.GraphRoot(), "vfs", "dir", id)
	default:
		return ""
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	return dir
}

// Open streams the layer's uncompressed tar, reassembled from its tar-split and its files;
// its digest is DiffID unless the layer is damaged (then DropLayer it). The locking rules of
// (*Store).LayerDiff apply: close the reader promptly.
func (l *StoreLayer) Open(ctx context.Context) (io.ReadCloser, error) {
	return l.store.LayerDiff(ctx, Layer{ID: l.ID, UncompressedDigest: l.DiffID, CompressedDigest: l.CompressedDigest, UncompressedSize: l.Size})
}

// DropLayer deletes the store layer id, found corrupt (reason says why: its stream failed its
// diff-ID check, or could not be read), together with every image that uses it (and, as
// containers-storage deletes images, the layers only those images used) and every layer on
// top of it, so that the next pull fetches it again. A warning names the layer and
// the images. It fails (and deletes nothing more) if a container uses one of those images.
// Dropping a layer that no longer exists is not an error.
func (s *Store) DropLayer(ctx context.Context, id string, reason error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	layer, err := s.store.Layer(id)
	if err != nil {
		if errors.Is(err, cstorage.ErrLayerUnknown) {
			return nil
		}
		return fmt.Errorf("layer %s: %w", id, err)
	}
	all, err := s.store.Layers()
	if err != nil {
		return fmt.Errorf("listing layers of %s: %w", s.store.GraphRoot(), err)
	}
	parent := map[string]string{}
	children := map[string][]string{}
	for _, l := range all {
		parent[l.ID] = l.Parent
		if l.Parent != "" {
			children[l.Parent] = append(children[l.Parent], l.ID)
		}
	}
	uses := func(top string) bool {
		for l := top; l != ""; l = parent[l] {
			if l == id {
				return true
			}
		}
		return false
	}
	imgs, err := s.store.Images()
	if err != nil {
		return fmt.Errorf("listing images in %s: %w", s.store.GraphRoot(), err)
	}
	var victims []cstorage.Image
	var names []string
	for _, img := range imgs {
		if uses(img.TopLayer) || slices.ContainsFunc(img.MappedTopLayers, uses) {
			victims = append(victims, img)
			n := img.ID
			if len(img.Names) > 0 {
				n = img.Names[0] + " (" + img.ID + ")"
			}
			names = append(names, n)
		}
	}
	ev := s.log.Warn().Str("layer", id).Str("diff_id", layer.UncompressedDigest.String()).Strs("images", names)
	if reason != nil {
		ev = ev.Err(reason)
	}
	ev.Msg("dropping corrupt layer from containers-storage, with the images using it; it will be fetched again")
	for _, img := range victims {
		if _, err := s.store.DeleteImage(img.ID, true); err != nil && !errors.Is(err, cstorage.ErrImageUnknown) {
			return fmt.Errorf("dropping corrupt layer %s: deleting image %s %v: %w", id, img.ID, img.Names, err)
		}
	}
	// Delete what is left: the layers on top of it first, then the layer.
	var drop func(string) error
	drop = func(l string) error {
		for _, c := range children[l] {
			if err := drop(c); err != nil {
				return err
			}
		}
		if err := s.store.DeleteLayer(l); err != nil && !errors.Is(err, cstorage.ErrLayerUnknown) && !errors.Is(err, cstorage.ErrNotALayer) {
			return fmt.Errorf("dropping corrupt layer %s: deleting layer %s: %w", id, l, err)
		}
		return nil
	}
	return drop(id)
}

// CheckFreeSpace returns an error wrapping ErrInsufficientSpace when the filesystem holding
// path (the graph root if path is "") has fewer than need bytes available; what names the
// operation in the message ("fetching 3 layers of quay.io/x/y").
func (s *Store) CheckFreeSpace(path string, need uint64, what string) error {
	if path == "" {
		path = s.store.GraphRoot()
	}
	avail, err := s.freeSpace(path)
	if err != nil {
		return fmt.Errorf("free space of %s: %w", path, err)
	}
	if need > avail {
		return fmt.Errorf("%w: %s needs %d bytes (%s) in %s, but only %d bytes (%s) are available",
			ErrInsufficientSpace, what, need, progress.HumanBytes(need), path, avail, progress.HumanBytes(avail))
	}
	return nil
}
