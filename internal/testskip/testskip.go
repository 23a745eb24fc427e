// Package testskip is the one way tests of this module skip. A skip hides a test that did
// not run, so under strict mode (BOOTC_TEST_STRICT=1, set by `make test`) a skip fails the
// test instead, unless its key is allowed in BOOTC_TEST_ALLOW_SKIP (the Makefile's
// TEST_ALLOW_SKIP, empty by default). Allowed skips are appended to the file named by
// BOOTC_TEST_SKIPLOG, which `make test` prints in its summary.
//
// Keys name what is missing: "root", "tool:NAME" (a command), "qemu", "registry" (the
// local docker-registry), "overlay", "loop", "tmpfs", "xattr", "systemd", "booted" (the
// machine itself boots from ostree), "short" (go test -short) and "e2e" (the VM test
// without BOOTC_E2E=1). An allow-list entry matches a key exactly, or every key that
// starts with the entry and a colon ("tool" allows "tool:podman"); "*" allows every key.
// The list is separated by spaces or commas.
package testskip

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Environment variables read by Skip.
const (
	// StrictEnv turns skips into failures when set to 1.
	StrictEnv = "BOOTC_TEST_STRICT"
	// AllowEnv lists the keys whose skips stay allowed in strict mode.
	AllowEnv = "BOOTC_TEST_ALLOW_SKIP"
	// LogEnv names a file that allowed skips are appended to.
	LogEnv = "BOOTC_TEST_SKIPLOG"
)

// Skip skips t because of what key names, with reason formatted as t.Skip formats its
// arguments (fmt.Sprintln, without the newline). In strict mode a key not allowed fails t
// (and stops it) instead.
func Skip(t testing.TB, key string, reason ...any) {
	t.Helper()
	skip(t, key, strings.TrimSuffix(fmt.Sprintln(reason...), "\n"))
}

// Skipf is Skip with a reason formatted as by fmt.Sprintf.
func Skipf(t testing.TB, key, format string, args ...any) {
	t.Helper()
	skip(t, key, fmt.Sprintf(format, args...))
}

func skip(t testing.TB, key, reason string) {
	t.Helper()
	if os.Getenv(StrictEnv) == "1" && !Allowed(key, os.Getenv(AllowEnv)) {
		t.Fatalf("%s (skip %q is not allowed: %s=1; allow it with TEST_ALLOW_SKIP=%s)", reason, key, StrictEnv, key)
		return
	}
	if path := os.Getenv(LogEnv); path != "" {
		if err := appendLine(path, fmt.Sprintf("%s: [%s] %s", t.Name(), key, reason)); err != nil {
			t.Errorf("recording the skip in %s: %v", path, err)
		}
	}
	t.Skip(reason)
}

// Allowed reports whether key is allowed by the allow list (see the package doc).
func Allowed(key, list string) bool {
	for _, e := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if e == "*" || e == key || strings.HasPrefix(key, e+":") {
			return true
		}
	}
	return false
}

// appendLine appends one line to path in a single write, so that test binaries running
// in parallel do not interleave their lines.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.ReplaceAll(line, "\n", " ") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
