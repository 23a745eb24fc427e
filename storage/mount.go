package storage

import (
	"context"
	"errors"
	"fmt"
)

// MountImage mounts the image with that ID read-only (the overlay driver applies the
// layers' whiteouts) and returns the mount point and a function that unmounts it. The
// caller must run in a mount namespace where it may mount (root, as bootc install does).
func (s *Store) MountImage(ctx context.Context, id string) (string, func() error, error) {
	if err := s.check(ctx); err != nil {
		return "", nil, err
	}
	dir, err := s.store.MountImage(id, []string{"ro"}, "")
	if err != nil {
		return "", nil, fmt.Errorf("mounting image %s of containers-storage at %s: %w", id, s.store.GraphRoot(), err)
	}
	unmount := func() error {
		if _, err := s.store.UnmountImage(id, false); err != nil {
			return fmt.Errorf("unmounting image %s: %w", id, err)
		}
		return nil
	}
	if dir == "" {
		return "", nil, errors.Join(fmt.Errorf("mounting image %s: no mount point", id), unmount())
	}
	return dir, unmount, nil
}
