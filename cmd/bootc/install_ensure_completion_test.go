package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/install"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// TestInstallEnsureCompletion: on a sysroot whose deployment was made without bootc's
// install steps (as Anaconda's ostreecontainer or `ostree container image deploy` leave
// it: boot entry kernel arguments of their own, no bound images in the installed system's
// store, no .bootc-aleph.json), install ensure-completion pulls the bound images into the
// installed system's store, adds the kernel arguments of the image's install configuration
// and kargs.d (keeping the local ones, applying the configuration's karg-deletes), and
// writes the aleph with the deployed image's digest; a second run says the install is
// complete and changes nothing.
func TestInstallEnsureCompletion(t *testing.T) {
	r := startRegistry(t)
	r.push(t, storagetest.ImageSpec{Layers: [][]storagetest.File{{file("app", "bound app")}}}, "app")
	h := newTestHost(t)
	img := withFiles(boundOSImage("1", r.name("app")),
		dir("usr/lib/bootc/kargs.d"), file("usr/lib/bootc/kargs.d/10-test.toml", "kargs = [\"from.kargsd=1\"]\n"),
		dir("usr/lib/bootc/install"), file("usr/lib/bootc/install/00-test.toml",
			"[install]\nkargs = [\"from.config=1 second.config\"]\nkarg-deletes = [\"drop.me\"]\n"))
	h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, filepath.Join(t.TempDir(), "oci"), "v1", img))
	// What a plain ostree deploy leaves: its own kernel arguments only.
	if out, err := exec.Command("ostree", "admin", "instutil", "set-kargs", "--sysroot="+h.sysroot, "local.arg=keep", "drop.me").CombinedOutput(); err != nil {
		t.Fatalf("ostree admin instutil set-kargs: %v\n%s", err, out)
	}
	storeRoot := storage.SysrootStoreRoot(h.sysroot, "default")
	t.Cleanup(func() { removeStore(t, storeRoot) })
	aleph := filepath.Join(h.sysroot, install.AlephFile)
	// The store ensure-completion fills is the installed system's: no --storage-root.
	run := func() (int, string, string) {
		return bootc(t, "--sysroot", h.sysroot, "install", "ensure-completion")
	}

	code, out, errs := run()
	if code != 0 {
		t.Fatalf("ensure-completion: exit %d\n%s\n%s", code, out, errs)
	}
	for _, w := range []string{"Kernel arguments added: from.config=1 second.config from.kargsd=1", "Kernel arguments removed: drop.me",
		"Bound images: 1 (1 fetched)", "Wrote " + aleph, "Installation complete."} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	entries := h.bootEntries(t)
	if got, want := userKargs(entries[0].options), []string{"local.arg=keep", "from.config=1", "second.config", "from.kargsd=1"}; !slices.Equal(got, want) {
		t.Errorf("kernel arguments after completion = %q, want %q", got, want)
	}
	s, err := storage.Open(t.Context(), storage.Options{Root: storeRoot, RunRoot: storage.DerivedRunRoot(storeRoot)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Image(t.Context(), r.name("app")); err != nil {
		t.Errorf("the bound image is not in the installed system's store: %v", err)
	}
	s.Close()
	var a map[string]any
	if err := json.Unmarshal([]byte(readFile(t, aleph)), &a); err != nil {
		t.Fatalf("%s: %v", aleph, err)
	}
	st := h.status(t)
	if a["digest"] != st.Status.Booted.Image.ImageDigest || a["target-image"] != st.Spec.Image.Image {
		t.Errorf("aleph digest %v, target-image %v; want %s, %s", a["digest"], a["target-image"], st.Status.Booted.Image.ImageDigest, st.Spec.Image.Image)
	}

	before := h.fullState(t) + fmtEntries(h.bootEntries(t))
	code, out, errs = run()
	if code != 0 || !strings.Contains(out, "Installation already complete") {
		t.Errorf("second ensure-completion: exit %d\n%s\n%s", code, out, errs)
	}
	if after := h.fullState(t) + fmtEntries(h.bootEntries(t)); after != before {
		t.Errorf("a second ensure-completion changed the sysroot:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func fmtEntries(es []blsEntry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.file + ": " + strings.Join(e.options, " ") + "\n")
	}
	return b.String()
}

// TestInstallEnsureCompletionRefusals: outside Anaconda without --sysroot, on a sysroot
// without deployments, and on a directory that is not a sysroot, one line names what is
// wrong and nothing is written.
func TestInstallEnsureCompletionRefusals(t *testing.T) {
	ostreetest.RequireRoot(t)
	t.Setenv(anacondaEnvHint, "")
	for _, c := range []struct {
		name  string
		setup func(t *testing.T) []string
		wants []string
	}{
		{name: "not in Anaconda", setup: func(*testing.T) []string { return nil },
			wants: []string{"ANA_INSTALL_PATH is not set", "--sysroot"}},
		{name: "no deployment", setup: func(t *testing.T) []string {
			root := ostreetest.TmpfsDir(t, 64)
			for _, args := range [][]string{{"admin", "init-fs", "--modern", root}, {"admin", "--sysroot=" + root, "os-init", "default"}} {
				if out, err := exec.Command("ostree", args...).CombinedOutput(); err != nil {
					t.Fatalf("ostree %v: %v\n%s", args, err, out)
				}
			}
			return []string{"--sysroot", root}
		}, wants: []string{"no deployment in the sysroot"}},
		{name: "not a sysroot", setup: func(t *testing.T) []string {
			return []string{"--sysroot", ostreetest.TmpfsDir(t, 16)}
		}, wants: []string{"is not an ostree sysroot"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.setup(t)
			code, out, errs := bootc(t, append(args, "install", "ensure-completion")...)
			checkOneLineError(t, code, out, errs, c.wants...)
			if len(args) == 2 {
				if _, err := os.Stat(filepath.Join(args[1], install.AlephFile)); err == nil {
					t.Errorf("%s written by a refused ensure-completion", install.AlephFile)
				}
			}
		})
	}
}
