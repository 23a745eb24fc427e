package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallPrintConfiguration: the drop-ins are merged in name order across the
// directories (a later directory's file of the same name replaces an earlier one's), the
// output is one line of JSON with upstream's keys, and kargs show only with --all.
func TestInstallPrintConfiguration(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		all   bool
		want  map[string]any // keys checked; others must be null or absent
		err   string
	}{
		{name: "no configuration", want: map[string]any{}},
		{name: "merged", files: map[string]string{
			"usr/lib/bootc/install/00-base.toml": "[install]\nroot-fs-type = \"xfs\"\nkargs = [\"a=1\"]\n",
			"usr/lib/bootc/install/10-more.toml": "[install]\nstateroot = \"os\"\nkargs = [\"b=2\"]\n",
			"etc/bootc/install/10-more.toml":     "[install]\nstateroot = \"local\"\n",
		}, want: map[string]any{"root-fs-type": "xfs", "stateroot": "local", "block": []any{"direct"},
			"filesystem": map[string]any{"root": map[string]any{"type": "xfs"}}}},
		{name: "all shows kargs", all: true, files: map[string]string{
			"usr/lib/bootc/install/00-base.toml": "[install]\nkargs = [\"a=1\"]\nkarg-deletes = [\"quiet\"]\n",
		}, want: map[string]any{"kargs": []any{"a=1"}, "karg-deletes": []any{"quiet"}, "block": []any{"direct"}}},
		{name: "bad file", files: map[string]string{
			"usr/lib/bootc/install/00-bad.toml": "[install]\nroot-fs-type = \"zfs\"\n",
		}, err: "00-bad.toml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for p, content := range c.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"install", "print-configuration", "--rootfs", root}
			if c.all {
				args = append(args, "--all")
			}
			code, out, errs := bootc(t, args...)
			if c.err != "" {
				if code == 0 || !strings.Contains(errs, c.err) {
					t.Fatalf("exit %d, stderr %q; want an error naming %s", code, errs, c.err)
				}
				return
			}
			if code != 0 || strings.Count(out, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want one line", code, out, errs)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range got {
				want, ok := c.want[k]
				if !ok && v != nil {
					t.Errorf("%s = %v, want null", k, v)
				} else if ok {
					if gj, _ := json.Marshal(v); string(gj) != mustJSON(t, want) {
						t.Errorf("%s = %s, want %s", k, gj, mustJSON(t, want))
					}
				}
			}
			for k := range c.want {
				if _, ok := got[k]; !ok {
					t.Errorf("%s missing from %s", k, out)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
