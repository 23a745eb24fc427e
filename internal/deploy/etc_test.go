package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
)

// TestEtcConflicts checks the /etc preflight on a deployment directory in a temporary
// directory: only locally changed paths whose type differs in the new image conflict.
func TestEtcConflicts(t *testing.T) {
	type entry struct {
		path, content string
		dir           bool
		link          string
	}
	write := func(t *testing.T, root string, es []entry) {
		for _, e := range es {
			p := filepath.Join(root, e.path)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			var err error
			switch {
			case e.dir:
				err = os.MkdirAll(p, 0o755)
			case e.link != "":
				err = os.Symlink(e.link, p)
			default:
				err = os.WriteFile(p, []byte(e.content), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	dir := &fstest.MapFile{Mode: 0o755 | os.ModeDir}
	tests := []struct {
		name     string
		defaults []entry // usr/etc of the deployment
		local    []entry // etc of the deployment
		newEtc   fstest.MapFS
		want     []string
	}{
		{
			name:     "unchanged file, new image has a directory",
			defaults: []entry{{path: "a.conf", content: "x"}},
			local:    []entry{{path: "a.conf", content: "x"}},
			newEtc:   fstest.MapFS{"usr/etc/a.conf": dir},
		},
		{
			name:     "modified file, new image has a directory",
			defaults: []entry{{path: "a.conf", content: "x"}},
			local:    []entry{{path: "a.conf", content: "local"}},
			newEtc:   fstest.MapFS{"usr/etc/a.conf": dir},
			want:     []string{"/etc/a.conf"},
		},
		{
			name:   "added file, new image has a directory",
			local:  []entry{{path: "new.d", content: "mine"}},
			newEtc: fstest.MapFS{"usr/etc/new.d/x": file("y")},
			want:   []string{"/etc/new.d"},
		},
		{
			name:   "added directory, new image has a file (reported once)",
			local:  []entry{{path: "conf.d/one", content: "1"}, {path: "conf.d/two", content: "2"}},
			newEtc: fstest.MapFS{"usr/etc/conf.d": file("flat")},
			want:   []string{"/etc/conf.d"},
		},
		{
			name:     "modified file, new image has a file",
			defaults: []entry{{path: "a.conf", content: "x"}},
			local:    []entry{{path: "a.conf", content: "local"}},
			newEtc:   fstest.MapFS{"usr/etc/a.conf": file("new")},
		},
		{
			name:     "modified file the new image drops",
			defaults: []entry{{path: "a.conf", content: "x"}},
			local:    []entry{{path: "a.conf", content: "local"}},
			newEtc:   fstest.MapFS{"usr/etc/other": file("o")},
		},
		{
			name:     "changed symlink, new image has a directory",
			defaults: []entry{{path: "l", link: "a"}},
			local:    []entry{{path: "l", link: "b"}},
			newEtc:   fstest.MapFS{"usr/etc/l": dir},
			want:     []string{"/etc/l"},
		},
		{
			name:     "sorted",
			defaults: []entry{},
			local:    []entry{{path: "z", content: "1"}, {path: "b", content: "1"}},
			newEtc:   fstest.MapFS{"usr/etc/z": dir, "usr/etc/b": dir},
			want:     []string{"/etc/b", "/etc/z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.MkdirAll(filepath.Join(d, "usr/etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(d, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(d, "usr/etc"), tt.defaults)
			write(t, filepath.Join(d, "etc"), tt.local)
			got, err := EtcConflicts(d, tt.newEtc)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) && (len(got) != 0 || len(tt.want) != 0) {
				t.Errorf("EtcConflicts = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := EtcConflicts(filepath.Join(t.TempDir(), "missing"), fstest.MapFS{}); err == nil {
		t.Error("EtcConflicts on a missing deployment succeeded")
	}
}
