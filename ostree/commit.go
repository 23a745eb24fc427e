package ostree

// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"time"
)

// WriteCommit writes root (and every unwritten directory in it) and a commit object
// pointing at it, inside the current transaction, and returns the commit checksum.
func (r *Repo) WriteCommit(ctx context.Context, root *MutableTree, opts CommitOptions) (string, error) {
	if err := root.check(); err != nil {
		return "", err
	}
	meta, err := newMetadataVariant(opts.Metadata)
	if err != nil {
		return "", fmt.Errorf("writing commit: %w", err)
	}
	defer unrefVariant(meta)
	ts := opts.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	var out string
	err = r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		parent, subject, body := cstrOrNil(opts.Parent), cstrOrNil(opts.Subject), cstrOrNil(opts.Body)
		defer freeC(parent)
		defer freeC(subject)
		defer freeC(body)
		cs := C.bootc_repo_write_commit(p, root.ptr, parent, subject, body, meta,
			C.guint64(ts.Unix()), c, cerr)
		out = takeString(cs)
		return cs != nil
	})
	if err != nil {
		return "", fmt.Errorf("writing commit: %w", err)
	}
	return out, nil
}

// ReadCommit resolves rev (a ref or checksum) and loads its commit object.
func (r *Repo) ReadCommit(ctx context.Context, rev string) (*Commit, error) {
	checksum, err := r.ResolveRev(ctx, rev, false)
	if err != nil {
		return nil, err
	}
	var out *Commit
	err = r.use(func(p *C.OstreeRepo) error {
		cs := cstr(checksum)
		defer freeC(cs)
		var v *C.GVariant
		var partial C.gboolean
		var cerr *C.GError
		if C.bootc_repo_load_commit(p, cs, &v, &partial, &cerr) == 0 {
			return takeError(cerr)
		}
		defer C.g_variant_unref(v)
		// (a{sv}aya(say)sstayay): metadata, parent, related, subject, body, time, root tree, root meta
		child := func(i int) *C.GVariant { return C.bootc_variant_child(v, C.gsize(i)) }
		out = &Commit{Checksum: checksum, Partial: partial != 0}
		m := child(0)
		out.Metadata = goMetadata(m)
		C.g_variant_unref(m)
		par := child(1)
		out.Parent = takeString(C.bootc_checksum_from_variant(par))
		C.g_variant_unref(par)
		sub := child(3)
		out.Subject = C.GoString(C.bootc_variant_get_string(sub))
		C.g_variant_unref(sub)
		body := child(4)
		out.Body = C.GoString(C.bootc_variant_get_string(body))
		C.g_variant_unref(body)
		// Stored big-endian: libostree's accessor converts on every host byte order.
		out.Timestamp = time.Unix(int64(C.ostree_commit_get_timestamp(v)), 0).UTC()
		rc := child(6)
		out.RootContents = takeString(C.bootc_checksum_from_variant(rc))
		C.g_variant_unref(rc)
		rm := child(7)
		out.RootMeta = takeString(C.bootc_checksum_from_variant(rm))
		C.g_variant_unref(rm)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", rev, err)
	}
	return out, nil
}

// ReadDetachedMetadata returns the detached metadata of commit checksum, or nil if it has
// none (or an empty dictionary).
func (r *Repo) ReadDetachedMetadata(ctx context.Context, checksum string) (Metadata, error) {
	var out Metadata
	err := r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cs := cstr(checksum)
		defer freeC(cs)
		var v *C.GVariant
		if C.bootc_repo_read_detached(p, cs, &v, c, cerr) == 0 {
			return false
		}
		if v != nil {
			if C.bootc_variant_n_children(v) > 0 {
				out = goMetadata(v)
			}
			C.g_variant_unref(v)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading detached metadata of %s: %w", checksum, err)
	}
	return out, nil
}

// WriteDetachedMetadata replaces the detached metadata of commit checksum; nil removes it.
func (r *Repo) WriteDetachedMetadata(ctx context.Context, checksum string, meta Metadata) error {
	v, err := newMetadataVariant(meta)
	if err != nil {
		return fmt.Errorf("writing detached metadata of %s: %w", checksum, err)
	}
	defer unrefVariant(v)
	err = r.call(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cs := cstr(checksum)
		defer freeC(cs)
		return C.bootc_repo_write_detached(p, cs, v, c, cerr) != 0
	})
	if err != nil {
		return fmt.Errorf("writing detached metadata of %s: %w", checksum, err)
	}
	return nil
}
