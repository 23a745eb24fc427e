// Package chunkstream hands the content of a large file from the goroutine that reads it
// (a layer's tar parser) to the one that writes it (an ostree object writer) in pooled
// chunks of Size bytes, so that memory stays bounded by the channel's depth whatever the
// file's size.
package chunkstream

import (
	"context"
	"io"
	"sync"
)

// Size is the length of a chunk.
const Size = 512 << 10

var pool = sync.Pool{New: func() any { b := make([]byte, Size); return &b }}

// Get returns a chunk of Size bytes from the pool.
func Get() *[]byte { return pool.Get().(*[]byte) }

// Put returns a chunk to the pool, whatever length it was cut to.
func Put(bp *[]byte) {
	*bp = (*bp)[:cap(*bp)]
	pool.Put(bp)
}

// Send reads size bytes of r into chunks and sends them on ch, calling onRead (when not
// nil) with the bytes read so far after each chunk. It does not close ch. A read error is
// returned as it is; when ctx ends first, context.Cause(ctx).
func Send(ctx context.Context, r io.Reader, size int64, ch chan<- *[]byte, onRead func(read int64)) error {
	var read int64
	for read < size {
		bp := Get()
		n := min(int64(Size), size-read)
		*bp = (*bp)[:n]
		if _, err := io.ReadFull(r, *bp); err != nil {
			Put(bp)
			return err
		}
		read += n
		if onRead != nil {
			onRead(read)
		}
		select {
		case ch <- bp:
		case <-ctx.Done():
			Put(bp)
			return context.Cause(ctx)
		}
	}
	return nil
}

// Drain returns to the pool every chunk left in ch (after a reader stopped early) until
// ch is closed.
func Drain(ch <-chan *[]byte) {
	for bp := range ch {
		Put(bp)
	}
}

// Reader reads the chunks of ch in order, returning each to the pool once read; it ends
// with io.EOF when ch is closed, or with context.Cause(ctx) when ctx ends first.
type Reader struct {
	ctx context.Context
	ch  <-chan *[]byte
	cur *[]byte
	off int
}

// NewReader returns a Reader of ch.
func NewReader(ctx context.Context, ch <-chan *[]byte) *Reader {
	return &Reader{ctx: ctx, ch: ch}
}

// Read implements io.Reader.
func (c *Reader) Read(p []byte) (int, error) {
	for c.cur == nil || c.off == len(*c.cur) {
		if c.cur != nil {
			Put(c.cur)
			c.cur = nil
		}
		select {
		case bp, ok := <-c.ch:
			if !ok {
				return 0, io.EOF
			}
			c.cur, c.off = bp, 0
		case <-c.ctx.Done():
			return 0, context.Cause(c.ctx)
		}
	}
	n := copy(p, (*c.cur)[c.off:])
	c.off += n
	return n, nil
}
