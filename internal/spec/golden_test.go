package spec

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenOutputs are the renderings compared for every input document.
var goldenOutputs = []struct {
	ext    string
	render func(*bytes.Buffer, *Host) error
}{
	{".json", func(b *bytes.Buffer, h *Host) error { return RenderJSON(b, h) }},
	{".yaml", func(b *bytes.Buffer, h *Host) error { return RenderYAML(b, h) }},
	{".txt", func(b *bytes.Buffer, h *Host) error { return RenderHuman(b, h, false) }},
	{".verbose.txt", func(b *bytes.Buffer, h *Host) error { return RenderHuman(b, h, true) }},
}

func parseInput(t *testing.T, path string) *Host {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parse := ParseYAML
	if strings.HasSuffix(path, ".json") {
		parse = ParseJSON
	}
	h, err := parse(data)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return h
}

// TestGolden parses every document in testdata/input, renders it in every
// format and compares with testdata/golden (rewritten with -update). It
// also checks that the JSON and YAML renderings parse back to the same
// document.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "input", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no test inputs")
	}
	for _, in := range inputs {
		base := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		t.Run(base, func(t *testing.T) {
			h := parseInput(t, in)
			rendered := map[string][]byte{}
			for _, o := range goldenOutputs {
				var b bytes.Buffer
				if err := o.render(&b, h); err != nil {
					t.Fatalf("rendering %s: %v", o.ext, err)
				}
				rendered[o.ext] = b.Bytes()
				golden := filepath.Join("testdata", "golden", base+o.ext)
				if *update {
					if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(b.Bytes(), want) {
					t.Errorf("%s differs from %s\n--- got ---\n%s\n--- want ---\n%s", o.ext, golden, b.Bytes(), want)
				}
			}

			// Round trips: what we print parses back to what we printed.
			for _, rt := range []struct {
				ext    string
				parse  func([]byte) (*Host, error)
				render func(*bytes.Buffer, *Host) error
			}{
				{".json", ParseJSON, goldenOutputs[0].render},
				{".json", ParseYAML, goldenOutputs[0].render}, // JSON is YAML too
				{".yaml", ParseYAML, goldenOutputs[1].render},
			} {
				h2, err := rt.parse(rendered[rt.ext])
				if err != nil {
					t.Fatalf("re-parsing %s: %v", rt.ext, err)
				}
				var b bytes.Buffer
				if err := rt.render(&b, h2); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b.Bytes(), rendered[rt.ext]) {
					t.Errorf("%s round trip differs:\n%s\nvs\n%s", rt.ext, b.Bytes(), rendered[rt.ext])
				}
			}
		})
	}
}
