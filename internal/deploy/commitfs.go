package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/bootc-go/bootc/ostree"
)

// maxCommitFile bounds what CommitFS reads of one file (kargs.d and install config files are
// small).
const maxCommitFile = 4 << 20

// CommitFS is a read-only fs.FS over the tree of an ostree commit, for reading small
// configuration files (kargs.d, bound images) from an image without checking it out.
// Symlinks are not followed: Open of one returns the link itself; ReadLink reads its
// target (fs.ReadLinkFS). Close releases it.
type CommitFS struct {
	ctx  context.Context
	repo *ostree.Repo
	root *ostree.MutableTree
}

// NewCommitFS opens the tree of commit rev.
func NewCommitFS(ctx context.Context, repo *ostree.Repo, rev string) (*CommitFS, error) {
	root, err := repo.NewMutableTreeFromCommit(rev)
	if err != nil {
		return nil, err
	}
	return &CommitFS{ctx: ctx, repo: repo, root: root}, nil
}

// Close releases the tree.
func (c *CommitFS) Close() { c.root.Close() }

// Open opens the file or directory name.
func (c *CommitFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return c.dir(name, c.root, false)
	}
	parts := strings.Split(name, "/")
	parent, err := c.root.Walk(parts[:len(parts)-1])
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fs.ErrNotExist
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer parent.Close()
	csum, sub, err := parent.Lookup(parts[len(parts)-1])
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fs.ErrNotExist
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if sub != nil {
		return c.dir(name, sub, true)
	}
	obj, err := c.repo.LoadFile(c.ctx, csum, maxCommitFile)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &commitFile{info: fileInfo{name: parts[len(parts)-1], obj: obj}, r: bytes.NewReader(obj.Content)}, nil
}

// Lstat describes name without following a final symlink.
func (c *CommitFS) Lstat(name string) (fs.FileInfo, error) {
	f, err := c.Open(name)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: errors.Unwrap(err)}
	}
	defer f.Close()
	return f.Stat()
}

// ReadLink returns the target of the symlink name.
func (c *CommitFS) ReadLink(name string) (string, error) {
	f, err := c.Open(name)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.Unwrap(err)}
	}
	defer f.Close()
	if cf, ok := f.(*commitFile); ok && cf.info.obj.IsSymlink() {
		return cf.info.obj.Target, nil
	}
	return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
}

func (c *CommitFS) dir(name string, t *ostree.MutableTree, own bool) (*commitDir, error) {
	if own {
		defer t.Close()
	}
	files, err := t.Files()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	dirs, err := t.Subdirs()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	var ents []fs.DirEntry
	for n := range files {
		ents = append(ents, dirEntry{name: n})
	}
	for _, n := range dirs {
		ents = append(ents, dirEntry{name: n, dir: true})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	base := name[strings.LastIndexByte(name, '/')+1:]
	return &commitDir{info: fileInfo{name: base, dir: true}, ents: ents}, nil
}

type fileInfo struct {
	name string
	dir  bool
	obj  *ostree.FileObject
}

func (f fileInfo) Name() string { return f.name }
func (f fileInfo) Size() int64 {
	if f.obj != nil {
		return f.obj.Size
	}
	return 0
}
func (f fileInfo) Mode() fs.FileMode {
	switch {
	case f.dir:
		return fs.ModeDir | 0o755
	case f.obj == nil:
		return 0o644
	case f.obj.IsSymlink():
		return fs.ModeSymlink | 0o777
	}
	return fs.FileMode(f.obj.Mode & 0o777)
}
func (f fileInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (f fileInfo) IsDir() bool        { return f.dir }
func (f fileInfo) Sys() any           { return f.obj }

type commitFile struct {
	info fileInfo
	r    *bytes.Reader
}

func (f *commitFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *commitFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *commitFile) Close() error               { return nil }

type commitDir struct {
	info fileInfo
	ents []fs.DirEntry
	off  int
}

func (d *commitDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *commitDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: fs.ErrInvalid}
}
func (d *commitDir) Close() error { return nil }

// ReadDir lists the directory, sorted by name.
func (d *commitDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.ents[d.off:]
	if n <= 0 {
		d.off = len(d.ents)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}

type dirEntry struct {
	name string
	dir  bool
}

func (e dirEntry) Name() string { return e.name }
func (e dirEntry) IsDir() bool  { return e.dir }
func (e dirEntry) Type() fs.FileMode {
	if e.dir {
		return fs.ModeDir
	}
	return 0
}
func (e dirEntry) Info() (fs.FileInfo, error) { return fileInfo{name: e.name, dir: e.dir}, nil }
