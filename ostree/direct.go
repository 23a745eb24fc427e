package ostree

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// ObjectBatch writes regular file objects into a bare repository without libostree's
// object writer (see WriteRegfile), and makes them objects together at Publish: the
// filesystem is synced first, so that no object is ever visible whose content is not on
// disk. Discard drops them. Objects of a batch are not readable through the repository
// before Publish. Safe for concurrent use.
//
// A batch's staging directory (tmp/bootc-objects-*) is locked (flock) while the batch
// lives; a process killed mid-import leaves its directory unlocked, and the next batch
// of any process removes it (libostree's own tmp/ cleanup leaves names it does not know
// for a day).
type ObjectBatch struct {
	repo *Repo
	mu   sync.Mutex
	dir  string   // the staging directory in tmp/, created at the first write
	lock *os.File // dir, open and flocked while the batch uses it
}

// stagePrefix names the staging directories of object batches in a repository's tmp/.
const stagePrefix = "bootc-objects-"

// NewObjectBatch starts a batch of objects for r.
func (r *Repo) NewObjectBatch() *ObjectBatch { return &ObjectBatch{repo: r} }

// WriteRegfile writes a regular file object like (*Repo).WriteRegfile and returns the same
// checksum. For a bare repository the content is written once into a temporary file of the
// repository's tmp/ while its checksum is computed in Go (SHA-256 with the processor's SHA
// instructions: libostree 2022.7 hashes with GLib's portable code, several times slower,
// and that is most of an import's CPU time); the file gets meta's owner, mode and extended
// attributes and the modification time libostree gives objects (0), and becomes the object
// at Publish. For other repository modes, or a filesystem without O_TMPFILE, it is
// (*Repo).WriteRegfile (the object is there at once).
func (b *ObjectBatch) WriteRegfile(ctx context.Context, meta FileMeta, size int64, rd io.Reader) (string, error) {
	r := b.repo
	if r.mode != ModeBare {
		return r.WriteRegfile(ctx, meta, size, rd)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	stage, err := b.stageDir()
	if err != nil {
		return "", err
	}
	fd, err := unix.Open(stage, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) {
		return r.WriteRegfile(ctx, meta, size, rd)
	}
	if err != nil {
		return "", fmt.Errorf("writing a file object into %s: %w", r.path, err)
	}
	f := os.NewFile(uintptr(fd), "object")
	defer f.Close()
	h := NewContentHash(meta)
	bp := hashPool.Get().(*[]byte)
	err = copyChunks(&ctxReader{ctx: ctx, r: rd}, size, *bp, func(b []byte) error {
		h.Write(b)
		_, err := f.Write(b)
		return err
	})
	hashPool.Put(bp)
	if err != nil {
		return "", fmt.Errorf("writing a file object into %s: %w", r.path, err)
	}
	checksum := hex.EncodeToString(h.Sum(nil))
	obj, err := r.ObjectPath(checksum)
	if err != nil {
		return "", err
	}
	staged := filepath.Join(stage, checksum)
	for _, p := range []string{obj, staged} {
		if _, err := os.Lstat(p); err == nil {
			return checksum, nil
		}
	}
	if err := setObjectMeta(fd, meta); err != nil {
		return "", fmt.Errorf("writing object %s: %w", checksum, err)
	}
	err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, staged, unix.AT_SYMLINK_FOLLOW)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return "", fmt.Errorf("writing object %s: %w", checksum, err)
	}
	return checksum, nil
}

// stageDir returns the batch's staging directory, creating and locking it (after removing
// the directories of dead batches) at the first call.
func (b *ObjectBatch) stageDir() (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		return b.dir, nil
	}
	tmp := filepath.Join(b.repo.path, "tmp")
	if err := removeStaleStageDirs(tmp); err != nil {
		return "", fmt.Errorf("staging objects in %s: %w", b.repo.path, err)
	}
	for {
		dir, err := os.MkdirTemp(tmp, stagePrefix)
		if err != nil {
			return "", fmt.Errorf("staging objects in %s: %w", b.repo.path, err)
		}
		lock, err := lockDir(dir, false)
		if err != nil {
			return "", fmt.Errorf("staging objects in %s: %w", b.repo.path, err)
		}
		if lock == nil {
			// Swept by another process between mkdir and flock: take a new one.
			continue
		}
		b.dir, b.lock = dir, lock
		return dir, nil
	}
}

// release removes the batch's staging directory and drops its lock (mu held).
func (b *ObjectBatch) release() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
	if b.lock != nil {
		_ = b.lock.Close()
	}
	b.dir, b.lock = "", nil
}

// lockDir opens dir and flocks it exclusively, waiting unless nonBlocking. It returns nil
// (and no error) when dir is gone once locked, or, nonBlocking, when another open file
// holds the lock.
func lockDir(dir string, nonBlocking bool) (*os.File, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	if nonBlocking {
		how |= unix.LOCK_NB
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Nlink == 0 {
		f.Close()
		return nil, err
	}
	return f, nil
}

// removeStaleStageDirs removes the staging directories in tmp that no live batch locks.
func removeStaleStageDirs(tmp string) error {
	stale, err := filepath.Glob(filepath.Join(tmp, stagePrefix+"*"))
	if err != nil {
		return err
	}
	for _, dir := range stale {
		lock, err := lockDir(dir, true)
		if err != nil {
			return err
		}
		if lock == nil {
			continue
		}
		err = os.RemoveAll(dir)
		lock.Close()
		if err != nil {
			return fmt.Errorf("removing the staging directory %s of an interrupted import: %w", dir, err)
		}
	}
	return nil
}

// Publish syncs the filesystem and moves the batch's objects into objects/. Call it once
// every write has returned.
func (b *ObjectBatch) Publish() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	dir := b.dir
	if dir == "" {
		return nil
	}
	defer b.release()
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing %s: %w", b.repo.path, err)
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		obj, err := b.repo.ObjectPath(name)
		if err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Dir(obj), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Rename(filepath.Join(dir, name), obj); err != nil {
			return fmt.Errorf("publishing object %s: %w", name, err)
		}
	}
	return nil
}

// Discard removes the batch's objects.
func (b *ObjectBatch) Discard() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.release()
}

// setObjectMeta gives the open file fd the owner, mode, extended attributes (those with a
// value: libostree drops empty ones) and the modification time 0 of a bare object.
func setObjectMeta(fd int, meta FileMeta) error {
	if err := unix.Fchown(fd, int(meta.UID), int(meta.GID)); err != nil {
		return err
	}
	for _, x := range meta.Xattrs {
		if len(x.Value) == 0 {
			continue
		}
		if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
			return fmt.Errorf("setting xattr %s: %w", x.Name, err)
		}
	}
	// After chown, which clears the setuid and setgid bits.
	if err := unix.Fchmod(fd, meta.Mode&0o7777); err != nil {
		return err
	}
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {}}
	return unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), ts, 0)
}
