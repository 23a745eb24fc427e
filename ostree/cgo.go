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

// The C objects behind Repo, Sysroot and MutableTree (nocgo.go gives empty stand-ins).
type (
	cRepo        = C.OstreeRepo
	cSysroot     = C.OstreeSysroot
	cMutableTree = C.OstreeMutableTree
)

// types.go spells libostree's and GLib's enum values out, so that the no-cgo twin has
// them; each index below is 0 exactly when a value is the C one (else the build fails).
var _ = [...]struct{}{
	[1]struct{}{}[ObjectFile-C.OSTREE_OBJECT_TYPE_FILE],
	[1]struct{}{}[ObjectDirTree-C.OSTREE_OBJECT_TYPE_DIR_TREE],
	[1]struct{}{}[ObjectDirMeta-C.OSTREE_OBJECT_TYPE_DIR_META],
	[1]struct{}{}[ObjectCommit-C.OSTREE_OBJECT_TYPE_COMMIT],
	[1]struct{}{}[ObjectCommitMeta-C.OSTREE_OBJECT_TYPE_COMMIT_META],
	[1]struct{}{}[PruneRefsOnly-C.OSTREE_REPO_PRUNE_FLAGS_REFS_ONLY],
	[1]struct{}{}[PruneDryRun-C.OSTREE_REPO_PRUNE_FLAGS_NO_PRUNE],
	[1]struct{}{}[PruneCommitOnly-C.OSTREE_REPO_PRUNE_FLAGS_COMMIT_ONLY],
	[1]struct{}{}[OverwriteNone-C.OSTREE_REPO_CHECKOUT_OVERWRITE_NONE],
	[1]struct{}{}[OverwriteUnionFiles-C.OSTREE_REPO_CHECKOUT_OVERWRITE_UNION_FILES],
	[1]struct{}{}[OverwriteAddFiles-C.OSTREE_REPO_CHECKOUT_OVERWRITE_ADD_FILES],
	[1]struct{}{}[OverwriteUnionIdentical-C.OSTREE_REPO_CHECKOUT_OVERWRITE_UNION_IDENTICAL],
	[1]struct{}{}[ModeBare-C.OSTREE_REPO_MODE_BARE],
	[1]struct{}{}[ModeArchive-C.OSTREE_REPO_MODE_ARCHIVE],
	[1]struct{}{}[ModeBareUser-C.OSTREE_REPO_MODE_BARE_USER],
	[1]struct{}{}[ModeBareUserOnly-C.OSTREE_REPO_MODE_BARE_USER_ONLY],
	[1]struct{}{}[IOErrorFailed-C.G_IO_ERROR_FAILED],
	[1]struct{}{}[IOErrorNotFound-C.G_IO_ERROR_NOT_FOUND],
	[1]struct{}{}[IOErrorExists-C.G_IO_ERROR_EXISTS],
	[1]struct{}{}[IOErrorCancelled-C.G_IO_ERROR_CANCELLED],
	[1]struct{}{}[IOErrorBusy-C.G_IO_ERROR_BUSY],
	[1]struct{}{}[IOErrorNoSpace-C.G_IO_ERROR_NO_SPACE],
	[1]struct{}{}[IOErrorPermissionDenied-C.G_IO_ERROR_PERMISSION_DENIED],
	[1]struct{}{}[gFileErrorExist-C.G_FILE_ERROR_EXIST],
	[1]struct{}{}[gFileErrorAcces-C.G_FILE_ERROR_ACCES],
	[1]struct{}{}[gFileErrorNoent-C.G_FILE_ERROR_NOENT],
	[1]struct{}{}[gFileErrorPerm-C.G_FILE_ERROR_PERM],
}
