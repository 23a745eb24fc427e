package ostree

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// errNotBare is returned for object paths of repositories whose objects are not plain files.
var errNotBare = errors.New("not a bare repository")

// validChecksum reports whether s is a 64-digit lower-case hex SHA-256.
func validChecksum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ObjectPath returns the path of the loose content (file) object checksum in a bare
// repository: <repo>/objects/<first two digits>/<rest>.file. The object need not exist.
// It is an error for repositories of other modes, whose objects are not the files
// themselves (archive objects are compressed, bare-user objects keep ownership in an
// extended attribute).
func (r *Repo) ObjectPath(checksum string) (string, error) {
	if !validChecksum(checksum) {
		return "", fmt.Errorf("object path of %q: not a SHA-256 checksum", checksum)
	}
	if r.mode != ModeBare {
		return "", fmt.Errorf("object path of %s in %s: %w (mode %s)", checksum, r.path, errNotBare, r.mode)
	}
	return filepath.Join(r.path, "objects", checksum[:2], checksum[2:]+".file"), nil
}

// AdoptFile makes the regular file at path the content object checksum of a bare
// repository by hardlinking it into objects/, without copying. It returns true when the
// object is in place afterwards (linked now, or already there).
//
// The file must be exactly the object: its owner, mode and extended attributes (read back
// in the order libostree reads them when it verifies a bare object: sorted by name, as
// libglnx canonicalizes them) and its content, hashed here with crypto/sha256, must give
// checksum. So `ostree fsck` finds an adopted object valid by construction. The file is
// fsynced before it is linked, and the inode that was verified is the one linked
// (linkat of the open descriptor), so a file replaced or modified while it was checked
// (its ctime moved) is not adopted.
//
// AdoptFile returns false and no error when the file cannot be adopted and the caller
// should write a copy instead: a repository that is not bare, another filesystem (EXDEV),
// too many links (EMLINK), metadata or content that does not give checksum, a file that
// is not a regular file or changed while being checked. Errors are for everything else
// (unreadable file, I/O errors, cancellation).
//
// The link is made directly in objects/, outside the transaction's staging directory: an
// adopted object stays even if the transaction is aborted (prune removes it when nothing
// refers to it). Its directory entry becomes durable with the transaction's final
// filesystem sync, like every object of the transaction. Safe for concurrent use.
func (r *Repo) AdoptFile(ctx context.Context, path, checksum string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("adopting %s as object %s: %w", path, checksum, err)
	}
	if r.mode != ModeBare {
		return false, nil
	}
	obj, err := r.ObjectPath(checksum)
	if err != nil {
		return false, err
	}
	r.mu.RLock()
	closed := r.ptr == nil
	r.mu.RUnlock()
	if closed {
		return false, ErrClosed
	}
	adopted, err := adoptFile(ctx, path, obj, checksum)
	if err != nil {
		return false, fmt.Errorf("adopting %s as object %s: %w", path, checksum, err)
	}
	return adopted, nil
}

func adoptFile(ctx context.Context, path, obj, checksum string) (bool, error) {
	if _, err := os.Lstat(obj); err == nil {
		return true, nil // already there
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		if err == unix.ELOOP {
			return false, nil // a symlink: not a regular file
		}
		return false, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var before unix.Stat_t
	if err := unix.Fstat(fd, &before); err != nil {
		return false, err
	}
	if before.Mode&unix.S_IFMT != unix.S_IFREG {
		return false, nil
	}
	xattrs, err := fdXattrs(fd)
	if err != nil {
		return false, err
	}
	h := sha256.New()
	h.Write(fileHeader(before.Uid, before.Gid, before.Mode, "", xattrs))
	bp := hashPool.Get().(*[]byte)
	n, err := io.CopyBuffer(h, &ctxReader{ctx: ctx, r: f}, *bp)
	hashPool.Put(bp)
	if err != nil {
		return false, err
	}
	if n != before.Size || hex.EncodeToString(h.Sum(nil)) != checksum {
		return false, nil
	}
	if err := f.Sync(); err != nil {
		return false, err
	}
	var after unix.Stat_t
	if err := unix.Fstat(fd, &after); err != nil {
		return false, err
	}
	if after.Ctim != before.Ctim || after.Mtim != before.Mtim || after.Size != before.Size {
		return false, nil // changed while it was checked
	}
	if err := os.Mkdir(filepath.Dir(obj), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return false, err
	}
	err = unix.Linkat(fd, "", unix.AT_FDCWD, obj, unix.AT_EMPTY_PATH)
	if err == unix.EPERM || err == unix.ENOENT || err == unix.EINVAL {
		// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd names the same inode.
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, obj, unix.AT_SYMLINK_FOLLOW)
	}
	switch err {
	case nil, unix.EEXIST:
		return true, nil
	case unix.EXDEV, unix.EMLINK:
		return false, nil
	}
	return false, err
}

// fdXattrs reads all extended attributes of fd, sorted by name as libostree reads them.
func fdXattrs(fd int) ([]Xattr, error) {
	list, err := growRead(func(b []byte) (int, error) { return unix.Flistxattr(fd, b) })
	if err == unix.ENOTSUP {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing extended attributes: %w", err)
	}
	var names []string
	for _, name := range strings.Split(string(list), "\x00") {
		if name != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := make([]Xattr, 0, len(names))
	for _, name := range names {
		v, err := growRead(func(b []byte) (int, error) { return unix.Fgetxattr(fd, name, b) })
		if err != nil {
			return nil, fmt.Errorf("reading extended attribute %s: %w", name, err)
		}
		out = append(out, Xattr{Name: name, Value: v})
	}
	return out, nil
}

// growRead calls read with a growing buffer until the result fits (ERANGE otherwise).
func growRead(read func([]byte) (int, error)) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := read(buf)
		if err == unix.ERANGE && size < 1<<24 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// ctxReader stops reading when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
