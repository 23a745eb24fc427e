package ostree

// #include <stdlib.h>
// #include "shim.h"
// #include "shim_native.h"
import "C"

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"
)

// This file holds the calls that import and export ostree objects as they are, for
// ostree-native (encapsulated) container images: every write names the checksum the
// object must have, and libostree refuses it (writing nothing) when the content does not
// hash to it.

func bytesPtr(b []byte) *C.guint8 {
	if len(b) == 0 {
		return nil
	}
	return (*C.guint8)(unsafe.Pointer(&b[0]))
}

// WriteRegfileExpected writes a regular file object of size bytes from rd that must have
// the checksum expected. It must be called inside a transaction.
func (r *Repo) WriteRegfileExpected(ctx context.Context, expected string, meta RawFileMeta, size int64, rd io.Reader) error {
	if size < 0 {
		return fmt.Errorf("writing file object %s: negative size %d", expected, size)
	}
	err := r.use(func(p *C.OstreeRepo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, release := cancellable(ctx)
		defer release()
		ce := cstr(expected)
		defer freeC(ce)
		mode := C.guint32(C.S_IFREG | (meta.Mode & 07777))
		xp, xn := bytesPtr(meta.Xattrs), C.gsize(len(meta.Xattrs))
		bp := chunkPool.Get().(*[]byte)
		defer chunkPool.Put(bp)
		buf := *bp
		if size <= inlineMax {
			b := buf[:size]
			if err := readExactly(rd, b); err != nil {
				return err
			}
			var cerr *C.GError
			ok := C.bootc_native_write_regfile_inline(p, ce, C.guint32(meta.UID), C.guint32(meta.GID),
				mode, xp, xn, bufPtr(b), C.gsize(size), c, &cerr)
			runtime.KeepAlive(meta.Xattrs)
			if ok == 0 {
				return failed(ctx, "", cerr)
			}
			return nil
		}
		if r.mode == ModeArchive {
			return r.writeSpooledExpected(ctx, p, c, ce, meta, mode, size, rd, buf)
		}
		var cerr *C.GError
		w := C.bootc_native_write_regfile(p, ce, C.guint32(meta.UID), C.guint32(meta.GID), mode,
			C.guint64(size), xp, xn, &cerr)
		runtime.KeepAlive(meta.Xattrs)
		if w == nil {
			return failed(ctx, "", cerr)
		}
		got, err := streamContent(ctx, w, c, rd, size, buf)
		if err != nil {
			return err
		}
		if got != expected {
			return fmt.Errorf("content has checksum %s", got)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing file object %s: %w", expected, err)
	}
	return nil
}

func (r *Repo) writeSpooledExpected(ctx context.Context, p *C.OstreeRepo, c *C.GCancellable, ce *C.char,
	meta RawFileMeta, mode C.guint32, size int64, rd io.Reader, buf []byte) error {
	f, err := os.CreateTemp(filepath.Join(r.path, "tmp"), "bootc-spool-")
	if err != nil {
		return err
	}
	os.Remove(f.Name())
	defer f.Close()
	if err := copyChunks(rd, size, buf, func(chunk []byte) error {
		_, err := f.Write(chunk)
		return err
	}); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	var cerr *C.GError
	ok := C.bootc_native_write_content_fd(p, ce, C.int(f.Fd()), C.guint32(meta.UID), C.guint32(meta.GID),
		mode, C.guint64(size), bytesPtr(meta.Xattrs), C.gsize(len(meta.Xattrs)), c, &cerr)
	runtime.KeepAlive(f)
	runtime.KeepAlive(meta.Xattrs)
	if ok == 0 {
		return failed(ctx, "", cerr)
	}
	return nil
}

// WriteSymlinkExpected writes a symbolic link object that must have the checksum expected.
func (r *Repo) WriteSymlinkExpected(ctx context.Context, expected string, meta RawFileMeta, target string) error {
	err := r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		ce, ct := cstr(expected), cstr(target)
		defer freeC(ce)
		defer freeC(ct)
		ok := C.bootc_native_write_symlink(p, ce, C.guint32(meta.UID), C.guint32(meta.GID),
			bytesPtr(meta.Xattrs), C.gsize(len(meta.Xattrs)), ct, c, cerr)
		runtime.KeepAlive(meta.Xattrs)
		return ok != 0
	})
	if err != nil {
		return fmt.Errorf("writing symlink object %s: %w", expected, err)
	}
	return nil
}

// WriteMetadataExpected writes a commit, dirtree or dirmeta object from its serialized
// bytes, which must be a normal-form variant hashing to expected.
func (r *Repo) WriteMetadataExpected(ctx context.Context, typ ObjectType, expected string, data []byte) error {
	err := r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		ce := cstr(expected)
		defer freeC(ce)
		ok := C.bootc_native_write_metadata(p, C.OstreeObjectType(typ), ce, bytesPtr(data), C.gsize(len(data)), c, cerr)
		runtime.KeepAlive(data)
		return ok != 0
	})
	if err != nil {
		return fmt.Errorf("writing %s object %s: %w", typ, expected, err)
	}
	return nil
}

// WriteDetachedMetadataBytes stores data (a serialized a{sv}) as the detached metadata of
// commit, as it is.
func (r *Repo) WriteDetachedMetadataBytes(ctx context.Context, commit string, data []byte) error {
	err := r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cs := cstr(commit)
		defer freeC(cs)
		ok := C.bootc_native_write_detached(p, cs, bytesPtr(data), C.gsize(len(data)), c, cerr)
		runtime.KeepAlive(data)
		return ok != 0
	})
	if err != nil {
		return fmt.Errorf("writing detached metadata of %s: %w", commit, err)
	}
	return nil
}

func takeBytes(p *C.guint8, n C.gsize) []byte {
	if p == nil {
		return nil
	}
	b := C.GoBytes(unsafe.Pointer(p), C.int(n))
	gfree(unsafe.Pointer(p))
	return b
}

// LoadObjectBytes returns the serialized bytes of a commit, dirtree or dirmeta object.
func (r *Repo) LoadObjectBytes(ctx context.Context, typ ObjectType, checksum string) ([]byte, error) {
	var out []byte
	err := r.use(func(p *C.OstreeRepo) error {
		cs := cstr(checksum)
		defer freeC(cs)
		var n C.gsize
		var cerr *C.GError
		b := C.bootc_native_load_object(p, C.OstreeObjectType(typ), cs, &n, &cerr)
		if b == nil {
			return takeError(cerr)
		}
		out = takeBytes(b, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s object %s: %w", typ, checksum, err)
	}
	return out, nil
}

// LoadDetachedMetadataBytes returns the serialized detached metadata of commit, or nil
// when it has none.
func (r *Repo) LoadDetachedMetadataBytes(ctx context.Context, commit string) ([]byte, error) {
	var out []byte
	err := r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cs := cstr(commit)
		defer freeC(cs)
		var b *C.guint8
		var n C.gsize
		if C.bootc_native_load_detached(p, cs, &b, &n, c, cerr) == 0 {
			return false
		}
		out = takeBytes(b, n)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading detached metadata of %s: %w", commit, err)
	}
	return out, nil
}

// FileXattrsBytes returns the serialized a(ayay) extended attributes of a file object.
func (r *Repo) FileXattrsBytes(ctx context.Context, checksum string) ([]byte, error) {
	var out []byte
	err := r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cs := cstr(checksum)
		defer freeC(cs)
		var n C.gsize
		b := C.bootc_native_file_xattrs(p, cs, &n, c, cerr)
		out = takeBytes(b, n)
		return b != nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading xattrs of file object %s: %w", checksum, err)
	}
	return out, nil
}

// ReadDirTree lists a dirtree object: its files and subdirectories, in stored (sorted)
// order.
func (r *Repo) ReadDirTree(ctx context.Context, checksum string) ([]TreeFile, []TreeDir, error) {
	var files []TreeFile
	var dirs []TreeDir
	err := r.use(func(p *C.OstreeRepo) error {
		cs := cstr(checksum)
		defer freeC(cs)
		var fn, fc, dn, dt, dm **C.char
		var cerr *C.GError
		if C.bootc_native_read_dirtree(p, cs, &fn, &fc, &dn, &dt, &dm, &cerr) == 0 {
			return takeError(cerr)
		}
		names, csums := takeStrv(fn), takeStrv(fc)
		for i := range names {
			files = append(files, TreeFile{Name: names[i], Checksum: csums[i]})
		}
		dnames, trees, metas := takeStrv(dn), takeStrv(dt), takeStrv(dm)
		for i := range dnames {
			dirs = append(dirs, TreeDir{Name: dnames[i], Tree: trees[i], Meta: metas[i]})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading dirtree %s: %w", checksum, err)
	}
	return files, dirs, nil
}

// ReadDirMeta returns the ownership and permission bits of a dirmeta object.
func (r *Repo) ReadDirMeta(ctx context.Context, checksum string) (uid, gid, mode uint32, err error) {
	err = r.use(func(p *C.OstreeRepo) error {
		cs := cstr(checksum)
		defer freeC(cs)
		var u, g, m C.guint32
		var cerr *C.GError
		if C.bootc_native_read_dirmeta(p, cs, &u, &g, &m, &cerr) == 0 {
			return takeError(cerr)
		}
		uid, gid, mode = uint32(u), uint32(g), uint32(m)
		return nil
	})
	if err != nil {
		err = fmt.Errorf("reading dirmeta %s: %w", checksum, err)
	}
	return uid, gid, mode, err
}

// VerifyCommitGPG checks the GPG signatures that the detached metadata commitmeta (a
// serialized a{sv}, key ostree.gpgsigs) carries for the serialized commit object commit,
// against the keys of keyring (a keyring file) or keyringDir (a directory of them); one
// of the two may be "". It requires at least one valid signature and returns libostree's
// description of the signatures.
func (r *Repo) VerifyCommitGPG(ctx context.Context, commit, commitmeta []byte, keyringDir, keyring string) (string, error) {
	var text string
	err := r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cd, ck := cstrOrNil(keyringDir), cstrOrNil(keyring)
		defer freeC(cd)
		defer freeC(ck)
		var out *C.char
		ok := C.bootc_native_gpg_verify(p, bytesPtr(commit), C.gsize(len(commit)), bytesPtr(commitmeta),
			C.gsize(len(commitmeta)), cd, ck, &out, c, cerr)
		runtime.KeepAlive(commit)
		runtime.KeepAlive(commitmeta)
		if ok == 0 {
			return false
		}
		text = takeString(out)
		return true
	})
	return text, err
}

// DeleteObject removes an object from the repository (outside any transaction).
func (r *Repo) DeleteObject(ctx context.Context, typ ObjectType, checksum string) error {
	err := r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cs := cstr(checksum)
		defer freeC(cs)
		return C.ostree_repo_delete_object(p, C.OstreeObjectType(typ), cs, c, cerr) != 0
	})
	if err != nil {
		return fmt.Errorf("deleting %s object %s: %w", typ, checksum, err)
	}
	return nil
}
