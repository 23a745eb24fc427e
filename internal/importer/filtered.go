package importer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/bootc-go/bootc/ostree"
)

// MetaFilteredFiles is the detached-metadata key of a layer commit holding, as a tar
// (bytes), the content of the layer's regular files that the path rules keep out of the
// commit (files under tmp/, run/, ...), when they are few and small (maxFilteredBytes in
// all): with the tar-split and the commit's objects they let the layer be rebuilt byte for
// byte (a containers-storage copy of an image made from the repository).
const MetaFilteredFiles = "bootc.filtered-files"

// maxFilteredBytes bounds the content MetaFilteredFiles keeps per layer; a layer with more
// filtered content cannot be rebuilt from the repository.
const maxFilteredBytes = 1 << 20

// filteredFiles collects filtered regular files' content while a layer is parsed.
type filteredFiles struct {
	buf      bytes.Buffer
	tw       *tar.Writer
	n        int64
	overflow bool
}

// add keeps name's content, read from r, unless the bound is exceeded.
func (f *filteredFiles) add(name string, size int64, r io.Reader) error {
	if f.overflow || f.n+size > maxFilteredBytes {
		f.overflow = true
		return nil
	}
	if f.tw == nil {
		f.tw = tar.NewWriter(&f.buf)
	}
	if err := f.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o600, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := io.CopyN(f.tw, r, size); err != nil {
		return err
	}
	f.n += size
	return nil
}

// archive returns the collected files as a tar (nil when there were none); ok is false
// when some were left out for their size.
func (f *filteredFiles) archive() ([]byte, bool) {
	if f == nil || f.overflow {
		return nil, false
	}
	if f.tw == nil {
		return nil, true
	}
	if err := f.tw.Close(); err != nil {
		return nil, false
	}
	return f.buf.Bytes(), true
}

// LayerFilteredFiles returns the content of the regular files of layerCommit that the path
// rules kept out of the commit, by tar entry name (cleaned: no leading "./" or "/"), as
// recorded at import (MetaFilteredFiles). A layer without any has none.
func LayerFilteredFiles(ctx context.Context, repo *ostree.Repo, layerCommit string) (map[string][]byte, error) {
	meta, err := repo.ReadDetachedMetadata(ctx, layerCommit)
	if err != nil {
		return nil, fmt.Errorf("layer commit %s: %w", layerCommit, err)
	}
	out := map[string][]byte{}
	v, ok := meta[MetaFilteredFiles]
	if !ok {
		return out, nil
	}
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("layer commit %s: %s is a %T, not bytes", layerCommit, MetaFilteredFiles, v)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("layer commit %s: %s: %w", layerCommit, MetaFilteredFiles, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("layer commit %s: %s: %w", layerCommit, MetaFilteredFiles, err)
		}
		out[CleanEntryName(h.Name)] = data
	}
}

// CleanEntryName normalises a tar entry name: no leading "./" or "/", no trailing "/".
func CleanEntryName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}
