package ostree

// #include "shim.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
	"unsafe"
)

// OpenSysroot returns a Sysroot for the directory path (not yet loaded: call Load).
func OpenSysroot(path string) (*Sysroot, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("opening sysroot %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("opening sysroot: %w", err)
	}
	cp := cstr(abs)
	defer freeC(cp)
	return &Sysroot{ptr: C.bootc_sysroot_new(cp), path: abs}, nil
}

// SetMountNamespaceInUse tells libostree that the process runs in its own mount namespace,
// so it may remount the booted system's read-only /sysroot writable there (the caller must
// have unshared its mount namespace before starting its threads, e.g. by re-executing).
func (s *Sysroot) SetMountNamespaceInUse() {
	_ = s.do(nil, "", func(p *C.OstreeSysroot, _ *C.GCancellable) error {
		C.ostree_sysroot_set_mount_namespace_in_use(p)
		return nil
	})
}

// Close unlocks the sysroot if this Sysroot holds the lock and releases it.
func (s *Sysroot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr == nil {
		return nil
	}
	if s.locked {
		C.ostree_sysroot_unlock(s.ptr)
		s.locked = false
	}
	C.g_object_unref(C.gpointer(s.ptr))
	s.ptr = nil
	return nil
}

// do runs fn with the C pointer under the mutex.
func (s *Sysroot) do(ctx context.Context, what string, fn func(p *C.OstreeSysroot, c *C.GCancellable) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr == nil {
		return fmt.Errorf("%s: %w", what, ErrClosed)
	}
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	c, release := cancellable(ctx)
	defer release()
	if err := fn(s.ptr, c); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// doLoaded is do for the calls that libostree only allows on a loaded sysroot.
func (s *Sysroot) doLoaded(ctx context.Context, what string, fn func(p *C.OstreeSysroot, c *C.GCancellable) error) error {
	return s.do(ctx, what, func(p *C.OstreeSysroot, c *C.GCancellable) error {
		if !s.loaded {
			return ErrNotLoaded
		}
		return fn(p, c)
	})
}

// Load reads the sysroot's state (deployments, boot version). Call again after changes made
// by another process.
func (s *Sysroot) Load(ctx context.Context) error {
	return s.do(ctx, "loading sysroot "+s.path, func(p *C.OstreeSysroot, c *C.GCancellable) error {
		var cerr *C.GError
		if C.ostree_sysroot_load(p, c, &cerr) == 0 {
			return failed(ctx, "", cerr)
		}
		s.loaded = true
		return nil
	})
}

// EnsureInitialized creates the sysroot's basic layout (ostree/repo, ostree/deploy, boot)
// if missing.
func (s *Sysroot) EnsureInitialized(ctx context.Context) error {
	return s.do(ctx, "initializing sysroot "+s.path, func(p *C.OstreeSysroot, c *C.GCancellable) error {
		var cerr *C.GError
		if C.ostree_sysroot_ensure_initialized(p, c, &cerr) == 0 {
			return failed(ctx, "", cerr)
		}
		return nil
	})
}

// InitStateroot creates the stateroot (osname) name with its /var, if missing.
func (s *Sysroot) InitStateroot(ctx context.Context, name string) error {
	return s.do(ctx, "initializing stateroot "+name, func(p *C.OstreeSysroot, c *C.GCancellable) error {
		cn := cstr(name)
		defer freeC(cn)
		var cerr *C.GError
		if C.ostree_sysroot_init_osname(p, cn, c, &cerr) == 0 {
			return failed(ctx, "", cerr)
		}
		return nil
	})
}

// TryLock takes the sysroot lock if it is free and reports whether it did.
func (s *Sysroot) TryLock() (bool, error) {
	var got C.gboolean
	err := s.do(nil, "locking sysroot "+s.path, func(p *C.OstreeSysroot, _ *C.GCancellable) error {
		if s.locked {
			got = C.TRUE
			return nil
		}
		var cerr *C.GError
		if C.ostree_sysroot_try_lock(p, &got, &cerr) == 0 {
			return takeError(cerr)
		}
		s.locked = got != 0
		return nil
	})
	return got != 0, err
}

// Lock takes the sysroot lock, waiting while another process holds it. It gives up when
// ctx ends, with an error wrapping both ErrLocked and the context's error. onWait, if not
// nil, is called once when the lock is found busy (to tell the user what is happening).
func (s *Sysroot) Lock(ctx context.Context, onWait func()) error {
	delay := 20 * time.Millisecond
	for waited := false; ; waited = true {
		got, err := s.TryLock()
		if err != nil || got {
			return err
		}
		if !waited && onWait != nil {
			onWait()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("locking sysroot %s: %w: %w", s.path, ErrLocked, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 500*time.Millisecond {
			delay *= 2
		}
	}
}

// Unlock releases the sysroot lock if held.
func (s *Sysroot) Unlock() {
	_ = s.do(nil, "unlocking sysroot", func(p *C.OstreeSysroot, _ *C.GCancellable) error {
		if s.locked {
			C.ostree_sysroot_unlock(p)
			s.locked = false
		}
		return nil
	})
}

// IsBooted reports whether this sysroot is the one the running system booted from.
func (s *Sysroot) IsBooted() bool {
	var b bool
	_ = s.do(nil, "", func(p *C.OstreeSysroot, _ *C.GCancellable) error {
		b = C.ostree_sysroot_get_booted_deployment(p) != nil
		return nil
	})
	return b
}

// Deployments returns the loaded deployments in boot order (staged first when present).
func (s *Sysroot) Deployments() ([]*Deployment, error) {
	var out []*Deployment
	err := s.doLoaded(nil, "listing deployments of "+s.path, func(p *C.OstreeSysroot, _ *C.GCancellable) error {
		arr := C.ostree_sysroot_get_deployments(p) // (transfer container)
		defer C.g_ptr_array_unref(arr)
		for i := C.guint(0); i < arr.len; i++ {
			out = append(out, newDeployment(C.bootc_deployment_index(arr, i)))
		}
		return nil
	})
	return out, err
}

// borrowed snapshots a (transfer none) deployment pointer, or returns nil.
func borrowed(p *C.OstreeDeployment) *Deployment {
	if p == nil {
		return nil
	}
	return newDeployment(p)
}

// Booted returns the booted deployment, or nil when this sysroot is not booted.
func (s *Sysroot) Booted() *Deployment {
	var d *Deployment
	_ = s.do(nil, "", func(p *C.OstreeSysroot, _ *C.GCancellable) error {
		if !s.loaded {
			return ErrNotLoaded
		}
		d = borrowed(C.ostree_sysroot_get_booted_deployment(p))
		return nil
	})
	return d
}

// Staged returns the staged deployment, or nil.
func (s *Sysroot) Staged() *Deployment {
	var d *Deployment
	_ = s.do(nil, "", func(p *C.OstreeSysroot, _ *C.GCancellable) error {
		if !s.loaded {
			return ErrNotLoaded
		}
		d = borrowed(C.ostree_sysroot_get_staged_deployment(p))
		return nil
	})
	return d
}

// MergeDeployment returns the deployment whose /etc a new deployment of stateroot merges
// from: the booted one when booted in that stateroot, else the first of that stateroot.
// It returns nil when the stateroot has none.
func (s *Sysroot) MergeDeployment(stateroot string) *Deployment {
	var d *Deployment
	_ = s.do(nil, "", func(p *C.OstreeSysroot, _ *C.GCancellable) error {
		if !s.loaded {
			return ErrNotLoaded
		}
		cn := cstrOrNil(stateroot)
		defer freeC(cn)
		if dp := C.ostree_sysroot_get_merge_deployment(p, cn); dp != nil { // (transfer full)
			d = wrapDeployment(dp)
		}
		return nil
	})
	return d
}

// DeployTree creates a new deployment now: checks out the commit, merges /etc from
// opts.Merge in-process, and writes the origin. The deployment is not yet in the boot
// list: pass it to WriteDeployments (or SimpleWriteDeployment).
func (s *Sysroot) DeployTree(ctx context.Context, opts DeployOptions) (*Deployment, error) {
	if opts.Locked {
		return nil, errors.New("deploying: Locked applies only to staged deployments")
	}
	return s.deploy(ctx, false, opts)
}

// StageTree stages a deployment on a booted system: it is checked out now and finalized
// (3-way /etc merge, boot entries) at shutdown by ostree-finalize-staged.service.
func (s *Sysroot) StageTree(ctx context.Context, opts DeployOptions) (*Deployment, error) {
	// libostree 2022.7 neither creates nor removes the lock file itself, and stage_tree
	// keeps an existing one. So the lock is put in place before a locked deployment is
	// staged (a kill between the two then leaves it locked, never unlocked), and removed
	// after an unlocked one is staged (an earlier --download-only lock must not hold back
	// the new deployment). A failed stage restores the lock as it was.
	wasLocked := StagedLocked()
	if opts.Locked && !wasLocked {
		if err := lockStaged(); err != nil {
			return nil, err
		}
	}
	d, err := stageImpl(s, ctx, opts)
	if err != nil {
		if opts.Locked && !wasLocked {
			err = errors.Join(err, UnlockStaged())
		}
		return nil, err
	}
	if !opts.Locked {
		if err := UnlockStaged(); err != nil {
			return d, fmt.Errorf("staged %s, but its finalization lock stays: %w", d.Checksum, err)
		}
	}
	return d, nil
}

// stageImpl stages with libostree (replaced by tests of the lock handling, which cannot
// stage on a system that is not booted from ostree).
var stageImpl = func(s *Sysroot, ctx context.Context, opts DeployOptions) (*Deployment, error) {
	return s.deploy(ctx, true, opts)
}

func (s *Sysroot) deploy(ctx context.Context, stage bool, opts DeployOptions) (*Deployment, error) {
	if opts.Stateroot == "" || opts.Revision == "" {
		return nil, errors.New("deploying: stateroot and revision are required")
	}
	verb := "deploying"
	if stage {
		verb = "staging"
	}
	var out *Deployment
	err := s.doLoaded(ctx, fmt.Sprintf("%s %s in stateroot %s", verb, opts.Revision, opts.Stateroot),
		func(p *C.OstreeSysroot, c *C.GCancellable) error {
			cos, crev := cstr(opts.Stateroot), cstr(opts.Revision)
			defer freeC(cos)
			defer freeC(crev)
			// libostree keeps a reference to the origin in the new deployment: give it a
			// copy of its own, which the caller's later edits do not reach.
			var origin *KeyFile
			var corigin *C.GKeyFile
			if opts.Origin != nil {
				var err error
				if origin, err = copyKeyFile(opts.Origin.ptr()); err != nil {
					return err
				}
				corigin = origin.ptr()
			}
			var kargs **C.char
			if opts.KernelArgs != nil {
				kargs = cstrv(opts.KernelArgs)
				defer freeStrv(kargs)
			}
			merge := opts.Merge.acquire()
			defer unrefDeployment(merge)
			if opts.Merge != nil && merge == nil {
				return fmt.Errorf("merge deployment: %w", ErrClosed)
			}
			var cerr *C.GError
			d := C.bootc_sysroot_deploy(p, gbool(stage), cos, crev, corigin, merge, kargs, c, &cerr)
			runtime.KeepAlive(opts.Merge)
			runtime.KeepAlive(origin)
			if d == nil {
				return failed(ctx, "", cerr)
			}
			out = wrapDeployment(d)
			return nil
		})
	return out, err
}

// WriteDeployments makes deps the complete, ordered deployment list (the first boots by
// default): it writes boot entries, swaps the boot version atomically, and reloads.
func (s *Sysroot) WriteDeployments(ctx context.Context, deps []*Deployment, opts WriteOptions) error {
	err := s.doLoaded(ctx, "writing deployments of "+s.path, func(p *C.OstreeSysroot, c *C.GCancellable) error {
		arr := (**C.OstreeDeployment)(C.calloc(C.size_t(len(deps)+1), C.size_t(unsafe.Sizeof(uintptr(0)))))
		defer C.free(unsafe.Pointer(arr))
		sl := unsafe.Slice(arr, len(deps)+1)
		for i, d := range deps {
			sl[i] = d.acquire()
			defer unrefDeployment(sl[i])
			if sl[i] == nil {
				return fmt.Errorf("deployment %s.%d: %w", d.Checksum, d.Serial, ErrClosed)
			}
		}
		var cerr *C.GError
		ok := C.bootc_sysroot_write_deployments(p, arr, C.gsize(len(deps)), gbool(!opts.NoCleanup), c, &cerr)
		runtime.KeepAlive(deps)
		if ok == 0 {
			return failed(ctx, "", cerr)
		}
		// The swap is done: a cancel now must not report failure for a change that was
		// made, so the reload is not cancellable.
		if C.ostree_sysroot_load(p, nil, &cerr) == 0 {
			return failed(nil, "reloading", cerr)
		}
		return nil
	})
	return err
}

// Cleanup deletes deployments and boot entries that are no longer listed and prunes the
// repository of objects no ref or deployment needs.
func (s *Sysroot) Cleanup(ctx context.Context) error {
	return s.doLoaded(ctx, "cleaning up sysroot "+s.path, func(p *C.OstreeSysroot, c *C.GCancellable) error {
		var cerr *C.GError
		if C.ostree_sysroot_cleanup(p, c, &cerr) == 0 {
			return failed(ctx, "", cerr)
		}
		return nil
	})
}

// PrepareCleanup writes the deployment refs (ostree/B/S/N) that keep every deployment's
// commit from being pruned, and deletes deployments no longer listed; it prunes nothing.
func (s *Sysroot) PrepareCleanup(ctx context.Context) error {
	return s.doLoaded(ctx, "preparing cleanup of sysroot "+s.path, func(p *C.OstreeSysroot, c *C.GCancellable) error {
		var cerr *C.GError
		if C.ostree_sysroot_prepare_cleanup(p, c, &cerr) == 0 {
			return failed(ctx, "", cerr)
		}
		return nil
	})
}

// PruneRepo deletes the repository's objects that no ref and no deployment reaches, as
// libostree's sysroot cleanup does: every deployment's commit is kept whether or not its
// deployment ref exists (the raw Repo.Prune keeps only what refs reach).
func (s *Sysroot) PruneRepo(ctx context.Context) (PruneStats, error) {
	var st PruneStats
	err := s.doLoaded(ctx, "pruning the repository of sysroot "+s.path, func(p *C.OstreeSysroot, c *C.GCancellable) error {
		var total, pruned C.gint
		var size C.guint64
		var cerr *C.GError
		if C.bootc_sysroot_prune_repo(p, &total, &pruned, &size, c, &cerr) == 0 {
			return failed(ctx, "", cerr)
		}
		st = PruneStats{Objects: int(total), Pruned: int(pruned), Bytes: uint64(size)}
		return nil
	})
	return st, err
}

// WriteOrigin replaces the origin file of d (libostree's ostree_sysroot_write_origin_file,
// which also updates the loaded deployment).
func (s *Sysroot) WriteOrigin(ctx context.Context, d *Deployment, origin *KeyFile) error {
	return s.doLoaded(ctx, "writing origin of "+d.Relpath(), func(p *C.OstreeSysroot, c *C.GCancellable) error {
		// libostree keeps the origin in the deployment: give it a copy of its own.
		own, err := copyKeyFile(origin.ptr())
		if err != nil {
			return err
		}
		dp := d.acquire()
		if dp == nil {
			return ErrClosed
		}
		defer unrefDeployment(dp)
		var cerr *C.GError
		ok := C.ostree_sysroot_write_origin_file(p, dp, own.ptr(), c, &cerr)
		runtime.KeepAlive(d)
		runtime.KeepAlive(own)
		runtime.KeepAlive(origin)
		if ok == 0 {
			return failed(ctx, "", cerr)
		}
		return nil
	})
}

// SetKargs replaces the kernel arguments of d's boot entry with args and rewrites the
// bootloader configuration (libostree's ostree_sysroot_deployment_set_kargs: a new boot
// version, as ostree admin instutil set-kargs). Load the sysroot again afterwards.
func (s *Sysroot) SetKargs(ctx context.Context, d *Deployment, args []string) error {
	return s.doLoaded(ctx, "setting the kernel arguments of "+d.Relpath(), func(p *C.OstreeSysroot, c *C.GCancellable) error {
		dp := d.acquire()
		if dp == nil {
			return ErrClosed
		}
		defer unrefDeployment(dp)
		argv := cstrv(args)
		defer freeStrv(argv)
		var cerr *C.GError
		ok := C.ostree_sysroot_deployment_set_kargs(p, dp, argv, c, &cerr)
		runtime.KeepAlive(d)
		if ok == 0 {
			return failed(ctx, "", cerr)
		}
		return nil
	})
}

// UnlockDeployment sets up a writable overlay on d's /usr (ostree admin unlock).
func (s *Sysroot) UnlockDeployment(ctx context.Context, d *Deployment, state UnlockedState) error {
	return s.doLoaded(ctx, "unlocking "+d.Relpath(), func(p *C.OstreeSysroot, c *C.GCancellable) error {
		dp := d.acquire()
		if dp == nil {
			return ErrClosed
		}
		defer unrefDeployment(dp)
		var cerr *C.GError
		ok := C.ostree_sysroot_deployment_unlock(p, dp, state.c(), c, &cerr)
		runtime.KeepAlive(d)
		if ok == 0 {
			return failed(ctx, "", cerr)
		}
		return nil
	})
}

// Repo opens the sysroot's repository (ostree/repo). The caller closes it.
//
// The Repo wraps the sysroot's own OstreeRepo, which libostree also uses inside the
// Sysroot calls (DeployTree, StageTree, WriteDeployments, Cleanup, PrepareCleanup,
// PruneRepo open transactions or take the repo lock on it), but the Repo's mutex is not the
// Sysroot's. So the rule: no Repo transaction (WithTransaction, an import) may be open
// while one of those Sysroot calls runs; bootc runs them one after the other under the
// sysroot lock.
func (s *Sysroot) Repo(ctx context.Context) (*Repo, error) {
	var r *Repo
	err := s.do(ctx, "opening repo of sysroot "+s.path, func(p *C.OstreeSysroot, c *C.GCancellable) error {
		var rp *C.OstreeRepo
		var cerr *C.GError
		if C.ostree_sysroot_get_repo(p, &rp, c, &cerr) == 0 {
			return failed(ctx, "", cerr)
		}
		r = wrapRepo(rp, filepath.Join(s.path, "ostree/repo"))
		return nil
	})
	return r, err
}
