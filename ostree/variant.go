package ostree

// #include "shim.h"
import "C"

import (
	"fmt"
	"sort"
	"unicode/utf8"
	"unsafe"
)

// newVariant converts a Go value into a non-floating GVariant the caller unrefs.
func newVariant(v any) (*C.GVariant, error) {
	switch x := v.(type) {
	case string:
		// GLib refuses invalid UTF-8 in a string variant (libostree then drops the key).
		if !utf8.ValidString(x) {
			return nil, fmt.Errorf("string %q is not valid UTF-8", truncate(x))
		}
		s := cstr(x)
		defer freeC(s)
		return nonNil(C.bootc_variant_string(s), "string")
	case []string:
		for i, e := range x {
			if !utf8.ValidString(e) {
				return nil, fmt.Errorf("string %d (%q) is not valid UTF-8", i, truncate(e))
			}
		}
		arr := cstrv(x)
		defer freeStrv(arr)
		return nonNil(C.bootc_variant_strv(arr, C.gssize(len(x))), "string array")
	case []byte:
		var p *C.guint8
		if len(x) > 0 {
			p = (*C.guint8)(unsafe.Pointer(&x[0]))
		}
		return C.bootc_variant_bytes(p, C.gsize(len(x))), nil
	case bool:
		return C.bootc_variant_bool(gbool(x)), nil
	case int32:
		return C.bootc_variant_i32(C.gint32(x)), nil
	case uint32:
		return C.bootc_variant_u32(C.guint32(x)), nil
	case int64:
		return C.bootc_variant_i64(C.gint64(x)), nil
	case uint64:
		return C.bootc_variant_u64(C.guint64(x)), nil
	case int:
		return C.bootc_variant_i64(C.gint64(x)), nil
	case Metadata:
		return newDictVariant(x)
	case map[string]any:
		return newDictVariant(Metadata(x))
	}
	return nil, fmt.Errorf("unsupported metadata value type %T", v)
}

// nonNil turns a NULL from a variant constructor into an error.
func nonNil(v *C.GVariant, what string) (*C.GVariant, error) {
	if v == nil {
		return nil, fmt.Errorf("GLib refused the %s", what)
	}
	return v, nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// newMetadataVariant builds an a{sv} with keys in sorted order, so equal maps give
// byte-identical variants. A nil map gives NULL.
func newMetadataVariant(m Metadata) (*C.GVariant, error) {
	if m == nil {
		return nil, nil
	}
	return newDictVariant(m)
}

// newDictVariant builds the a{sv} for m; a nil m gives an empty dictionary (a nested nil
// Metadata value must not become a NULL child).
func newDictVariant(m Metadata) (*C.GVariant, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ty := cstr("a{sv}")
	defer freeC(ty)
	b := C.bootc_builder_new(ty)
	abort := func() {
		if v := C.bootc_builder_end(b); v != nil { // frees the builder
			C.g_variant_unref(v)
		}
	}
	for _, k := range keys {
		if !utf8.ValidString(k) {
			abort()
			return nil, fmt.Errorf("metadata key %q is not valid UTF-8", truncate(k))
		}
		v, err := newVariant(m[k])
		if err != nil {
			abort()
			return nil, fmt.Errorf("metadata key %q: %w", k, err)
		}
		ck := cstr(k)
		ok := C.bootc_builder_add_entry(b, ck, v)
		freeC(ck)
		C.g_variant_unref(v)
		if ok == 0 {
			abort()
			return nil, fmt.Errorf("metadata key %q: GLib refused the entry", k)
		}
	}
	return C.bootc_builder_end(b), nil
}

// newXattrsVariant builds the a(ayay) ostree uses for extended attributes, in the given
// order. Attributes with an empty value are left out, as libostree leaves them out when it
// reads attributes from disk (so a bare repository's fsck would otherwise find the object
// corrupt). No attributes gives NULL, which ostree treats as an empty array.
func newXattrsVariant(xattrs []Xattr) *C.GVariant {
	n := 0
	for _, x := range xattrs {
		if len(x.Value) > 0 {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	ty := cstr("a(ayay)")
	defer freeC(ty)
	b := C.bootc_builder_new(ty)
	for _, x := range xattrs {
		if len(x.Value) == 0 {
			continue
		}
		name := cstr(x.Name)
		var p *C.guint8
		if len(x.Value) > 0 {
			p = (*C.guint8)(unsafe.Pointer(&x.Value[0]))
		}
		C.bootc_builder_add_xattr(b, name, p, C.gsize(len(x.Value)))
		freeC(name)
	}
	return C.bootc_builder_end(b)
}

// unrefVariant drops a reference; NULL is fine.
func unrefVariant(v *C.GVariant) {
	if v != nil {
		C.g_variant_unref(v)
	}
}

// goValue converts a GVariant (borrowed) into its Go form.
func goValue(v *C.GVariant) any {
	ty := C.GoString(C.bootc_variant_type(v))
	switch ty {
	case "s", "o", "g":
		return C.GoString(C.bootc_variant_get_string(v))
	case "as":
		n := int(C.bootc_variant_n_children(v))
		out := make([]string, n)
		for i := range n {
			c := C.bootc_variant_child(v, C.gsize(i))
			out[i] = C.GoString(C.bootc_variant_get_string(c))
			C.g_variant_unref(c)
		}
		return out
	case "ay":
		var n C.gsize
		p := C.bootc_variant_get_bytes(v, &n)
		return C.GoBytes(unsafe.Pointer(p), C.int(n))
	case "b":
		return C.bootc_variant_get_bool(v) != 0
	case "i":
		return int32(C.bootc_variant_get_i32(v))
	case "u":
		return uint32(C.bootc_variant_get_u32(v))
	case "x":
		return int64(C.bootc_variant_get_i64(v))
	case "t":
		return uint64(C.bootc_variant_get_u64(v))
	case "v":
		inner := C.bootc_variant_get_variant(v)
		defer C.g_variant_unref(inner)
		return goValue(inner)
	case "a{sv}":
		return goMetadata(v)
	}
	return Variant{Type: ty, Text: takeString(C.bootc_variant_print(v))}
}

// goMetadata converts a borrowed a{sv} GVariant into Metadata.
func goMetadata(v *C.GVariant) Metadata {
	if v == nil {
		return nil
	}
	n := int(C.bootc_variant_n_children(v))
	m := make(Metadata, n)
	for i := range n {
		entry := C.bootc_variant_child(v, C.gsize(i))
		k := C.bootc_variant_child(entry, 0)
		val := C.bootc_variant_child(entry, 1)
		m[C.GoString(C.bootc_variant_get_string(k))] = goValue(val)
		C.g_variant_unref(val)
		C.g_variant_unref(k)
		C.g_variant_unref(entry)
	}
	return m
}
