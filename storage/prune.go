package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Delete removes the image with that ID, ID prefix or name from the store, whoever created
// it, together with its layers that no other image uses. It fails if a container uses the
// image. The error wraps ErrImageNotFound when there is no such image.
func (s *Store) Delete(ctx context.Context, nameOrID string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	img, err := s.lookup(nameOrID)
	if err != nil {
		return err
	}
	if _, err := s.store.DeleteImage(img.ID, true); err != nil {
		return fmt.Errorf("deleting image %s (%s): %w", nameOrID, img.ID, err)
	}
	s.log.Debug().Str("image", img.ID).Strs("names", img.Names).Msg("deleted image")
	return nil
}

// Prune deletes the images that Pull or PutImage created (those marked with PulledKey) except
// those named in keep (IDs, ID prefixes or names; entries that name no image are ignored), and
// the layers only they used. Images created otherwise (podman build, podman pull) are never
// deleted, nor are images a container uses, nor images that carry a name bootc did not give
// them (podman tag, Tag). It returns the IDs of the deleted images, sorted.
func (s *Store) Prune(ctx context.Context, keep []string) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	kept := map[string]bool{}
	for _, k := range keep {
		img, err := s.lookup(k)
		if err != nil {
			if errors.Is(err, ErrImageNotFound) {
				s.log.Debug().Str("image", k).Msg("prune: image to keep is not in the store")
				continue
			}
			return nil, err
		}
		kept[img.ID] = true
	}
	containers, err := s.store.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing containers in %s: %w", s.store.GraphRoot(), err)
	}
	used := map[string]bool{}
	for _, c := range containers {
		used[c.ImageID] = true
	}
	imgs, err := s.store.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images in %s: %w", s.store.GraphRoot(), err)
	}
	var deleted []string
	var errs []error
	for _, img := range imgs {
		if kept[img.ID] || !slices.Contains(img.BigDataNames, PulledKey) {
			continue
		}
		m, err := s.marker(&img)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if user := userNamed(&img, m); len(user) > 0 {
			s.log.Debug().Str("image", img.ID).Strs("names", user).Msg("prune: keeping image its user named")
			continue
		}
		if used[img.ID] {
			s.log.Info().Str("image", img.ID).Strs("names", img.Names).Msg("prune: keeping image used by a container")
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if _, err := s.store.DeleteImage(img.ID, true); err != nil {
			errs = append(errs, fmt.Errorf("deleting image %s %v: %w", img.ID, img.Names, err))
			continue
		}
		s.log.Debug().Str("image", img.ID).Strs("names", img.Names).Msg("pruned image")
		deleted = append(deleted, img.ID)
	}
	slices.Sort(deleted)
	return deleted, errors.Join(errs...)
}
