package ostree

// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
)

// ResolveRev returns the checksum a ref (or checksum) names. With allowMissing, a missing
// ref gives "" and no error; otherwise errors.Is(err, fs.ErrNotExist) holds for it.
func (r *Repo) ResolveRev(ctx context.Context, rev string, allowMissing bool) (string, error) {
	var out string
	err := r.use(func(p *C.OstreeRepo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		cr := cstr(rev)
		defer freeC(cr)
		var cerr *C.GError
		cs := C.bootc_repo_resolve(p, cr, gbool(allowMissing), &cerr)
		if cs == nil && cerr != nil {
			return takeError(cerr)
		}
		out = takeString(cs)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", rev, err)
	}
	return out, nil
}

// SetRef points ref at checksum at once (outside any transaction).
func (r *Repo) SetRef(ctx context.Context, ref, checksum string) error {
	if checksum == "" {
		return fmt.Errorf("setting ref %s: empty checksum (use DeleteRef)", ref)
	}
	return r.setRef(ctx, ref, checksum)
}

// DeleteRef removes ref at once; deleting a missing ref is not an error.
func (r *Repo) DeleteRef(ctx context.Context, ref string) error {
	return r.setRef(ctx, ref, "")
}

func (r *Repo) setRef(ctx context.Context, ref, checksum string) error {
	err := r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cref := cstr(ref)
		defer freeC(cref)
		cs := cstrOrNil(checksum)
		defer freeC(cs)
		return C.bootc_repo_set_ref(p, cref, cs, c, cerr) != 0
	})
	if err != nil {
		if checksum == "" {
			return fmt.Errorf("deleting ref %s: %w", ref, err)
		}
		return fmt.Errorf("setting ref %s: %w", ref, err)
	}
	return nil
}

// ListRefs returns the refs under prefix ("" for all), ref to checksum. Refs are given with
// their full name, prefix included.
func (r *Repo) ListRefs(ctx context.Context, prefix string) (map[string]string, error) {
	out := map[string]string{}
	err := r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cp := cstrOrNil(prefix)
		defer freeC(cp)
		arr := C.bootc_repo_list_refs(p, cp, c, cerr)
		if arr == nil {
			return false
		}
		kv := takeStrv(arr)
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("listing refs %s: %w", prefix, err)
	}
	return out, nil
}

// Prune deletes unreachable objects. depth is how much commit history is kept (-1 for all).
func (r *Repo) Prune(ctx context.Context, flags PruneFlags, depth int) (PruneStats, error) {
	var st PruneStats
	err := r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		var total, pruned C.gint
		var size C.guint64
		if C.bootc_repo_prune(p, C.OstreeRepoPruneFlags(flags), C.gint(depth), &total, &pruned, &size, c, cerr) == 0 {
			return false
		}
		st = PruneStats{Objects: int(total), Pruned: int(pruned), Bytes: uint64(size)}
		return true
	})
	if err != nil {
		return st, fmt.Errorf("pruning %s: %w", r.path, err)
	}
	return st, nil
}

// Checkout writes the tree of rev to dest (created if missing).
func (r *Repo) Checkout(ctx context.Context, rev, dest string, opts CheckoutOptions) error {
	err := r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		crev, cdest, csub := cstr(rev), cstr(dest), cstrOrNil(opts.Subpath)
		defer freeC(crev)
		defer freeC(cdest)
		defer freeC(csub)
		return C.bootc_repo_checkout(p, crev, cdest, csub, gbool(opts.User), C.int(opts.Overwrite),
			gbool(opts.ProcessWhiteouts), gbool(opts.ForceCopy), gbool(opts.NoCopyFallback), c, cerr) != 0
	})
	if err != nil {
		return fmt.Errorf("checking out %s to %s: %w", rev, dest, err)
	}
	return nil
}
