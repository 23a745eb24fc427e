package storage

import (
	"context"
	"fmt"
	"slices"

	"github.com/rs/zerolog"
)

// Log returns the store's logger.
func (s *Store) Log() *zerolog.Logger { return &s.log }

// CheckFreeSpace refuses (ErrInsufficientSpace) when path's filesystem has fewer than need
// bytes free.
func (s *Store) CheckFreeSpace(path string, need uint64) error {
	avail, err := s.freeSpace(path)
	if err != nil {
		return fmt.Errorf("free space of %s: %w", path, err)
	}
	if need > avail {
		return fmt.Errorf("the image needs at least %d bytes (%s, the compressed size of the layers to fetch) in %s, but only %d bytes (%s) are available: %w",
			need, humanBytes(need), path, avail, humanBytes(avail), ErrInsufficientSpace)
	}
	return nil
}

// DropLayer deletes the store's layer id, found corrupt (reason: its content failed its
// diff-ID check, or could not be read), together with the images and layers built on it, so
// that the next pull fetches it again. A warning names the layer and the images.
func (s *Store) DropLayer(ctx context.Context, id string, reason error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	images, err := s.store.Images()
	if err != nil {
		return fmt.Errorf("listing images in %s: %w", s.store.GraphRoot(), err)
	}
	layers, err := s.store.Layers()
	if err != nil {
		return fmt.Errorf("listing layers in %s: %w", s.store.GraphRoot(), err)
	}
	// The layer and its descendants, leaves first.
	parent := map[string]string{}
	for _, l := range layers {
		parent[l.ID] = l.Parent
	}
	above := func(l string) bool {
		for ; l != ""; l = parent[l] {
			if l == id {
				return true
			}
		}
		return false
	}
	var doomed []string
	for _, l := range layers {
		if above(l.ID) {
			doomed = append(doomed, l.ID)
		}
	}
	var names []string
	for _, img := range images {
		if above(img.TopLayer) {
			names = append(names, img.ID)
			if _, err := s.store.DeleteImage(img.ID, true); err != nil {
				return fmt.Errorf("deleting image %s, built on corrupt layer %s: %w", img.ID, id, err)
			}
		}
	}
	s.log.Warn().Err(reason).Str("layer", id).Strs("images", names).Msg("containers-storage layer is corrupt: dropped, with the images using it; it will be fetched again")
	// Descendants first: a layer with children cannot be deleted.
	slices.SortFunc(doomed, func(a, b string) int { return depth(parent, b) - depth(parent, a) })
	for _, l := range doomed {
		if err := s.store.DeleteLayer(l); err != nil && s.layerExists(l) {
			return fmt.Errorf("deleting corrupt layer %s: %w", l, err)
		}
	}
	return nil
}

func depth(parent map[string]string, id string) int {
	n := 0
	for ; id != ""; id = parent[id] {
		n++
	}
	return n
}

func (s *Store) layerExists(id string) bool {
	_, err := s.store.Layer(id)
	return err == nil
}
