package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"

	"github.com/vbatts/tar-split/tar/storage"

	"github.com/bootc-go/bootc/internal/tarstream"
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

// tarSplitRecorder records the tar-split of the layer stream the importer parses, without
// parsing it a second time: it sits between the source and the tar parser
// (internal/tarstream, which reads exactly the bytes of each header and content, never
// ahead), and the parser tells it where each entry's content starts (header). Bytes that
// are not entry content (headers, PAX and GNU meta entries, padding, the end-of-archive
// blocks and anything after them) become tar-split segments; content is only summed with
// CRC-64 (the payload checksum tar-split's assembler verifies). The output is what
// tar-split's own asm.NewInputTarStream records for the same stream, entry for entry.
//
// A stream tar-split cannot describe (a path that occurs twice, which its JSON packer
// refuses) is still imported; it just gets no tar-split.
type tarSplitRecorder struct {
	src         io.Reader
	buf         bytes.Buffer
	gz          *gzip.Writer
	packer      storage.Packer
	seg         []byte         // bytes since the last content
	contentLeft int64          // content bytes of the current entry not read yet
	crc         hash.Hash64    // sums content no writer goroutine reads (filtered, skipped)
	external    *payloadSum    // the current entry's content is summed by a writer
	pending     *storage.Entry // the current entry, queued once its content was read
	queue       []queued       // entries in order, waiting for their writers' sums
	err         error          // the packer failed: no tar-split
}

// queued is a tar-split entry whose payload may still be computed by a writer.
type queued struct {
	e   storage.Entry
	sum *payloadSum
}

// payloadSum is the CRC-64 of one file's content (tar-split's payload checksum), computed
// by the writer goroutine that reads the content, off the parser's critical path. Its
// methods are no-ops on nil (no tar-split recorded).
type payloadSum struct {
	h    hash.Hash64
	sum  []byte
	done chan struct{}
}

func (s *payloadSum) write(b []byte) {
	if s != nil {
		s.h.Write(b)
	}
}

// tee returns r, summing what is read through it.
func (s *payloadSum) tee(r io.Reader) io.Reader {
	if s == nil {
		return r
	}
	return io.TeeReader(r, s.h)
}

// close publishes the sum; call it once, when the content was read.
func (s *payloadSum) close() {
	if s != nil {
		s.sum = s.h.Sum(nil)
		close(s.done)
	}
}

// maxTrailer is the most bytes after the end-of-archive blocks a tar-split records.
const maxTrailer = 16 << 20

// recordTarSplit wraps r: reading the recorder reads r.
func recordTarSplit(r io.Reader) *tarSplitRecorder {
	t := &tarSplitRecorder{src: r, crc: crc64.New(storage.CRCTable)}
	t.gz, _ = gzip.NewWriterLevel(&t.buf, gzip.BestSpeed)
	t.packer = storage.NewJSONPacker(t.gz)
	return t
}

// Read reads the stream, accounting for every byte.
func (t *tarSplitRecorder) Read(p []byte) (int, error) {
	n, err := t.src.Read(p)
	t.account(p[:n])
	return n, err
}

func (t *tarSplitRecorder) account(b []byte) {
	if t.contentLeft > 0 {
		k := min(int64(len(b)), t.contentLeft)
		if t.external == nil {
			t.crc.Write(b[:k])
		}
		t.contentLeft -= k
		b = b[k:]
	}
	if len(b) > 0 && t.err == nil {
		t.seg = append(t.seg, b...)
	}
}

// headerOnly reports whether entries of this type have no content in the archive,
// whatever their size field says (as internal/tarstream and archive/tar read them).
func headerOnly(flag byte) bool {
	switch flag {
	case tarstream.TypeLink, tarstream.TypeSymlink, tarstream.TypeChar, tarstream.TypeBlock,
		tarstream.TypeDir, tarstream.TypeFifo:
		return true
	}
	return false
}

// header is called by the parser after it read the headers of an entry (hdr), before
// its content.
func (t *tarSplitRecorder) header(hdr *tarstream.Header) {
	t.flushEntry()
	t.flushSegment()
	e := storage.Entry{Type: storage.FileType, Size: hdr.Size}
	e.SetName(hdr.Name)
	t.pending = &e
	t.external = nil
	t.crc.Reset()
	t.contentLeft = hdr.Size
	if headerOnly(hdr.Typeflag) {
		t.contentLeft = 0
	}
}

// file is called by the parser when the current entry's content goes to a writer
// goroutine, which sums it into the returned payloadSum.
func (t *tarSplitRecorder) file() *payloadSum {
	t.external = &payloadSum{h: crc64.New(storage.CRCTable), done: make(chan struct{})}
	return t.external
}

// drain writes the queued entries whose payloads are known, in order; with wait it
// waits for all of them.
func (t *tarSplitRecorder) drain(wait bool) {
	for len(t.queue) > 0 {
		q := t.queue[0]
		if q.sum != nil {
			if wait {
				<-q.sum.done
			} else {
				select {
				case <-q.sum.done:
				default:
					return
				}
			}
			q.e.Payload = q.sum.sum
		}
		t.add(q.e)
		t.queue[0] = queued{}
		t.queue = t.queue[1:]
	}
}

func (t *tarSplitRecorder) add(e storage.Entry) {
	if t.err == nil {
		_, t.err = t.packer.AddEntry(e)
	}
}

func (t *tarSplitRecorder) flushEntry() {
	if t.pending == nil {
		return
	}
	q := queued{e: *t.pending}
	if q.e.Size > 0 {
		if t.external != nil {
			q.sum = t.external
		} else {
			q.e.Payload = t.crc.Sum(nil)
		}
	}
	t.queue = append(t.queue, q)
	t.pending, t.external = nil, nil
}

func (t *tarSplitRecorder) flushSegment() {
	if len(t.seg) > 0 {
		t.queue = append(t.queue, queued{e: storage.Entry{Type: storage.SegmentType, Payload: t.seg}})
		t.seg = nil
	}
	t.drain(false)
}

// finish reads the stream to its end (the padding after the end-of-archive marker
// included) and returns the gzip-compressed tar-split, or nil if the stream cannot be
// described by one.
func (t *tarSplitRecorder) finish() ([]byte, error) {
	if t.contentLeft > 0 {
		return nil, errors.New("recording the tar-split: the layer ended inside an entry")
	}
	t.flushEntry()
	t.flushSegment()
	t.drain(true)
	chunk := make([]byte, 1<<20)
	for trailer := 0; ; {
		n, err := t.src.Read(chunk)
		if n > 0 {
			// Bytes after the archive are kept (the diff ID covers them), up to a limit:
			// the tar-split is held in memory.
			if trailer += n; trailer > maxTrailer && t.err == nil {
				t.err = fmt.Errorf("more than %d bytes after the end of the archive", maxTrailer)
			}
			t.add(storage.Entry{Type: storage.SegmentType, Payload: chunk[:n]})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the end of the layer: %w", err)
		}
	}
	if t.err != nil {
		return nil, nil
	}
	if err := t.gz.Close(); err != nil {
		return nil, fmt.Errorf("recording the tar-split: %w", err)
	}
	return t.buf.Bytes(), nil
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
