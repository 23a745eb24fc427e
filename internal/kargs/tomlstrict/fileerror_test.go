package tomlstrict

import (
	"errors"
	"testing"
)

func TestFileError(t *testing.T) {
	inner := &Error{Line: 3, Column: 7, Msg: "unknown field `x`"}
	fe := NewFileError("kargs.d file", "a.toml", inner)
	if got, want := fe.Error(), "parsing kargs.d file a.toml:3:7: unknown field `x`"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(fe, inner) {
		t.Errorf("FileError does not unwrap to its *Error")
	}
	plain := errors.New("boom")
	if got, want := NewFileError("install config", "b.toml", plain).Error(), "parsing install config b.toml: boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
