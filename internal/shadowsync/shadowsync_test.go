package shadowsync

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSync(t *testing.T) {
	for _, tc := range []struct {
		name        string
		files       map[string]string
		wantShadow  string
		wantGshadow string
		removed     map[string][]string
	}{
		{
			name: "stale gshadow entry (tmt 44)",
			files: map[string]string{
				"etc/passwd":  "root:x:0:0::/root:/bin/bash\n",
				"etc/group":   "root:x:0:\nadm:x:4:\n",
				"etc/shadow":  "root:*:19000:0:99999:7:::\n",
				"etc/gshadow": "root:*::\nadm:*::\ntestbootcgroup:!::\n",
			},
			wantShadow:  "root:*:19000:0:99999:7:::\n",
			wantGshadow: "root:*::\nadm:*::\n",
			removed:     map[string][]string{"etc/gshadow": {"testbootcgroup"}},
		},
		{
			name: "nss-altfiles names in /usr/lib, a duplicate, a comment",
			files: map[string]string{
				"etc/passwd":     "root:x:0:0::/root:/bin/bash\n",
				"usr/lib/passwd": "daemon:x:1:1::/:/usr/sbin/nologin\n",
				"usr/lib/group":  "daemon:x:1:\n",
				"etc/shadow":     "# kept\nroot:*:1::::::\ndaemon:*:1::::::\nroot:dup:1::::::\nghost:*:1::::::\n",
				"etc/gshadow":    "daemon:*::\n",
			},
			wantShadow:  "# kept\nroot:*:1::::::\ndaemon:*:1::::::\n",
			wantGshadow: "daemon:*::\n",
			removed:     map[string][]string{"etc/shadow": {"root", "ghost"}},
		},
		{
			name:        "no passwd: not a system, nothing touched",
			files:       map[string]string{"etc/gshadow": "x:*::\n"},
			wantGshadow: "x:*::\n",
			removed:     map[string][]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range tc.files {
				os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
				if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Sync(root)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Removed, tc.removed) {
				t.Errorf("removed %v, want %v", res.Removed, tc.removed)
			}
			for f, want := range map[string]string{"etc/shadow": tc.wantShadow, "etc/gshadow": tc.wantGshadow} {
				got, err := os.ReadFile(filepath.Join(root, f))
				if want == "" && os.IsNotExist(err) {
					continue
				}
				if string(got) != want {
					t.Errorf("%s = %q, want %q", f, got, want)
				}
				if fi, err := os.Stat(filepath.Join(root, f)); err == nil && fi.Mode().Perm() != 0o640 {
					t.Errorf("%s mode %v, want 0640 kept", f, fi.Mode())
				}
			}
		})
	}
}
