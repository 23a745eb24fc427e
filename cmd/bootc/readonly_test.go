package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// TestStatusFormats (upstream tmt 001): every status format upstream's readonly test reads
// (--json, --json --format-version=0, --format=yaml, --json --booted) parses, names apiVersion
// org.containers.bootc/v1, gives the booted image a timestamp and its ostree entry a
// stateroot; --booted drops the staged and rollback entries (the host here has a rollback);
// and status writes nothing to the sysroot (upstream checks /sysroot stays read-only).
func TestStatusFormats(t *testing.T) {
	h := newTestHost(t)
	layout := filepath.Join(t.TempDir(), "oci")
	h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v1", bootableImage("1")))
	h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v2", bootableImage("2")))
	before := h.fullState(t)

	type status struct {
		APIVersion string `json:"apiVersion" yaml:"apiVersion"`
		Status     struct {
			Booted *struct {
				Image *struct {
					Timestamp *string `json:"timestamp" yaml:"timestamp"`
				} `json:"image" yaml:"image"`
				Ostree *struct {
					Stateroot *string `json:"stateroot" yaml:"stateroot"`
				} `json:"ostree" yaml:"ostree"`
			} `json:"booted" yaml:"booted"`
			Staged   any `json:"staged" yaml:"staged"`
			Rollback any `json:"rollback" yaml:"rollback"`
		} `json:"status" yaml:"status"`
	}
	for _, tc := range []struct {
		args         []string
		yaml, booted bool
	}{
		{args: []string{"status", "--json"}},
		{args: []string{"status", "--json", "--format-version=0"}},
		{args: []string{"status", "--format-version=1", "--format=json"}},
		{args: []string{"status", "--format=yaml"}, yaml: true},
		{args: []string{"status", "--json", "--booted"}, booted: true},
		{args: []string{"status", "--format=yaml", "--booted"}, yaml: true, booted: true},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			out, _ := h.bootc(t, tc.args...)
			var st status
			var err error
			if tc.yaml {
				err = yaml.Unmarshal([]byte(out), &st)
			} else {
				err = json.Unmarshal([]byte(out), &st)
			}
			if err != nil {
				t.Fatalf("does not parse: %v\n%s", err, out)
			}
			if st.APIVersion != "org.containers.bootc/v1" {
				t.Errorf("apiVersion %q\n%s", st.APIVersion, out)
			}
			b := st.Status.Booted
			if b == nil || b.Image == nil || b.Image.Timestamp == nil || *b.Image.Timestamp == "" {
				t.Errorf("no timestamp for the booted image:\n%s", out)
			}
			if b == nil || b.Ostree == nil || b.Ostree.Stateroot == nil || *b.Ostree.Stateroot == "" {
				t.Errorf("no stateroot for the booted deployment:\n%s", out)
			}
			if tc.booted != (st.Status.Rollback == nil) {
				t.Errorf("rollback %v with --booted %v:\n%s", st.Status.Rollback, tc.booted, out)
			}
			if st.Status.Staged != nil {
				t.Errorf("staged %v on an offline sysroot:\n%s", st.Status.Staged, out)
			}
		})
	}
	if after := h.fullState(t); after != before {
		t.Errorf("status changed the sysroot:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// TestErrorsHaveNoANSIEscapes (upstream tmt 002: `bootc switch blah://` prints no escape
// sequence): errors from the command line, the reference parser and the verbs are plain
// text on stderr.
func TestErrorsHaveNoANSIEscapes(t *testing.T) {
	h := newTestHost(t)
	for _, args := range [][]string{
		{"switch", "blah://"},
		{"switch", "--transport", "nosuch", "x"},
		{"switch", "--quiet", "--transport", "oci", filepath.Join(t.TempDir(), "nosuch") + ":v1"},
		{"upgrade", "--quiet"}, // nothing deployed yet
		{"rollback"},
		{"nosuchverb"},
		{"status", "--format", "nope"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errs := h.try(t, args...)
			if code == 0 || errs == "" {
				t.Fatalf("exit %d, stderr %q; want an error", code, errs)
			}
			if strings.ContainsRune(errs, '\x1b') || strings.ContainsRune(out, '\x1b') {
				t.Errorf("escape sequence in the output:\nstdout %q\nstderr %q", out, errs)
			}
		})
	}
}
