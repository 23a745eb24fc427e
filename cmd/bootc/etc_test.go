package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEtcMergeOnSwitch edits /etc of the deployed v1 (a modified default, an added file, a
// deleted default, a deleted default that v2 changes) and switches to v2: local changes
// survive, defaults nobody touched follow the new image, new defaults appear, and local
// deletions stay deleted. The old deployment keeps its own /etc.
func TestEtcMergeOnSwitch(t *testing.T) {
	h := newTestHost(t)
	layout := filepath.Join(t.TempDir(), "oci")
	v1 := writeOCI(t, layout, "v1", bootableImage("1"))
	v2 := writeOCI(t, layout, "v2", withFiles(bootableImage("2"),
		dir("etc/app"),
		file("etc/motd", "welcome to v2\n"),
		file("etc/hostname", "v2host\n"),
		file("etc/app/app.conf", "setting=v2\n"),
		file("etc/app/remove-me.conf", "changed in v2\n"),
	))
	h.bootc(t, "switch", "--quiet", "--transport", "oci", v1)
	old := h.deployDir(h.status(t).Status.Booted)
	etc := filepath.Join(old, "etc")
	for p, content := range map[string]string{
		"motd":           "local motd\n",
		"local.conf":     "added locally\n",
		"app/local.conf": "added locally in a default directory\n",
	} {
		if err := os.WriteFile(filepath.Join(etc, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"shadow", "app/remove-me.conf"} {
		if err := os.Remove(filepath.Join(etc, p)); err != nil {
			t.Fatal(err)
		}
	}

	h.bootc(t, "switch", "--quiet", "--transport", "oci", v2)
	st := h.status(t)
	if st.Status.Rollback == nil || h.deployDir(st.Status.Rollback) != old {
		t.Fatalf("v1 is not the rollback deployment: %+v", st.Status.Rollback)
	}
	newEtc := filepath.Join(h.deployDir(st.Status.Booted), "etc")
	for _, tc := range []struct {
		path, want, why string
	}{
		{"motd", "local motd\n", "locally modified default: the local version wins over v2's"},
		{"local.conf", "added locally\n", "locally added file"},
		{"app/local.conf", "added locally in a default directory\n", "locally added file in a default directory"},
		{"shadow", "<absent>", "locally deleted default"},
		{"app/remove-me.conf", "<absent>", "locally deleted default that v2 changed"},
		{"hostname", "v2host\n", "untouched default changed by v2"},
		{"app/app.conf", "setting=v2\n", "untouched default changed by v2"},
		{"version", "base\n", "untouched default"},
		{"defaults-2.conf", "new default in 2\n", "new default of v2"},
		{"defaults-1.conf", "<absent>", "v1's default that v2 dropped"},
	} {
		if got := readFile(t, filepath.Join(newEtc, tc.path)); got != tc.want {
			t.Errorf("/etc/%s (%s) = %q, want %q", tc.path, tc.why, got, tc.want)
		}
	}
	// Rollback does not merge: v1's /etc is as it was left.
	for p, want := range map[string]string{"motd": "local motd\n", "shadow": "<absent>", "defaults-1.conf": "new default in 1\n", "defaults-2.conf": "<absent>"} {
		if got := readFile(t, filepath.Join(etc, p)); got != want {
			t.Errorf("v1's /etc/%s = %q, want %q", p, got, want)
		}
	}
	h.fsck(t)
}

// TestEtcConflictRefused checks the /etc preflight: a local change whose file type conflicts
// with the new image's (a local file where the image now has a directory, or the reverse)
// is refused before anything is written. The error names the path; the refs, the
// deployments and the store are as before (the fetched image is removed again, a moved image
// ref is put back); once the local change is moved aside the same command succeeds.
func TestEtcConflictRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		// upgrade: v1 comes from the registry and the tag moves to the conflicting image;
		// else switch from v1 to another tag of an OCI layout.
		upgrade bool
		local   func(t *testing.T, etc string)
		image   []string // paths: a trailing / makes a directory
		path    string
	}{
		{name: "local file, new directory", local: writeLocal("foo.conf"), image: []string{"etc/foo.conf/", "etc/foo.conf/a.conf"}, path: "/etc/foo.conf"},
		{name: "local file, new directory, upgrade", upgrade: true, local: writeLocal("foo.conf"), image: []string{"etc/foo.conf/", "etc/foo.conf/a.conf"}, path: "/etc/foo.conf"},
		{name: "local directory, new file", local: mkdirLocal("bar.d"), image: []string{"etc/bar.d"}, path: "/etc/bar.d"},
		{name: "local directory, new file, upgrade", upgrade: true, local: mkdirLocal("bar.d"), image: []string{"etc/bar.d"}, path: "/etc/bar.d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHost(t)
			v2 := bootableImage("2")
			for _, p := range tc.image {
				if strings.HasSuffix(p, "/") {
					v2 = withFiles(v2, dir(strings.TrimSuffix(p, "/")))
				} else {
					v2 = withFiles(v2, file(p, "from v2\n"))
				}
			}
			var args []string
			if tc.upgrade {
				r := startRegistry(t)
				r.push(t, bootableImage("1"), "latest")
				h.bootc(t, "switch", "--quiet", r.name("latest"))
				r.push(t, v2, "latest")
				args = []string{"upgrade", "--quiet"}
			} else {
				layout := filepath.Join(t.TempDir(), "oci")
				h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v1", bootableImage("1")))
				args = []string{"switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v2", v2)}
			}
			etc := filepath.Join(h.deployDir(h.status(t).Status.Booted), "etc")
			tc.local(t, etc)

			before := h.fullState(t)
			code, out, errs := h.try(t, args...)
			checkOneLineError(t, code, out, errs, "/etc merge conflict", tc.path)
			if after := h.fullState(t); after != before {
				t.Fatalf("the refused %s changed the sysroot, repo or store:\n--- before\n%s\n--- after\n%s", args[0], before, after)
			}
			h.fsck(t)

			// Moved aside, the update goes through.
			if err := os.RemoveAll(filepath.Join(etc, strings.TrimPrefix(tc.path, "/etc/"))); err != nil {
				t.Fatal(err)
			}
			out, _ = h.bootc(t, args...)
			if !strings.Contains(out, "Queued for next boot") {
				t.Fatalf("%s after moving the conflict aside:\n%s", args[0], out)
			}
			if v := h.status(t).Status.Booted.Image.Version; v == nil || *v != "2" {
				t.Fatalf("v2 is not deployed: version %v", v)
			}
			h.fsck(t)
		})
	}
}

func writeLocal(name string) func(*testing.T, string) {
	return func(t *testing.T, etc string) {
		if err := os.WriteFile(filepath.Join(etc, name), []byte("local\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mkdirLocal(name string) func(*testing.T, string) {
	return func(t *testing.T, etc string) {
		if err := os.Mkdir(filepath.Join(etc, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, name, "x.conf"), []byte("local\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
