package ostreetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/ostree"
)

// CommitDir commits the directory tree at dir into repo through package ostree's API
// (regular files streamed from disk, symlinks, directory metadata, ownership, modes and
// extended attributes in the order the filesystem lists them) inside one transaction, sets
// ref (if not empty) and returns the commit checksum. It is the Go counterpart of
// `ostree commit --tree=dir=DIR`, used as a test oracle and fixture writer.
func CommitDir(ctx context.Context, repo *ostree.Repo, dir, ref string, opts ostree.CommitOptions) (string, error) {
	var checksum string
	err := repo.WithTransaction(ctx, func(tx *ostree.Transaction) error {
		root := ostree.NewMutableTree()
		defer root.Close()
		if err := commitDirInto(ctx, repo, dir, root); err != nil {
			return err
		}
		var err error
		checksum, err = repo.WriteCommit(ctx, root, opts)
		if err != nil {
			return err
		}
		if ref != "" {
			tx.SetRef(ref, checksum)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("committing %s: %w", dir, err)
	}
	return checksum, nil
}

func commitDirInto(ctx context.Context, repo *ostree.Repo, dir string, mt *ostree.MutableTree) error {
	meta, err := fileMeta(dir)
	if err != nil {
		return err
	}
	dm, err := repo.WriteDirMeta(ctx, meta)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := mt.SetMetadataChecksum(dm); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		meta, err := fileMeta(p)
		if err != nil {
			return err
		}
		var csum string
		switch e.Type() {
		case os.ModeDir:
			sub, err := mt.EnsureDir(e.Name())
			if err != nil {
				return err
			}
			err = commitDirInto(ctx, repo, p, sub)
			sub.Close()
			if err != nil {
				return err
			}
			continue
		case os.ModeSymlink:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			csum, err = repo.WriteSymlink(ctx, meta, target)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		case 0:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			st, err := f.Stat()
			if err == nil {
				csum, err = repo.WriteRegfile(ctx, meta, st.Size(), f)
			}
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		default:
			return fmt.Errorf("%s: unsupported file type %v", p, e.Type())
		}
		if err := mt.ReplaceFile(e.Name(), csum); err != nil {
			return err
		}
	}
	return nil
}

// fileMeta reads ownership, permission bits and extended attributes of path (not
// following symlinks).
func fileMeta(path string) (ostree.FileMeta, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return ostree.FileMeta{}, fmt.Errorf("stat %s: %w", path, err)
	}
	xattrs, err := ReadXattrs(path)
	if err != nil {
		return ostree.FileMeta{}, err
	}
	return ostree.FileMeta{UID: st.Uid, GID: st.Gid, Mode: st.Mode & 07777, Xattrs: xattrs}, nil
}

// ReadXattrs returns the extended attributes of path (not following symlinks) in the order
// the filesystem lists them.
func ReadXattrs(path string) ([]ostree.Xattr, error) {
	size, err := unix.Llistxattr(path, nil)
	if err != nil || size == 0 {
		if err == unix.ENOTSUP {
			err = nil
		}
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", path, err)
	}
	var out []ostree.Xattr
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		n, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, path, err)
		}
		val := make([]byte, n)
		if n > 0 {
			if n, err = unix.Lgetxattr(path, name, val); err != nil {
				return nil, fmt.Errorf("reading xattr %s of %s: %w", name, path, err)
			}
		}
		out = append(out, ostree.Xattr{Name: name, Value: val[:n]})
	}
	return out, nil
}
