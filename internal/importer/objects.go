package importer

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/bootc-go/bootc/ostree"
)

// ObjectLookup maps the name of a regular file entry of a layer tar (as written in the
// tar, e.g. "./etc/passwd" or "usr/bin/ls") to the checksum of the content object the
// importer stored it as. ok is false for names that are not regular files of the layer
// commit: filtered entries (run/, tmp/, ... children), directories, symlinks, and names
// the layer does not have. Safe for concurrent use.
type ObjectLookup func(name string) (checksum string, ok bool)

// LayerObjects reads layer commit layerCommit and returns the lookup from its tar entry
// names to its regular file objects: the inverse of the path rules the layer was imported
// with (etc/ is found under usr/etc/, var/ under usr/share/factory/var/ with
// VarToFactory; a hardlink entry gives the object of its target, which is the object at
// its own path). rules must be the ones of the import. With (*ostree.Repo).ObjectPath
// (bare repositories) the checksum names the file to link or copy when the layer is
// rebuilt from the repository.
//
// Content the importer did not keep (children of run, tmp, proc, sys and dev, toplevel
// entries UsrOnly drops) is not found: a layer with such regular files of non-zero size
// cannot be rebuilt from the repository.
func LayerObjects(ctx context.Context, repo *ostree.Repo, layerCommit string, rules PathRules) (ObjectLookup, error) {
	root, err := repo.NewMutableTreeFromCommit(layerCommit)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	files := map[string]string{}
	isReg := map[string]bool{} // by checksum
	var walk func(t *ostree.MutableTree, prefix string) error
	walk = func(t *ostree.MutableTree, prefix string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		fileList, err := t.Files()
		if err != nil {
			return fmt.Errorf("%s: %w", prefix, err)
		}
		for name, csum := range fileList {
			reg, seen := isReg[csum]
			if !seen {
				reg, err = isRegularObject(ctx, repo, csum)
				if err != nil {
					return fmt.Errorf("%s%s: %w", prefix, name, err)
				}
				isReg[csum] = reg
			}
			if reg {
				files[prefix+name] = csum
			}
		}
		subdirs, err := t.Subdirs()
		if err != nil {
			return fmt.Errorf("%s: %w", prefix, err)
		}
		for _, name := range subdirs {
			_, sub, err := t.Lookup(name)
			if err != nil {
				return fmt.Errorf("%s%s: %w", prefix, name, err)
			}
			err = walk(sub, prefix+name+"/")
			sub.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, ""); err != nil {
		return nil, fmt.Errorf("reading layer commit %s: %w", layerCommit, err)
	}
	return func(name string) (string, bool) {
		norm, err := rules.normalize(name, false)
		if err != nil || norm.root || norm.filtered != "" || len(norm.paths) == 0 {
			return "", false
		}
		csum, ok := files[strings.Join(norm.paths[0], "/")]
		return csum, ok
	}, nil
}

// isRegularObject reports whether the file object checksum is a regular file (not a
// symlink). Bare objects are the files themselves, so an lstat answers.
func isRegularObject(ctx context.Context, repo *ostree.Repo, checksum string) (bool, error) {
	if p, err := repo.ObjectPath(checksum); err == nil {
		st, err := os.Lstat(p)
		if err != nil {
			return false, fmt.Errorf("object %s: %w", checksum, err)
		}
		return st.Mode().IsRegular(), nil
	}
	f, err := repo.LoadFile(ctx, checksum, 0)
	if err != nil {
		return false, err
	}
	return !f.IsSymlink(), nil
}
