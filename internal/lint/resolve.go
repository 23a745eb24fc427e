package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// maxSymlinks bounds the symbolic links followed resolving one path (as the kernel's
// MAXSYMLINKS).
const maxSymlinks = 40

// resolve resolves the symbolic links of name (relative to root) the way they resolve
// once root is the running system's root: an absolute target starts again at root and
// ".." stops at root. The result has no symbolic link in its directories nor, unless it
// names a missing path, in its last element. Resolution reads only through root, so it
// cannot reach anything outside it; a path whose rest is missing is returned as it is
// (the caller's operation then fails with fs.ErrNotExist).
func resolve(root *os.Root, name string) (string, error) {
	todo := strings.Split(name, "/")
	var done []string
	hops := 0
	for len(todo) > 0 {
		comp := todo[0]
		todo = todo[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cand := path.Join(append(done, comp)...)
		fi, err := root.Lstat(cand)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return path.Join(append([]string{cand}, todo...)...), nil
		}
		if err != nil {
			return "", fmt.Errorf("resolving /%s: %w", name, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, comp)
			continue
		}
		if hops++; hops > maxSymlinks {
			return "", fmt.Errorf("resolving /%s: %w", name, syscall.ELOOP)
		}
		target, err := root.Readlink(cand)
		if err != nil {
			return "", fmt.Errorf("resolving /%s: %w", name, err)
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// rootFS is an fs.FS over an os.Root whose symbolic links resolve as in the running
// system (see resolve).
type rootFS struct{ root *os.Root }

// Open resolves name and opens it in the root.
func (f rootFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	p, err := resolve(f.root, name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f.root.Open(p)
}

// stat is os.Root.Stat with symbolic links resolved as in the running system.
func stat(root *os.Root, name string) (fs.FileInfo, error) {
	p, err := resolve(root, name)
	if err != nil {
		return nil, err
	}
	return root.Stat(p)
}
