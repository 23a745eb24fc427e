package importer_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootc-go/bootc/tests/fixtures"
)

// corpusEntries are the layers committed as FuzzImportLayer's seed corpus.
func corpusEntries() map[string][]fixtures.Entry {
	return map[string][]fixtures.Entry{
		"base":    baseLayer(),
		"derived": derivedLayer(),
		"bad-dev": append(append([]fixtures.Entry{}, kernel...), fixtures.Entry{Path: "usr/null", Kind: fixtures.CharDev}),
		"bad-link": append(append([]fixtures.Entry{}, kernel...),
			fixtures.Entry{Path: "usr/l", Kind: fixtures.Hardlink, Target: "../etc/shadow"}),
	}
}

// TestFuzzCorpus checks that testdata/fuzz/FuzzImportLayer holds the generated seeds;
// IMPORTER_WRITE_CORPUS=1 rewrites them.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzImportLayer")
	for name, es := range corpusEntries() {
		var buf bytes.Buffer
		if err := fixtures.WriteTar(&buf, es, fixtures.TarOptions{Prefix: "./"}); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", buf.Bytes())
		path := filepath.Join(dir, name)
		if os.Getenv("IMPORTER_WRITE_CORPUS") != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale (%v): run IMPORTER_WRITE_CORPUS=1 go test -run TestFuzzCorpus", path, err)
		}
	}
}
