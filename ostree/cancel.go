package ostree

// #include "shim.h"
import "C"

import "context"

// cancellable maps a context onto a GCancellable for the duration of one blocking C call.
//
// If ctx can never be cancelled it returns NULL. Otherwise it creates a GCancellable with an
// extra reference owned by a context.AfterFunc watcher that cancels it (g_cancellable_cancel
// is thread-safe) and then drops that reference. The returned release function, called after
// the C call, stops the watcher (dropping its reference if it never ran) and drops the
// caller's reference, so the cancellable is never freed while the watcher may use it.
func cancellable(ctx context.Context) (*C.GCancellable, func()) {
	if ctx == nil || ctx.Done() == nil {
		return nil, func() {}
	}
	c := C.g_cancellable_new()
	C.g_object_ref(C.gpointer(c))
	stop := context.AfterFunc(ctx, func() {
		C.g_cancellable_cancel(c)
		C.g_object_unref(C.gpointer(c))
	})
	if ctx.Err() != nil {
		// Make sure the cancellation is visible before the call starts.
		C.g_cancellable_cancel(c)
	}
	return c, func() {
		if stop() {
			C.g_object_unref(C.gpointer(c))
		}
		C.g_object_unref(C.gpointer(c))
	}
}
