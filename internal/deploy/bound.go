package deploy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/bootc-go/bootc/internal/boundimage"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/storage"
)

// PullBound pulls the logically bound images of the root filesystem fsys (a commit's tree,
// or a deployment's directory) into store, and returns how many it fetched. An image the store
// has under that name is not fetched again. base holds the containers/image settings; a
// quadlet's AuthFile= replaces its authentication file. Bound images are pulled before their
// deployment is written, so a deployment whose bound images cannot be fetched is never made
// (upstream stages it first and may then lose them, bootc#2013). They are kept in the store
// as long as a deployment names them (see Prune).
func PullBound(ctx context.Context, store *storage.Store, fsys fs.FS, base storage.PullOptions) (int, error) {
	imgs, err := boundimage.List(fsys)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range imgs {
		if _, err := store.Image(ctx, b.Name); err == nil {
			continue
		} else if !errors.Is(err, storage.ErrImageNotFound) {
			return n, fmt.Errorf("bound image %s (%s): %w", b.Name, b.File, err)
		}
		po := base
		po.Source, po.Name, po.RequireSignedPolicy = boundSource(b.Name), "", false
		po.Progress = nil
		if b.AuthFile != "" {
			po.AuthFile = b.AuthFile
		}
		store.Logger().Info().Str("image", b.Name).Str("file", b.File).Msg("pulling bound image")
		if _, err := store.Pull(ctx, po); err != nil {
			return n, fmt.Errorf("bound image %s (%s): %w", b.Name, b.File, err)
		}
		n++
	}
	return n, nil
}

// boundSource is the containers/image reference of a quadlet's Image= value: a registry
// image unless it names a transport.
func boundSource(name string) string {
	if strings.Contains(name, "://") || strings.HasPrefix(name, "containers-storage:") || strings.HasPrefix(name, "oci:") {
		return name
	}
	return "docker://" + name
}

// boundNames lists the bound images of every deployment (read from their directories), for
// the store's prune to keep.
func boundNames(sr *ostree.Sysroot, deps []*ostree.Deployment) ([]string, error) {
	var names []string
	for _, d := range deps {
		imgs, err := boundimage.List(os.DirFS(sr.DeploymentPath(d)))
		if err != nil {
			return nil, fmt.Errorf("deployment %s.%d: %w", d.Checksum, d.Serial, err)
		}
		for _, i := range imgs {
			names = append(names, i.Name)
		}
	}
	return names, nil
}
