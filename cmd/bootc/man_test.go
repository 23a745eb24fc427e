package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManPages: bootc man writes a page for every visible command of the model, each naming
// every flag and command word that can follow it, and every line is text or one of the roff
// requests the generator uses (nothing a help text contains starts a request).
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if code, out, errs := bootc(t, "man", dir); code != 0 {
		t.Fatalf("bootc man: exit %d\n%s\n%s", code, out, errs)
	}
	requests := []string{".TH ", ".SH ", ".TP", ".B ", ".PP"}
	entries := modelEntries(t)
	for _, e := range entries {
		name := strings.Join(append([]string{"bootc"}, e.path...), "-") + ".8"
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("no page for %q: %v", strings.Join(e.path, " "), err)
			continue
		}
		page := string(b)
		for _, w := range e.words {
			if strings.HasPrefix(w, "-") || !strings.Contains(w, " ") {
				if want := roff(w); !strings.Contains(page, want) {
					t.Errorf("%s does not mention %s", name, w)
				}
			}
		}
		for i, l := range strings.Split(page, "\n") {
			if !strings.HasPrefix(l, ".") && !strings.HasPrefix(l, "'") {
				continue
			}
			ok := false
			for _, r := range requests {
				ok = ok || strings.HasPrefix(l, r) || l == strings.TrimSpace(r)
			}
			if !ok {
				t.Errorf("%s:%d: unexpected roff request %q", name, i+1, l)
			}
		}
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.8"))
	if len(pages) != len(entries) {
		t.Errorf("%d pages for %d visible commands", len(pages), len(entries))
	}
}
