package ostree

// #include "shim.h"
import "C"

import (
	"fmt"
	"sort"
	"strings"
)

// NewMutableTree returns an empty tree.
func NewMutableTree() *MutableTree {
	return &MutableTree{ptr: C.ostree_mutable_tree_new()}
}

// NewMutableTreeFromCommit returns a tree holding the contents of commit rev, loaded lazily,
// so that files can be added or removed (layer merging, whiteouts).
func (r *Repo) NewMutableTreeFromCommit(rev string) (*MutableTree, error) {
	var out *MutableTree
	err := r.use(func(p *C.OstreeRepo) error {
		crev := cstr(rev)
		defer freeC(crev)
		var cerr *C.GError
		t := C.bootc_mtree_from_commit(p, crev, &cerr)
		if t == nil {
			return takeError(cerr)
		}
		out = &MutableTree{ptr: t}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading tree of commit %s: %w", rev, err)
	}
	return out, nil
}

// Close drops this node's reference. It is safe to call more than once.
func (t *MutableTree) Close() {
	if t != nil && t.ptr != nil {
		C.g_object_unref(C.gpointer(t.ptr))
		t.ptr = nil
	}
}

func (t *MutableTree) check() error {
	if t == nil || t.ptr == nil {
		return ErrClosed
	}
	return nil
}

// mtreeErr converts the tree's own pending error (ostree_mutable_tree_check_error) or cerr.
func mtreeErr(what string, cerr *C.GError) error {
	return fmt.Errorf("%s: %w", what, takeError(cerr))
}

// SetMetadataChecksum sets the directory metadata object of this directory.
func (t *MutableTree) SetMetadataChecksum(checksum string) error {
	if err := t.check(); err != nil {
		return err
	}
	cs := cstr(checksum)
	defer freeC(cs)
	C.ostree_mutable_tree_set_metadata_checksum(t.ptr, cs)
	return nil
}

// MetadataChecksum returns the directory metadata checksum ("" when unset).
func (t *MutableTree) MetadataChecksum() string {
	if t.check() != nil {
		return ""
	}
	return C.GoString(C.ostree_mutable_tree_get_metadata_checksum(t.ptr))
}

// ReplaceFile adds or replaces the file name in this directory with the content object
// checksum. Replacing a subdirectory is an error.
func (t *MutableTree) ReplaceFile(name, checksum string) error {
	if err := t.check(); err != nil {
		return err
	}
	cn, cs := cstr(name), cstr(checksum)
	defer freeC(cn)
	defer freeC(cs)
	var cerr *C.GError
	if C.ostree_mutable_tree_replace_file(t.ptr, cn, cs, &cerr) == 0 {
		return mtreeErr("adding file "+name, cerr)
	}
	return nil
}

// Remove removes the file or directory name; with allowMissing, a missing name is not an
// error.
func (t *MutableTree) Remove(name string, allowMissing bool) error {
	if err := t.check(); err != nil {
		return err
	}
	cn := cstr(name)
	defer freeC(cn)
	var cerr *C.GError
	if C.ostree_mutable_tree_remove(t.ptr, cn, gbool(allowMissing), &cerr) == 0 {
		return mtreeErr("removing "+name, cerr)
	}
	return nil
}

// EnsureDir returns the subdirectory name, creating it (without metadata) if missing. A
// file of that name is an error.
func (t *MutableTree) EnsureDir(name string) (*MutableTree, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	cn := cstr(name)
	defer freeC(cn)
	var cerr *C.GError
	sub := C.bootc_mtree_ensure_dir(t.ptr, cn, &cerr)
	if sub == nil {
		return nil, mtreeErr("creating directory "+name, cerr)
	}
	return &MutableTree{ptr: sub}, nil
}

// withPath passes path components to C.
func withPath(path []string, fn func(arr **C.char, n C.gsize) error) error {
	arr := cstrv(path)
	defer freeStrv(arr)
	return fn(arr, C.gsize(len(path)))
}

// Walk returns the existing directory at path (components relative to this directory).
func (t *MutableTree) Walk(path []string) (*MutableTree, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	var out *MutableTree
	err := withPath(path, func(arr **C.char, n C.gsize) error {
		var cerr *C.GError
		sub := C.bootc_mtree_walk(t.ptr, arr, n, &cerr)
		if sub == nil {
			return takeError(cerr)
		}
		out = &MutableTree{ptr: sub}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking up directory %s: %w", strings.Join(path, "/"), err)
	}
	return out, nil
}

// Lookup finds name in this directory: a file gives its content checksum, a directory its
// node (which the caller closes). A missing name gives an error satisfying
// errors.Is(err, fs.ErrNotExist).
func (t *MutableTree) Lookup(name string) (fileChecksum string, dir *MutableTree, err error) {
	if err := t.check(); err != nil {
		return "", nil, err
	}
	cn := cstr(name)
	defer freeC(cn)
	var file *C.char
	var sub *C.OstreeMutableTree
	var cerr *C.GError
	if C.bootc_mtree_lookup(t.ptr, cn, &file, &sub, &cerr) == 0 {
		return "", nil, mtreeErr("looking up "+name, cerr)
	}
	if sub != nil {
		return "", &MutableTree{ptr: sub}, nil
	}
	return takeString(file), nil, nil
}

// Files returns the files of this directory, name to content checksum. A directory whose
// contents cannot be loaded from the repository (a missing dirtree object) is an error, not
// an empty directory.
func (t *MutableTree) Files() (map[string]string, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	var cerr *C.GError
	arr := C.bootc_mtree_list(t.ptr, C.FALSE, &cerr)
	if arr == nil {
		return nil, mtreeErr("listing files", cerr)
	}
	kv := takeStrv(arr)
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m, nil
}

// Subdirs returns the names of this directory's subdirectories, sorted. A directory whose
// contents cannot be loaded is an error.
func (t *MutableTree) Subdirs() ([]string, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	var cerr *C.GError
	arr := C.bootc_mtree_list(t.ptr, C.TRUE, &cerr)
	if arr == nil {
		return nil, mtreeErr("listing subdirectories", cerr)
	}
	names := takeStrv(arr)
	sort.Strings(names)
	return names, nil
}
