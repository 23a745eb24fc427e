package ostree

// #include "shim.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"unsafe"
)

// Error domains that callers branch on.
const (
	// DomainIO is GLib's G_IO_ERROR domain.
	DomainIO = "g-io-error-quark"
	// DomainFile is GLib's G_FILE_ERROR domain.
	DomainFile = "g-file-error-quark"
	// DomainKeyFile is GLib's G_KEY_FILE_ERROR domain.
	DomainKeyFile = "g-key-file-error-quark"
	// DomainGPG is libostree's OSTREE_GPG_ERROR domain.
	DomainGPG = "OstreeGpgError"
)

// Codes of the G_IO_ERROR domain that this package maps to Go errors.
const (
	IOErrorFailed    = int(C.G_IO_ERROR_FAILED)
	IOErrorNotFound  = int(C.G_IO_ERROR_NOT_FOUND)
	IOErrorExists    = int(C.G_IO_ERROR_EXISTS)
	IOErrorCancelled = int(C.G_IO_ERROR_CANCELLED)
	IOErrorBusy      = int(C.G_IO_ERROR_BUSY)
	IOErrorNoSpace   = int(C.G_IO_ERROR_NO_SPACE)
	// IOErrorPermissionDenied is G_IO_ERROR_PERMISSION_DENIED.
	IOErrorPermissionDenied = int(C.G_IO_ERROR_PERMISSION_DENIED)
)

// GError is a GLib error converted to Go: its domain (the quark's string), its code within
// that domain and its message. errors.Is maps cancellation, not-found, exists and
// permission denied to context.Canceled, fs.ErrNotExist, fs.ErrExist and fs.ErrPermission.
type GError struct {
	Domain  string
	Code    int
	Message string
}

// Error returns the GLib message.
func (e *GError) Error() string { return e.Message }

// Is reports whether e corresponds to target (context.Canceled, fs.ErrNotExist, fs.ErrExist,
// fs.ErrPermission, or another *GError with the same domain and code).
func (e *GError) Is(target error) bool {
	switch target {
	case context.Canceled:
		return e.Domain == DomainIO && e.Code == IOErrorCancelled
	case fs.ErrNotExist:
		return (e.Domain == DomainIO && e.Code == IOErrorNotFound) ||
			(e.Domain == DomainFile && e.Code == int(C.G_FILE_ERROR_NOENT))
	case fs.ErrExist:
		return (e.Domain == DomainIO && e.Code == IOErrorExists) ||
			(e.Domain == DomainFile && e.Code == int(C.G_FILE_ERROR_EXIST))
	case fs.ErrPermission:
		return (e.Domain == DomainIO && e.Code == IOErrorPermissionDenied) ||
			(e.Domain == DomainFile && (e.Code == int(C.G_FILE_ERROR_ACCES) || e.Code == int(C.G_FILE_ERROR_PERM)))
	}
	var t *GError
	if errors.As(target, &t) {
		return t.Domain == e.Domain && t.Code == e.Code
	}
	return false
}

// takeError converts a GError set by a shim into a *GError and frees the C one. It returns
// nil for a NULL pointer. It is the one converter from GError to Go in this package.
func takeError(cerr *C.GError) error {
	if cerr == nil {
		return nil
	}
	e := &GError{
		Domain:  C.GoString(C.bootc_error_domain(cerr)),
		Code:    int(cerr.code),
		Message: C.GoString(cerr.message),
	}
	C.g_error_free(cerr)
	return e
}

// failed wraps a GError from a call made with ctx: when ctx was cancelled the context's
// own error is reported (still wrapping the GError), so errors.Is works for both
// context.Canceled and context.DeadlineExceeded.
func failed(ctx context.Context, what string, cerr *C.GError) error {
	err := takeError(cerr)
	if err == nil {
		err = fmt.Errorf("unknown error")
	}
	if ctx != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	if what == "" {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// gfree releases g_malloc'd memory.
func gfree(p unsafe.Pointer) { C.g_free(C.gpointer(p)) }
