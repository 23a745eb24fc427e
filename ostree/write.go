package ostree

// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"
)

// inlineMax is the size up to which a regular file is read whole and written in one call.
const inlineMax = 64 << 10

// chunkSize is the size of the buffers larger files are streamed through.
const chunkSize = 512 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

func bufPtr(b []byte) *C.guint8 {
	if len(b) == 0 {
		return nil
	}
	return (*C.guint8)(unsafe.Pointer(&b[0]))
}

// WriteRegfile writes a regular file object of exactly size bytes read from r and returns
// its checksum. It must be called inside a transaction; several goroutines may call it at
// once. Reading fewer or more than size bytes is an error and writes nothing.
func (r *Repo) WriteRegfile(ctx context.Context, meta FileMeta, size int64, rd io.Reader) (string, error) {
	if size < 0 {
		return "", fmt.Errorf("writing file object: negative size %d", size)
	}
	var out string
	err := r.use(func(p *C.OstreeRepo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, release := cancellable(ctx)
		defer release()
		xattrs := newXattrsVariant(meta.Xattrs)
		defer unrefVariant(xattrs)
		mode := C.guint32(C.S_IFREG | (meta.Mode & 07777))
		bp := chunkPool.Get().(*[]byte)
		defer chunkPool.Put(bp)
		buf := *bp

		if size <= inlineMax {
			b := buf[:size]
			if err := readExactly(rd, b); err != nil {
				return err
			}
			var cerr *C.GError
			csum := C.bootc_repo_write_regfile_inline(p, C.guint32(meta.UID), C.guint32(meta.GID),
				mode, xattrs, bufPtr(b), C.gsize(size), c, &cerr)
			if csum == nil {
				return failed(ctx, "", cerr)
			}
			out = takeString(csum)
			return nil
		}

		if r.mode == ModeArchive {
			// libostree 2022.7 cannot stream into archive repositories: spool to an
			// unlinked file in the repo's tmp directory and write from there.
			csum, err := r.writeSpooled(p, c, meta, mode, xattrs, size, rd, buf)
			if err != nil {
				return err
			}
			out = csum
			return nil
		}
		var cerr *C.GError
		w := C.bootc_repo_write_regfile(p, C.guint32(meta.UID), C.guint32(meta.GID), mode,
			C.guint64(size), xattrs, &cerr)
		if w == nil {
			return failed(ctx, "", cerr)
		}
		var err error
		out, err = streamContent(ctx, w, c, rd, size, buf)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("writing file object: %w", err)
	}
	return out, nil
}

// readExactly fills b from rd and checks that rd has nothing more.
func readExactly(rd io.Reader, b []byte) error {
	if _, err := io.ReadFull(rd, b); err != nil {
		return fmt.Errorf("reading content: %w", err)
	}
	return expectEOF(rd)
}

// streamContent writes size bytes of rd through buf into the content writer w (which it
// releases) and returns the object's checksum.
func streamContent(ctx context.Context, w *C.OstreeContentWriter, c *C.GCancellable, rd io.Reader, size int64, buf []byte) (string, error) {
	defer C.g_object_unref(C.gpointer(w))
	err := copyChunks(rd, size, buf, func(chunk []byte) error {
		var cerr *C.GError
		if C.bootc_content_writer_write(w, bufPtr(chunk), C.gsize(len(chunk)), c, &cerr) == 0 {
			return failed(ctx, "", cerr)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var cerr *C.GError
	csum := C.bootc_content_writer_finish(w, c, &cerr)
	if csum == nil {
		return "", failed(ctx, "", cerr)
	}
	return takeString(csum), nil
}

// writeSpooled writes a file object of an archive repository through an unlinked
// temporary file.
func (r *Repo) writeSpooled(p *C.OstreeRepo, c *C.GCancellable, meta FileMeta, mode C.guint32,
	xattrs *C.GVariant, size int64, rd io.Reader, buf []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Join(r.path, "tmp"), "bootc-spool-")
	if err != nil {
		return "", err
	}
	os.Remove(f.Name())
	defer f.Close()
	if err := copyChunks(rd, size, buf, func(chunk []byte) error {
		_, err := f.Write(chunk)
		return err
	}); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	var cerr *C.GError
	csum := C.bootc_repo_write_content_fd(p, nil, C.int(f.Fd()), C.guint32(meta.UID), C.guint32(meta.GID),
		mode, C.guint64(size), xattrs, c, &cerr)
	runtime.KeepAlive(f)
	if csum == nil {
		return "", failed(nil, "", cerr)
	}
	return takeString(csum), nil
}

// WriteSymlink writes a symbolic link object (meta.Mode is ignored: links are 0777) and
// returns its checksum.
func (r *Repo) WriteSymlink(ctx context.Context, meta FileMeta, target string) (string, error) {
	var out string
	err := r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		xattrs := newXattrsVariant(meta.Xattrs)
		defer unrefVariant(xattrs)
		ct := cstr(target)
		defer freeC(ct)
		csum := C.bootc_repo_write_symlink(p, C.guint32(meta.UID), C.guint32(meta.GID), xattrs, ct, c, cerr)
		out = takeString(csum)
		return csum != nil
	})
	if err != nil {
		return "", fmt.Errorf("writing symlink object -> %s: %w", target, err)
	}
	return out, nil
}

// WriteDirMeta writes a directory metadata object and returns its checksum.
func (r *Repo) WriteDirMeta(ctx context.Context, meta FileMeta) (string, error) {
	var out string
	err := r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		xattrs := newXattrsVariant(meta.Xattrs)
		defer unrefVariant(xattrs)
		csum := C.bootc_repo_write_dirmeta(p, C.guint32(meta.UID), C.guint32(meta.GID),
			C.guint32(C.S_IFDIR|(meta.Mode&07777)), xattrs, c, cerr)
		out = takeString(csum)
		return csum != nil
	})
	if err != nil {
		return "", fmt.Errorf("writing directory metadata: %w", err)
	}
	return out, nil
}

// HasObject reports whether the repository holds the object.
func (r *Repo) HasObject(ctx context.Context, typ ObjectType, checksum string) (bool, error) {
	var have C.gboolean
	err := r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cs := cstr(checksum)
		defer freeC(cs)
		return C.bootc_repo_has_object(p, C.OstreeObjectType(typ), cs, &have, c, cerr) != 0
	})
	if err != nil {
		return false, fmt.Errorf("looking up object %s: %w", checksum, err)
	}
	return have != 0, nil
}

// FileSize returns the content size of the file object checksum.
func (r *Repo) FileSize(ctx context.Context, checksum string) (int64, error) {
	var size C.guint64
	err := r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cs := cstr(checksum)
		defer freeC(cs)
		return C.bootc_repo_file_size(p, cs, &size, c, cerr) != 0
	})
	if err != nil {
		return 0, fmt.Errorf("reading file object %s: %w", checksum, err)
	}
	return int64(size), nil
}

// LoadFile reads the file object checksum: its metadata, and for a regular file up to
// maxContent bytes of content.
func (r *Repo) LoadFile(ctx context.Context, checksum string, maxContent int64) (*FileObject, error) {
	var out *FileObject
	err := r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cs := cstr(checksum)
		defer freeC(cs)
		var mode, uid, gid C.guint32
		var size C.guint64
		var target *C.char
		var content *C.guint8
		var n C.gsize
		if C.bootc_repo_load_file(p, cs, C.guint64(max(maxContent, 0)), &mode, &uid, &gid, &size,
			&target, &content, &n, c, cerr) == 0 {
			return false
		}
		out = &FileObject{Mode: uint32(mode), UID: uint32(uid), GID: uint32(gid), Size: int64(size),
			Target: takeString(target)}
		if content != nil {
			out.Content = C.GoBytes(unsafe.Pointer(content), C.int(n))
			gfree(unsafe.Pointer(content))
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading file object %s: %w", checksum, err)
	}
	return out, nil
}
