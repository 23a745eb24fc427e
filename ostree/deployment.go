package ostree

// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime"
	"sync"
)

func (u UnlockedState) c() C.OstreeDeploymentUnlockedState {
	switch u {
	case UnlockedDevelopment:
		return C.OSTREE_DEPLOYMENT_UNLOCKED_DEVELOPMENT
	case UnlockedHotfix:
		return C.OSTREE_DEPLOYMENT_UNLOCKED_HOTFIX
	case UnlockedTransient:
		return C.OSTREE_DEPLOYMENT_UNLOCKED_TRANSIENT
	}
	return C.OSTREE_DEPLOYMENT_UNLOCKED_NONE
}

type deploymentRef struct {
	mu  sync.Mutex
	ptr *C.OstreeDeployment
}

func (r *deploymentRef) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		C.g_object_unref(C.gpointer(r.ptr))
		r.ptr = nil
	}
}

// acquire returns the C object with a reference of the caller's own (nil once released).
func (r *deploymentRef) acquire() *C.OstreeDeployment {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		C.g_object_ref(C.gpointer(r.ptr))
	}
	return r.ptr
}

// newDeployment snapshots a borrowed OstreeDeployment and takes its own reference.
func newDeployment(p *C.OstreeDeployment) *Deployment {
	C.g_object_ref(C.gpointer(p))
	return wrapDeployment(p)
}

// wrapDeployment snapshots an OstreeDeployment whose reference it takes over.
func wrapDeployment(p *C.OstreeDeployment) *Deployment {
	d := &Deployment{
		ref:          &deploymentRef{},
		Index:        int(C.ostree_deployment_get_index(p)),
		Stateroot:    C.GoString(C.ostree_deployment_get_osname(p)),
		Checksum:     C.GoString(C.ostree_deployment_get_csum(p)),
		Serial:       int(C.ostree_deployment_get_deployserial(p)),
		BootChecksum: C.GoString(C.ostree_deployment_get_bootcsum(p)),
		BootSerial:   int(C.ostree_deployment_get_bootserial(p)),
		Staged:       C.ostree_deployment_is_staged(p) != 0,
		Pinned:       C.ostree_deployment_is_pinned(p) != 0,
		Unlocked:     UnlockedState(C.GoString(C.ostree_deployment_unlocked_state_to_string(C.ostree_deployment_get_unlocked(p)))),
	}
	if o := C.ostree_deployment_get_origin(p); o != nil {
		if kf, err := copyKeyFile(o); err != nil {
			d.OriginErr = fmt.Errorf("origin of deployment %s.%d: %w", d.Checksum, d.Serial, err)
		} else {
			d.Origin = kf
		}
	}
	if opts := C.bootc_deployment_options(p); opts != nil {
		d.BootOptions = C.GoString(opts)
	}
	d.ref.ptr = p
	runtime.AddCleanup(d, func(r *deploymentRef) { r.release() }, d.ref)
	return d
}

// Close drops the reference to the C object. The snapshot fields stay readable, but the
// Deployment can no longer be passed to Sysroot methods. Safe to call more than once.
func (d *Deployment) Close() {
	if d != nil {
		d.ref.release()
	}
}

// acquire returns the C object with a reference of its own, which the caller drops (with
// unrefDeployment) once its C call returned: a Close from another goroutine in the
// meantime cannot free the object under the call. It returns nil when d is nil or closed.
func (d *Deployment) acquire() *C.OstreeDeployment {
	if d == nil {
		return nil
	}
	return d.ref.acquire()
}

// unrefDeployment drops a reference taken by acquire (nil is allowed).
func unrefDeployment(p *C.OstreeDeployment) {
	if p != nil {
		C.g_object_unref(C.gpointer(p))
	}
}
