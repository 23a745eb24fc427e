package ostree

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// keyFileHandle owns one reference to a GKeyFile, dropped when the handle is collected
// (copies of a KeyFile share the handle).
type keyFileHandle struct {
	p *C.GKeyFile
}

// takeKeyFile wraps a GKeyFile whose reference the KeyFile takes over.
func takeKeyFile(p *C.GKeyFile) *KeyFile {
	h := &keyFileHandle{p: p}
	runtime.AddCleanup(h, func(p *C.GKeyFile) { C.g_key_file_unref(p) }, p)
	return &KeyFile{h: h}
}

// ptr returns the GKeyFile, creating an empty one for the zero KeyFile.
func (kf *KeyFile) ptr() *C.GKeyFile {
	if kf.h == nil {
		kf.h = takeKeyFile(C.g_key_file_new()).h
	}
	return kf.h.p
}

// ParseKeyFile parses key file text with g_key_file_load_from_data, keeping comments.
// Lines that are neither comments, groups nor key=value pairs in a group are an error
// naming the line (GLib's G_KEY_FILE_ERROR).
func ParseKeyFile(data string) (*KeyFile, error) {
	kf := takeKeyFile(C.g_key_file_new())
	cdata := C.CString(data)
	defer freeC(cdata)
	var cerr *C.GError
	ok := C.g_key_file_load_from_data(kf.h.p, cdata, C.gsize(len(data)), C.G_KEY_FILE_KEEP_COMMENTS, &cerr)
	if ok == 0 {
		return nil, fmt.Errorf("parsing key file: %w", takeError(cerr))
	}
	return kf, nil
}

// copyKeyFile returns a KeyFile holding what src holds (a GKeyFile owned by libostree).
func copyKeyFile(src *C.GKeyFile) (*KeyFile, error) {
	var n C.gsize
	data := C.g_key_file_to_data(src, &n, nil)
	defer C.g_free(C.gpointer(unsafe.Pointer(data)))
	return ParseKeyFile(C.GoStringN(data, C.int(n)))
}

// Get returns the string value of group.key, with GLib's escapes (\s \n \t \r \\) decoded,
// and whether it is set. A value GLib cannot decode (an unknown escape, invalid UTF-8) is
// returned as written.
func (kf *KeyFile) Get(group, key string) (string, bool) {
	p := kf.ptr()
	defer runtime.KeepAlive(kf.h) // the GKeyFile lives while C uses it
	cg, ck := cstr(group), cstr(key)
	defer freeC(cg)
	defer freeC(ck)
	var cerr *C.GError
	if v := C.g_key_file_get_string(p, cg, ck, &cerr); v != nil {
		return takeString((*C.char)(v)), true
	}
	var gerr *GError
	if err := takeError(cerr); errors.As(err, &gerr) && gerr.Code != int(C.G_KEY_FILE_ERROR_INVALID_VALUE) {
		return "", false
	}
	v := C.g_key_file_get_value(p, cg, ck, nil)
	if v == nil {
		return "", false
	}
	return takeString((*C.char)(v)), true
}

// Set sets group.key to value (escaped as GLib does), creating the group if needed.
func (kf *KeyFile) Set(group, key, value string) {
	p := kf.ptr()
	defer runtime.KeepAlive(kf.h) // the GKeyFile lives while C uses it
	cg, ck, cv := cstr(group), cstr(key), cstr(value)
	defer freeC(cg)
	defer freeC(ck)
	defer freeC(cv)
	C.g_key_file_set_string(p, cg, ck, cv)
}

// Remove deletes group.key; removing a missing key does nothing.
func (kf *KeyFile) Remove(group, key string) {
	p := kf.ptr()
	defer runtime.KeepAlive(kf.h) // the GKeyFile lives while C uses it
	cg, ck := cstr(group), cstr(key)
	defer freeC(cg)
	defer freeC(ck)
	var cerr *C.GError
	if C.g_key_file_remove_key(p, cg, ck, &cerr) == 0 {
		_ = takeError(cerr) // the key was not there: nothing to remove
	}
}

// Groups returns the group names in file order.
func (kf *KeyFile) Groups() []string {
	p := kf.ptr()
	defer runtime.KeepAlive(kf.h) // the GKeyFile lives while C uses it
	return takeStrv((**C.char)(unsafe.Pointer(C.g_key_file_get_groups(p, nil))))
}

// Keys returns the keys of group in file order (nil when there is no such group).
func (kf *KeyFile) Keys(group string) []string {
	p := kf.ptr()
	defer runtime.KeepAlive(kf.h) // the GKeyFile lives while C uses it
	cg := cstr(group)
	defer freeC(cg)
	var cerr *C.GError
	keys := C.g_key_file_get_keys(p, cg, nil, &cerr)
	if keys == nil {
		_ = takeError(cerr) // no such group
		return nil
	}
	return takeStrv((**C.char)(unsafe.Pointer(keys)))
}

// String serialises the key file with g_key_file_to_data.
func (kf *KeyFile) String() string {
	p := kf.ptr()
	defer runtime.KeepAlive(kf.h) // the GKeyFile lives while C uses it
	var n C.gsize
	data := C.g_key_file_to_data(p, &n, nil)
	defer C.g_free(C.gpointer(unsafe.Pointer(data)))
	return C.GoStringN((*C.char)(data), C.int(n))
}
