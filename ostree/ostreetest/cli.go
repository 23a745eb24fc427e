package ostreetest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/testskip"
)

// RequireCLI skips the test when the ostree command-line tool (a test oracle) is missing.
func RequireCLI(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ostree"); err != nil {
		testskip.Skip(t, "tool:ostree", "needs the ostree command-line tool (Debian package ostree; make deps installs it)")
	}
}

// CLI runs the ostree command-line tool and returns its standard output; a failure ends the
// test with its standard error.
func CLI(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("ostree", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ostree %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// LineDiff shows the lines only in a (prefixed "- a: ") or only in b ("+ b: "), in order:
// enough to see where two `ostree ls -R` listings differ.
func LineDiff(a, b string) string {
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		inA[l] = true
	}
	for _, l := range strings.Split(b, "\n") {
		inB[l] = true
	}
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if !inB[l] {
			out.WriteString("- a: " + l + "\n")
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !inA[l] {
			out.WriteString("+ b: " + l + "\n")
		}
	}
	return out.String()
}
