package importer

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/bootc-go/bootc/internal/chunkstream"
	"github.com/bootc-go/bootc/ostree"
)

// errAdoptDir marks failures caused by the adopt directory (a file missing or different
// from the layer stream): the source is at fault, not the layer.
var errAdoptDir = errors.New("the adopt directory does not match the layer")

// adopter writes regular files in adopt mode: the content streamed from the tar is hashed
// in Go (ostree.NewContentHash over the tar header's metadata, so the object checksum is
// the one a normal import computes), the object is skipped if the repository has it, else
// the file of the same tar name under dir is hardlinked in (ostree.Repo.AdoptFile, which
// checks owner, mode, extended attributes and content itself); if that is not possible,
// a copy is written from the buffered content (small files) or from the file under dir
// (large files, whose stream was consumed by hashing), and its checksum must match.
type adopter struct {
	repo             *ostree.Repo
	dir              string
	adopted, present atomic.Int64
}

// newAdopter returns nil (normal mode) unless dir is set, the repository is bare and dir
// is on the repository's filesystem (hardlinks could not be made otherwise).
func newAdopter(repo *ostree.Repo, dir string) *adopter {
	if dir == "" || repo.Mode() != ostree.ModeBare {
		return nil
	}
	var a, b syscall.Stat_t
	if syscall.Stat(dir, &a) != nil || syscall.Stat(filepath.Join(repo.Path(), "objects"), &b) != nil || a.Dev != b.Dev {
		return nil
	}
	return &adopter{repo: repo, dir: dir}
}

func (a *adopter) addStats(s *Stats) {
	if a == nil {
		return
	}
	s.Adopted += int(a.adopted.Load())
	s.Present += int(a.present.Load())
}

// write handles one regular file job and returns the object checksum.
func (a *adopter) write(ctx context.Context, j *job) (string, error) {
	h := ostree.NewContentHash(j.meta)
	if j.small != nil {
		data := (*j.small)[:j.size]
		defer func() { smallPool.Put(j.small); j.small = nil }()
		h.Write(data)
		j.sum.write(data)
		j.sum.close()
		csum := hex.EncodeToString(h.Sum(nil))
		if j.size > 0 {
			if done, err := a.place(ctx, j, csum); err != nil || done {
				return csum, err
			}
		}
		return a.copy(ctx, j, csum, bytes.NewReader(data), "the layer stream")
	}
	bp := chunkstream.Get()
	n, err := io.CopyBuffer(h, j.sum.tee(chunkstream.NewReader(ctx, j.chunks)), *bp)
	j.sum.close()
	chunkstream.Put(bp)
	chunkstream.Drain(j.chunks) // what an error left unread
	if err != nil {
		return "", fmt.Errorf("reading content: %w", err)
	}
	if n != j.size {
		return "", fmt.Errorf("reading content: %d of %d bytes", n, j.size)
	}
	csum := hex.EncodeToString(h.Sum(nil))
	if done, err := a.place(ctx, j, csum); err != nil || done {
		return csum, err
	}
	p := a.path(j)
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("reading %s for a copy: %w (%w)", p, err, errAdoptDir)
	}
	defer f.Close()
	return a.copy(ctx, j, csum, f, p)
}

// path is the file of j under the adopt directory.
func (a *adopter) path(j *job) string {
	return filepath.Join(a.dir, filepath.Clean("/"+j.name))
}

// place reports whether the object checksum is in the repository: already there, or
// adopted now. Failing to adopt is not an error (the caller writes a copy), except for
// cancellation and repository errors.
func (a *adopter) place(ctx context.Context, j *job, csum string) (bool, error) {
	has, err := a.repo.HasObject(ctx, ostree.ObjectFile, csum)
	if err != nil {
		return false, err
	}
	if has {
		a.present.Add(1)
		return true, nil
	}
	ok, err := a.repo.AdoptFile(ctx, a.path(j), csum)
	if err != nil && ctx.Err() != nil {
		return false, err
	}
	if err == nil && ok {
		a.adopted.Add(1)
		return true, nil
	}
	return false, nil // whiteouts, files missing or different on disk: write a copy
}

// copy writes the object from r and checks that it is the one hashed from the stream.
func (a *adopter) copy(ctx context.Context, j *job, want string, r io.Reader, from string) (string, error) {
	got, err := a.repo.WriteRegfile(ctx, j.meta, j.size, r)
	if err != nil {
		return "", err
	}
	if got != want {
		return "", fmt.Errorf("content of %s is not the one in the layer stream (object %s, stream %s): %w", from, got, want, errAdoptDir)
	}
	return got, nil
}
