package main

import (
	"errors"

	"github.com/alecthomas/kong"
)

// exitCodeOf is the exit code for an error a verb returned: the code of an error (or a
// wrapped one) implementing kong.ExitCoder, else 1. Verbs return such errors instead of
// exiting or panicking.
func exitCodeOf(err error) int {
	var ec kong.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}
