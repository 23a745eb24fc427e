package ostree

// #include "shim.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

func wrapRepo(ptr *C.OstreeRepo, path string) *Repo {
	return &Repo{ptr: ptr, path: path, mode: RepoMode(C.bootc_repo_mode(ptr))}
}

// OpenRepo opens the repository at path. A missing repository gives an error for which
// errors.Is(err, fs.ErrNotExist) holds.
func OpenRepo(ctx context.Context, path string) (*Repo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("opening repo %s: %w", path, err)
	}
	cpath := cstr(path)
	defer freeC(cpath)
	c, release := cancellable(ctx)
	defer release()
	var cerr *C.GError
	ptr := C.bootc_repo_open(cpath, c, &cerr)
	if ptr == nil {
		return nil, failed(ctx, "opening repo "+path, cerr)
	}
	return wrapRepo(ptr, path), nil
}

// CreateRepo creates a repository of the given mode at path (creating the directory if
// needed) and opens it. Creating over an existing repository of the same mode opens it.
func CreateRepo(ctx context.Context, path string, mode RepoMode) (*Repo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("creating repo %s: %w", path, err)
	}
	cpath := cstr(path)
	defer freeC(cpath)
	c, release := cancellable(ctx)
	defer release()
	var cerr *C.GError
	ptr := C.bootc_repo_create(cpath, C.OstreeRepoMode(mode), c, &cerr)
	if ptr == nil {
		return nil, failed(ctx, "creating repo "+path, cerr)
	}
	return wrapRepo(ptr, path), nil
}

// Close releases the repository. It is safe to call more than once.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		C.g_object_unref(C.gpointer(r.ptr))
		r.ptr = nil
	}
	return nil
}

// use runs fn with the C pointer while holding the read lock, so Close cannot free it
// underneath a call.
func (r *Repo) use(fn func(p *C.OstreeRepo) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return ErrClosed
	}
	return fn(r.ptr)
}

// shimFunc makes one shim call with the repository p, the cancellable c and the GError
// slot cerr, and reports whether it succeeded.
type shimFunc func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool

// call runs fn under use with a GCancellable tied to ctx, released when fn returns; a
// failed call becomes an error through failed.
func (r *Repo) call(ctx context.Context, fn shimFunc) error {
	return r.use(func(p *C.OstreeRepo) error { return callShim(ctx, p, fn) })
}

// callChecked is call, except that a ctx that is already done is reported as ctx.Err()
// before fn runs (the writers and the long operations check first).
func (r *Repo) callChecked(ctx context.Context, fn shimFunc) error {
	return r.use(func(p *C.OstreeRepo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return callShim(ctx, p, fn)
	})
}

// callShim is the body of call and callChecked.
func callShim(ctx context.Context, p *C.OstreeRepo, fn shimFunc) error {
	c, release := cancellable(ctx)
	defer release()
	var cerr *C.GError
	if !fn(p, c, &cerr) {
		return failed(ctx, "", cerr)
	}
	return nil
}

// SetDisableFsync turns off fsync for this repository instance (tests, benchmarks, or
// imports where the caller syncs the filesystem itself).
func (r *Repo) SetDisableFsync(disable bool) error {
	return r.use(func(p *C.OstreeRepo) error {
		C.ostree_repo_set_disable_fsync(p, gbool(disable))
		return nil
	})
}

// SetConfig sets group.key = value in the repository's config file and writes it.
func (r *Repo) SetConfig(group, key, value string) error {
	return r.use(func(p *C.OstreeRepo) error {
		cg, ck, cv := cstr(group), cstr(key), cstr(value)
		defer freeC(cg)
		defer freeC(ck)
		defer freeC(cv)
		var cerr *C.GError
		if C.bootc_repo_config_set(p, cg, ck, cv, &cerr) == 0 {
			return failed(nil, fmt.Sprintf("setting %s.%s in %s/config", group, key, r.path), cerr)
		}
		return nil
	})
}

// Config returns group.key from the repository's config, and whether it is set.
func (r *Repo) Config(group, key string) (string, bool, error) {
	var val string
	var ok bool
	err := r.use(func(p *C.OstreeRepo) error {
		cg, ck := cstr(group), cstr(key)
		defer freeC(cg)
		defer freeC(ck)
		v := C.bootc_repo_config_get(p, cg, ck)
		ok = v != nil
		val = takeString(v)
		return nil
	})
	return val, ok, err
}

// PrepareTransaction starts a transaction. Only one may be open per Repo.
func (r *Repo) PrepareTransaction(ctx context.Context) (*Transaction, error) {
	err := r.use(func(p *C.OstreeRepo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, release := cancellable(ctx)
		defer release()
		var cerr *C.GError
		var resuming C.gboolean
		if C.ostree_repo_prepare_transaction(p, &resuming, c, &cerr) == 0 {
			return failed(ctx, "", cerr)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("preparing transaction in %s: %w", r.path, err)
	}
	return &Transaction{repo: r}, nil
}

// SetRef records that ref points at checksum when the transaction commits; an empty
// checksum deletes ref at commit.
func (t *Transaction) SetRef(ref, checksum string) {
	_ = t.repo.use(func(p *C.OstreeRepo) error {
		cref := cstr(ref)
		defer freeC(cref)
		csum := cstrOrNil(checksum)
		defer freeC(csum)
		C.ostree_repo_transaction_set_ref(p, nil, cref, csum)
		return nil
	})
}

// Commit finishes the transaction, making written objects and refs durable.
func (t *Transaction) Commit(ctx context.Context) error {
	if t.done {
		return fmt.Errorf("committing transaction in %s: already finished", t.repo.path)
	}
	t.done = true
	err := t.repo.use(func(p *C.OstreeRepo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		// From here the commit is not cancellable: a cancel in the middle of the renames
		// and ref updates would throw the import away with some refs already updated.
		var cerr *C.GError
		if C.ostree_repo_commit_transaction(p, nil, nil, &cerr) == 0 {
			return failed(nil, "", cerr)
		}
		return nil
	})
	if err != nil {
		t.abort()
		return fmt.Errorf("committing transaction in %s: %w", t.repo.path, err)
	}
	return nil
}

// Abort discards the transaction. It is a no-op after Commit or a previous Abort.
func (t *Transaction) Abort() error {
	if t.done {
		return nil
	}
	t.done = true
	return t.abort()
}

func (t *Transaction) abort() error {
	return t.repo.use(func(p *C.OstreeRepo) error {
		var cerr *C.GError
		// Aborting must not be cancelled, or objects of a half transaction stay staged.
		if C.ostree_repo_abort_transaction(p, nil, &cerr) == 0 {
			return failed(nil, "aborting transaction in "+t.repo.path, cerr)
		}
		// Nothing of the discarded transaction stays in tmp/ (libostree keeps it).
		return removeStagingDirs(t.repo.path)
	})
}

// WithTransaction runs fn inside a transaction: it commits when fn returns nil and aborts
// when fn returns an error or panics. The calling goroutine stays on one OS thread from
// prepare to commit, as older libostree kept repository lock state per thread; fn may
// still write objects from other goroutines.
func (r *Repo) WithTransaction(ctx context.Context, fn func(*Transaction) error) (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t, err := r.PrepareTransaction(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = t.Abort()
			panic(p)
		}
		if err != nil {
			if aerr := t.Abort(); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
	}()
	if err = fn(t); err != nil {
		return err
	}
	return t.Commit(ctx)
}
