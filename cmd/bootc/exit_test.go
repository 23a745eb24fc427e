package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// codedError is an error with an exit code (kong.ExitCoder).
type codedError struct{ code int }

func (e codedError) Error() string { return fmt.Sprintf("code %d", e.code) }
func (e codedError) ExitCode() int { return e.code }

func TestExitCodeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{errors.New("plain"), 1},
		{codedError{100}, 100},
		{fmt.Errorf("wrapped: %w", codedError{3}), 3},
	} {
		if got := exitCodeOf(tc.err); got != tc.want {
			t.Errorf("exitCodeOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestUpgradeExclusiveFlags checks that kong refuses the upgrade flags that exclude each
// other, before anything runs.
func TestUpgradeExclusiveFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--check", "--apply"},
		{"--check", "--download-only"},
		{"--check", "--from-downloaded"},
		{"--apply", "--download-only"},
		{"--download-only", "--from-downloaded"},
	} {
		var out, errb strings.Builder
		code := run(append([]string{"upgrade"}, args...), &out, &errb)
		want := fmt.Sprintf("%s and %s can't be used together", args[0], args[1])
		if code != 2 || !strings.Contains(errb.String(), want) {
			t.Errorf("upgrade %v: exit %d, stderr %q; want 2 and %q", args, code, errb.String(), want)
		}
	}
}
