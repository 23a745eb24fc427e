package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/bootc-go/bootc/ostree"
)

// MetaTarSplit is the detached-metadata key of a layer commit holding the layer's
// tar-split (github.com/vbatts/tar-split JSON lines, gzip-compressed, as bytes): the exact
// tar headers and padding of the layer as it was imported, from which the layer tar can be
// reassembled byte for byte with the content of the repository's objects.
const MetaTarSplit = "bootc.tar-split"

// ErrNoTarSplit is returned by LayerTarSplit for a layer commit without a recorded
// tar-split (imported by upstream bootc, the ostree CLI, or an older version of this
// program): such a layer cannot be reassembled.
var ErrNoTarSplit = errors.New("no tar-split recorded for the layer")

// tarSplitRecorder records the tar-split of a stream passing through it.
type tarSplitRecorder struct {
	buf  bytes.Buffer
	gz   *gzip.Writer
	pr   io.ReadCloser
	done <-chan error
}

// recordTarSplit wraps r: the returned recorder's reader yields the same bytes, and
// finish returns the compressed tar-split once the stream was read to its end.
func recordTarSplit(r io.Reader) *tarSplitRecorder {
	t := &tarSplitRecorder{}
	t.gz, _ = gzip.NewWriterLevel(&t.buf, gzip.BestSpeed)
	t.pr, t.done, _ = asm.NewInputTarStreamWithDone(r, storage.NewJSONPacker(t.gz), nil)
	return t
}

// Read reads the tar stream.
func (t *tarSplitRecorder) Read(p []byte) (int, error) { return t.pr.Read(p) }

// finish reads the stream to its end (the padding after the end-of-archive marker
// included) and returns the gzip-compressed tar-split.
func (t *tarSplitRecorder) finish() ([]byte, error) {
	if _, err := io.Copy(io.Discard, t.pr); err != nil {
		t.abort()
		return nil, fmt.Errorf("reading the end of the layer: %w", err)
	}
	if err := <-t.done; err != nil {
		return nil, fmt.Errorf("recording the tar-split: %w", err)
	}
	if err := t.gz.Close(); err != nil {
		return nil, fmt.Errorf("recording the tar-split: %w", err)
	}
	return t.buf.Bytes(), nil
}

// abort stops the recording goroutine. The caller must also close the underlying reader
// if it may block.
func (t *tarSplitRecorder) abort() {
	t.pr.Close()
	go func() { <-t.done }() // the goroutine ends once its current read of r returns
}

// LayerTarSplit returns the tar-split recorded for layerCommit (JSON lines, uncompressed:
// the input of storage.NewJSONUnpacker). A layer commit without one gives an error for
// which errors.Is(err, ErrNoTarSplit) holds.
func LayerTarSplit(ctx context.Context, repo *ostree.Repo, layerCommit string) ([]byte, error) {
	meta, err := repo.ReadDetachedMetadata(ctx, layerCommit)
	if err != nil {
		return nil, fmt.Errorf("tar-split of layer commit %s: %w", layerCommit, err)
	}
	v, ok := meta[MetaTarSplit]
	if !ok {
		return nil, fmt.Errorf("layer commit %s: %w", layerCommit, ErrNoTarSplit)
	}
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("layer commit %s: %s is a %T, not bytes", layerCommit, MetaTarSplit, v)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("tar-split of layer commit %s: %w", layerCommit, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("tar-split of layer commit %s: %w", layerCommit, err)
	}
	return out, nil
}
