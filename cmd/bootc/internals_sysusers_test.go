package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInternalsSysusersSync: the verb bootc-sysusers-shadow-sync.service runs names what it
// removed (the rules are internal/shadowsync's tests).
func TestInternalsSysusersSync(t *testing.T) {
	root := t.TempDir()
	for p, c := range map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n", "etc/group": "root:x:0:\n",
		"etc/shadow": "root:*::::::::\n", "etc/gshadow": "root:*::\nstale:!::\n"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := bootc(t, "internals", "sysusers-sync", "--root", root)
	if code != 0 || !strings.Contains(out, "Removed from /etc/gshadow") || !strings.Contains(out, ": stale\n") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
	if code, out, _ := bootc(t, "internals", "sysusers-sync", "--root", root); code != 0 || out != "" {
		t.Errorf("second run: exit %d, out %q; want nothing to do", code, out)
	}
}
