package main

import (
	"bytes"
	"os"
	"testing"

	"go.podman.io/storage/pkg/reexec"
)

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// bootc runs the command line in-process and returns its exit code, stdout and stderr.
func bootc(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return bootcWith(t, nil, args...)
}

// bootcWith is bootc with adjust (if not nil) applied to the verb's Deps.
func bootcWith(t *testing.T, adjust func(*Deps), args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	var adj []func(*Deps)
	if adjust != nil {
		adj = append(adj, adjust)
	}
	code := run(args, &out, &errb, adj...)
	return code, out.String(), errb.String()
}
