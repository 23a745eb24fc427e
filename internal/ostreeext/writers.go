package ostreeext

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"sync"

	"github.com/bootc-go/bootc/internal/chunkstream"
	"github.com/bootc-go/bootc/ostree"
)

// Content objects are written by a small pool of goroutines while the tar is parsed, as
// the generic importer does: small files are handed over whole, larger ones streamed in
// chunks. libostree checks each checksum.

const smallContent = 64 << 10

type contentJob struct {
	checksum string
	meta     ostree.RawFileMeta
	size     int64
	small    []byte       // the whole content of a small file
	chunks   chan *[]byte // the content of a larger one, closed at its end
}

type writerPool struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	repo   *ostree.Repo
	jobs   chan *contentJob
	wg     sync.WaitGroup
}

func newWriterPool(ctx context.Context, repo *ostree.Repo, n int) *writerPool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	p := &writerPool{ctx: ctx, cancel: cancel, repo: repo, jobs: make(chan *contentJob, 2*n)}
	for range n {
		p.wg.Add(1)
		go p.run()
	}
	return p
}

func (p *writerPool) run() {
	defer p.wg.Done()
	for j := range p.jobs {
		var r io.Reader
		if j.chunks == nil {
			r = bytes.NewReader(j.small)
		} else {
			r = chunkstream.NewReader(p.ctx, j.chunks)
		}
		if err := p.repo.WriteRegfileExpected(p.ctx, j.checksum, j.meta, j.size, r); err != nil {
			p.cancel(err)
		}
		if j.chunks != nil {
			chunkstream.Drain(j.chunks) // what an error left unread
		}
	}
}

// submit hands a regular file object of size bytes, read from r, to a writer.
func (p *writerPool) submit(checksum string, meta ostree.RawFileMeta, size int64, r io.Reader) error {
	j := &contentJob{checksum: checksum, meta: meta, size: size}
	if size <= smallContent {
		j.small = make([]byte, size)
		if _, err := io.ReadFull(r, j.small); err != nil {
			return err
		}
	} else {
		j.chunks = make(chan *[]byte, 4)
	}
	select {
	case p.jobs <- j:
	case <-p.ctx.Done():
		return context.Cause(p.ctx)
	}
	if j.chunks == nil {
		return nil
	}
	defer close(j.chunks)
	return chunkstream.Send(p.ctx, r, size, j.chunks, nil)
}

// wait waits for the writers and returns the first error one had.
func (p *writerPool) wait() error {
	close(p.jobs)
	p.wg.Wait()
	err := context.Cause(p.ctx)
	p.cancel(nil)
	return err
}

// stop ends the pool after an error of the parser.
func (p *writerPool) stop(err error) {
	p.cancel(err)
	_ = p.wait()
}
