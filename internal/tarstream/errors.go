package tarstream

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrHeader is wrapped by every error about a header block or a meta entry
// that cannot be parsed: a checksum mismatch, a numeric field that is not a
// number, a malformed PAX record, a meta entry that is too large, or an
// extended header that is not followed by an entry.
var ErrHeader = errors.New("tarstream: invalid tar header")

// ErrSparse is wrapped by the error returned for GNU sparse files (typeflag
// 'S', or PAX headers with GNU.sparse.* records), which the Reader does not
// support.
var ErrSparse = errors.New("tarstream: sparse files are not supported")

// Error is the type of every error returned by Reader's methods, except
// io.EOF at the end of the archive and at the end of an entry's content.
// It locates the failure; Err tells what happened and wraps ErrHeader,
// ErrSparse, io.ErrUnexpectedEOF (the archive is truncated) or the error
// of the underlying reader, so that errors.Is works through it.
type Error struct {
	// Entry is the zero-based index of the entry being read or parsed,
	// counting only the entries that Next returns (not meta headers).
	Entry int
	// Name is the entry's name when it is known, else "".
	Name string
	// Offset is the byte offset in the stream of the header block at
	// which the failing entry (or its first meta header) starts.
	Offset int64
	// Err is the underlying error.
	Err error
}

// Error returns a message with the error and its location.
func (e *Error) Error() string {
	msg := e.Err.Error() + " (entry " + strconv.Itoa(e.Entry)
	if e.Name != "" {
		name := e.Name
		if len(name) > 200 {
			name = name[:200] + "..."
		}
		msg += " " + strconv.Quote(name)
	}
	return msg + ", header at offset " + strconv.FormatInt(e.Offset, 10) + ")"
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// headerErrorf returns an error wrapping ErrHeader with a detail message.
func headerErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrHeader, fmt.Sprintf(format, args...))
}

// errTruncated is the error for an archive that ends in the middle of an
// entry; it wraps io.ErrUnexpectedEOF.
func errTruncated(what string) error {
	return fmt.Errorf("tarstream: archive truncated in %s: %w", what, io.ErrUnexpectedEOF)
}

// readError wraps an error returned by the underlying reader, mapping an
// unexpected io.EOF to a truncation error.
func readError(err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncated(what)
	}
	return fmt.Errorf("tarstream: reading %s: %w", what, err)
}
