package main

import (
	"errors"
	"fmt"
	"io/fs"
)

// statusError explains a failure of `bootc status` run without root privileges that
// comes from a file it may not read: status itself needs no privileges (it only reads
// the sysroot, in bootc's own mount namespace, without re-executing), but a sysroot
// that is not readable by everyone can only be read by root.
func (d *Deps) statusError(err error) error {
	if d.IsRoot || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return fmt.Errorf("bootc status as a non-root user cannot read the sysroot (run it as root): %w", err)
}
