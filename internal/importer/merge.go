package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/ostree"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// MergeLayers stacks layer commits (base first) into one tree with overlay semantics: a
// ".wh.NAME" file deletes NAME from the layers below, a directory holding ".wh..wh..opq"
// hides everything below it, files and symlinks of upper layers replace what is below,
// and a directory's metadata is that of the topmost layer holding it. The caller closes
// the returned tree.
func MergeLayers(ctx context.Context, repo *ostree.Repo, layers []string) (*ostree.MutableTree, error) {
	if len(layers) == 0 {
		return nil, errors.New("merging layers: no layers")
	}
	merged := ostree.NewMutableTree()
	for _, commit := range layers {
		if err := ctx.Err(); err != nil {
			merged.Close()
			return nil, err
		}
		src, err := repo.NewMutableTreeFromCommit(commit)
		if err != nil {
			merged.Close()
			return nil, err
		}
		err = applyDir(merged, src, "")
		src.Close()
		if err != nil {
			merged.Close()
			return nil, fmt.Errorf("merging layer commit %s: %w", commit, err)
		}
	}
	return merged, nil
}

// applyDir applies the directory src (of an upper layer) onto dst.
func applyDir(dst, src *ostree.MutableTree, path string) error {
	if err := dst.SetMetadataChecksum(src.MetadataChecksum()); err != nil {
		return err
	}
	files, err := src.Files()
	if err != nil {
		return fmt.Errorf("layer directory /%s: %w", path, err)
	}
	if _, ok := files[opaqueMarker]; ok {
		dstFiles, err := dst.Files()
		if err != nil {
			return fmt.Errorf("directory /%s: %w", path, err)
		}
		for name := range dstFiles {
			if err := dst.Remove(name, false); err != nil {
				return err
			}
		}
		dstDirs, err := dst.Subdirs()
		if err != nil {
			return fmt.Errorf("directory /%s: %w", path, err)
		}
		for _, name := range dstDirs {
			if err := dst.Remove(name, false); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch {
		case name == opaqueMarker:
		case strings.HasPrefix(name, whiteoutPrefix):
			if err := dst.Remove(strings.TrimPrefix(name, whiteoutPrefix), true); err != nil {
				return fmt.Errorf("whiteout %s/%s: %w", path, name, err)
			}
		default:
			if err := dst.ReplaceFile(name, files[name]); err != nil {
				// A directory below is replaced by the file.
				if err := dst.Remove(name, false); err != nil {
					return fmt.Errorf("%s/%s: %w", path, name, err)
				}
				if err := dst.ReplaceFile(name, files[name]); err != nil {
					return fmt.Errorf("%s/%s: %w", path, name, err)
				}
			}
		}
	}
	srcDirs, err := src.Subdirs()
	if err != nil {
		return fmt.Errorf("layer directory /%s: %w", path, err)
	}
	for _, name := range srcDirs {
		if err := applySubdir(dst, src, path, name); err != nil {
			return err
		}
	}
	return nil
}

func applySubdir(dst, src *ostree.MutableTree, path, name string) error {
	_, srcSub, err := src.Lookup(name)
	if err != nil {
		return err
	}
	defer srcSub.Close()
	file, dstSub, err := dst.Lookup(name)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	case err == nil && dstSub == nil && file != "":
		// A file or symlink below is replaced by the directory.
		if err := dst.Remove(name, false); err != nil {
			return err
		}
	}
	if dstSub == nil {
		if dstSub, err = dst.EnsureDir(name); err != nil {
			return err
		}
	}
	defer dstSub.Close()
	return applyDir(dstSub, srcSub, path+"/"+name)
}

// removeEmptyFiles deletes the named files under dir when they are empty regular files, as
// upstream does for /etc/hostname and /etc/resolv.conf that image builders inject. A
// symlink (resolv.conf to systemd-resolved's stub) stays: its object also has size 0.
func removeEmptyFiles(ctx context.Context, repo *ostree.Repo, root *ostree.MutableTree, dir []string, names ...string) error {
	d, err := root.Walk(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer d.Close()
	files, err := d.Files()
	if err != nil {
		return fmt.Errorf("/%s: %w", strings.Join(dir, "/"), err)
	}
	for _, name := range names {
		csum, ok := files[name]
		if !ok {
			continue
		}
		obj, err := repo.LoadFile(ctx, csum, 0)
		if err != nil {
			return err
		}
		if obj.Mode&uint32(unix.S_IFMT) == unix.S_IFREG && obj.Size == 0 {
			if err := d.Remove(name, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasKernel reports whether the tree has usr/lib/modules/*/vmlinuz.
func hasKernel(root *ostree.MutableTree) (bool, error) {
	mods, err := root.Walk([]string{"usr", "lib", "modules"})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer mods.Close()
	kvers, err := mods.Subdirs()
	if err != nil {
		return false, fmt.Errorf("/usr/lib/modules: %w", err)
	}
	for _, kver := range kvers {
		_, d, err := mods.Lookup(kver)
		if err != nil {
			return false, err
		}
		files, err := d.Files()
		d.Close()
		if err != nil {
			return false, fmt.Errorf("/usr/lib/modules/%s: %w", kver, err)
		}
		if _, ok := files["vmlinuz"]; ok {
			return true, nil
		}
	}
	return false, nil
}
