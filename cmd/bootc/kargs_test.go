package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// blsEntry is a boot loader entry libostree wrote.
type blsEntry struct {
	file    string
	title   string
	options []string
}

// bootEntries reads <sysroot>/boot/loader/entries/*.conf, sorted as the boot menu lists
// them (libostree names the default entry with the highest number).
func (h *testHost) bootEntries(t *testing.T) []blsEntry {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(h.sysroot, "boot/loader/entries/*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var out []blsEntry
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		e := blsEntry{file: filepath.Base(p)}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, " ")
			switch k {
			case "title":
				e.title = v
			case "options":
				e.options = strings.Fields(v)
			}
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b blsEntry) int { return strings.Compare(b.file, a.file) })
	return out
}

// userKargs drops the ostree= argument libostree adds to every entry.
func userKargs(opts []string) []string {
	return slices.DeleteFunc(slices.Clone(opts), func(a string) bool { return strings.HasPrefix(a, "ostree=") })
}

// TestKargsOnSwitch deploys v1 (kargs.d: console=ttyS0 quiet bootc.v1=remove-me), adds a
// machine-local argument to its boot entry with the ostree command-line tool, then switches
// to v2 (kargs.d drops bootc.v1=remove-me, adds bootc.v2=added) and to v3 (no kargs.d at
// all). Each new boot entry has the image's arguments as its kargs.d says, and the
// machine-local argument stays; each older entry is left as it was.
func TestKargsOnSwitch(t *testing.T) {
	h := newTestHost(t)
	layout := filepath.Join(t.TempDir(), "oci")
	images := map[string]string{
		"v1": writeOCI(t, layout, "v1", bootableImage("1", "console=ttyS0", "quiet", "bootc.v1=remove-me")),
		"v2": writeOCI(t, layout, "v2", bootableImage("2", "console=ttyS0", "quiet", "bootc.v2=added")),
		"v3": writeOCI(t, layout, "v3", bootableImage("3")),
	}
	h.bootc(t, "switch", "--quiet", "--transport", "oci", images["v1"])
	if got, want := userKargs(h.bootEntries(t)[0].options), []string{"console=ttyS0", "quiet", "bootc.v1=remove-me"}; !slices.Equal(got, want) {
		t.Fatalf("v1's kernel arguments = %q, want %q", got, want)
	}
	// A machine-local argument, as an administrator adds it (edits the entry in place).
	if out, err := exec.Command("ostree", "admin", "kargs", "edit-in-place", "--sysroot="+h.sysroot,
		"--append-if-missing=local.arg=keep").CombinedOutput(); err != nil {
		t.Fatalf("ostree admin kargs edit-in-place: %v\n%s", err, out)
	}
	prev := []string{"console=ttyS0", "quiet", "bootc.v1=remove-me", "local.arg=keep"}
	if got := userKargs(h.bootEntries(t)[0].options); !slices.Equal(got, prev) {
		t.Fatalf("after adding a local argument: %q, want %q", got, prev)
	}

	for _, step := range []struct {
		image, version string
		want           []string
	}{
		{"v2", "2", []string{"console=ttyS0", "quiet", "local.arg=keep", "bootc.v2=added"}},
		// No kargs.d in v3: the arguments stay as they are.
		{"v3", "3", []string{"console=ttyS0", "quiet", "local.arg=keep", "bootc.v2=added"}},
	} {
		h.bootc(t, "switch", "--quiet", "--transport", "oci", images[step.image])
		st := h.status(t)
		if v := st.Status.Booted.Image.Version; v == nil || *v != step.version {
			t.Fatalf("%s: bootc status does not show version %s booting next: %v", step.image, step.version, v)
		}
		entries := h.bootEntries(t)
		if len(entries) != 2 {
			t.Fatalf("%s: %d boot entries, want 2 (new and rollback): %+v", step.image, len(entries), entries)
		}
		if !strings.HasSuffix(entries[0].title, "(ostree:0)") || !strings.HasSuffix(entries[1].title, "(ostree:1)") {
			t.Fatalf("%s: entries are not the deployments 0 and 1: %+v", step.image, entries)
		}
		if got := userKargs(entries[0].options); !slices.Equal(got, step.want) {
			t.Errorf("%s: kernel arguments of the new entry %s = %q, want %q", step.image, entries[0].file, got, step.want)
		}
		if got := userKargs(entries[1].options); !slices.Equal(got, prev) {
			t.Errorf("%s: kernel arguments of the rollback entry %s = %q, want them unchanged: %q", step.image, entries[1].file, got, prev)
		}
		prev = step.want
	}
}
