package boundimage

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   map[string]string // path -> content; "->target" makes a symlink
		want    []Image
		wantErr string
	}{
		{name: "no directory"},
		{name: "image and container quadlets", files: map[string]string{
			Dir + "/db.image":                            "[Image]\nImage=quay.io/example/db:1\nAuthFile=/etc/ostree/auth.json\n",
			Dir + "/web.container":                       "-> /usr/share/containers/systemd/web.container",
			Dir + "/README":                              "not a quadlet",
			"usr/share/containers/systemd/web.container": "# comment\n[Unit]\nImage=not-this\n[Container]\n; note\nImage = \"registry.example.com/web:2\"\nExec=/bin/true\n",
		}, want: []Image{
			{Name: "quay.io/example/db:1", AuthFile: "/etc/ostree/auth.json", File: "db.image"},
			{Name: "registry.example.com/web:2", File: "web.container"},
		}},
		{name: "relative link and continued line", files: map[string]string{
			Dir + "/x.image":      "-> ../../../share/q/x.image",
			"usr/share/q/x.image": "[Image]\nImage=quay.io/\\\nexample/x\n",
		}, want: []Image{{Name: "quay.io/ example/x", File: "x.image"}}},
		{name: "absolute link cannot leave the root", files: map[string]string{
			Dir + "/up.image": "-> /../../../../etc/up.image",
		}, wantErr: "no such file"},
		{name: "no Image=", files: map[string]string{Dir + "/bad.image": "[Image]\nAuthFile=/x\n"}, wantErr: "no Image= in its [Image] section"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for p, content := range c.files {
				full := filepath.Join(root, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				var err error
				if target, ok := strings.CutPrefix(content, "-> "); ok {
					err = os.Symlink(target, full)
				} else {
					err = os.WriteFile(full, []byte(content), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := List(os.DirFS(root))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("List: %v, want an error containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("List = %+v, want %+v", got, c.want)
			}
		})
	}
}
