package ostree

// #include "shim.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"unsafe"
)

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
