package tomlstrict

import (
	"errors"
	"fmt"
)

// FileError is a problem with one TOML file: it names the kind of file, the
// file and, when known, the line and column.
type FileError struct {
	Kind   string // what the file is, as messages name it ("kargs.d file", "install config")
	File   string // path of the file, relative to the tree root
	Line   int    // 1-based; 0 when the fault has no position
	Column int    // 1-based; 0 when the fault has no position
	Err    error  // the underlying error
}

// Error formats the error as "parsing KIND FILE:LINE:COL: MSG", or
// "parsing KIND FILE: MSG" without a position. MSG is the message of an
// [*Error] in the chain without its position, else the underlying error.
func (e *FileError) Error() string {
	msg := e.Err.Error()
	var te *Error
	if errors.As(e.Err, &te) {
		msg = te.Msg
	}
	if e.Line > 0 {
		return fmt.Sprintf("parsing %s %s:%d:%d: %s", e.Kind, e.File, e.Line, e.Column, msg)
	}
	return fmt.Sprintf("parsing %s %s: %s", e.Kind, e.File, msg)
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

// NewFileError returns a [FileError] of kind for the file name, wrapping err
// and taking the line and column from an [*Error] in err's chain.
func NewFileError(kind, name string, err error) *FileError {
	fe := &FileError{Kind: kind, File: name, Err: err}
	var te *Error
	if errors.As(err, &te) {
		fe.Line, fe.Column = te.Line, te.Column
	}
	return fe
}
