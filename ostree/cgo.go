package ostree

// #cgo pkg-config: ostree-1 gio-2.0 glib-2.0
// #cgo CFLAGS: -Wall -Wno-unused-function
// #include "shim.h"
import "C"

import "unsafe"

// cstr returns a C copy of s, which the caller frees with freeC.
func cstr(s string) *C.char { return C.CString(s) }

// cstrOrNil is cstr, except that the empty string becomes NULL.
func cstrOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// freeC frees a pointer obtained from C.CString (NULL is fine).
func freeC(p *C.char) { C.free(unsafe.Pointer(p)) }

// takeString converts a g_malloc'd C string into Go and g_frees it.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	s := C.GoString(p)
	C.g_free(C.gpointer(unsafe.Pointer(p)))
	return s
}

// takeStrv converts a NULL-terminated g_malloc'd string array into Go and frees it.
func takeStrv(p **C.char) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, s := range unsafe.Slice(p, 1<<28) {
		if s == nil {
			break
		}
		out = append(out, C.GoString(s))
	}
	C.g_strfreev(p)
	return out
}

// cstrv converts strings into a NULL-terminated C array; free it with freeStrv.
func cstrv(ss []string) **C.char {
	arr := (**C.char)(C.calloc(C.size_t(len(ss)+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	s := unsafe.Slice(arr, len(ss)+1)
	for i, v := range ss {
		s[i] = C.CString(v)
	}
	return arr
}

// freeStrv frees an array made by cstrv.
func freeStrv(arr **C.char) {
	if arr == nil {
		return
	}
	for _, p := range unsafe.Slice(arr, 1<<28) {
		if p == nil {
			break
		}
		C.free(unsafe.Pointer(p))
	}
	C.free(unsafe.Pointer(arr))
}

func gbool(b bool) C.gboolean {
	if b {
		return C.TRUE
	}
	return C.FALSE
}
