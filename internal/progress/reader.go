package progress

import (
	"errors"
	"io"
)

// Reader wraps an io.Reader and reports the bytes read as progress of one
// subtask.
type Reader struct {
	r     io.Reader
	rep   Reporter
	sub   Subtask
	total uint64
	n     uint64
	ended bool
}

// NewReader returns a Reader reporting reads from r to rep as subtask sub of
// total bytes (0 if unknown). The subtask completes when total bytes have
// been read, or at io.EOF with the number of bytes read.
func NewReader(r io.Reader, rep Reporter, sub Subtask, total uint64) *Reader {
	if rep == nil {
		rep = Nop{}
	}
	return &Reader{r: r, rep: rep, sub: sub, total: total}
}

// Read reads from the underlying reader and reports progress.
func (p *Reader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += uint64(n)
	switch {
	case errors.Is(err, io.EOF):
		if !p.ended {
			p.ended = true
			p.rep.Bytes(p.sub, p.n, p.n)
		}
	case n > 0:
		p.rep.Bytes(p.sub, p.n, p.total)
	}
	return n, err
}

// N returns the number of bytes read so far.
func (p *Reader) N() uint64 { return p.n }
