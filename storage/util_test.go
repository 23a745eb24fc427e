package storage

import (
	"os"
	"testing"
)

// writeFile writes content to p or fails the test.
func writeFile(t testing.TB, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
