package installconfig

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestScan(t *testing.T) {
	root := fstest.MapFS{
		"usr/lib/bootc/install/00-base.toml":        file("a"),
		"usr/lib/bootc/install/10-override.toml":    file("b"),
		"usr/lib/bootc/install/20-masked.toml":      file("c"),
		"usr/lib/bootc/install/README":              file("d"),
		"usr/lib/bootc/install/.hidden.toml":        file("e"),
		"usr/lib/bootc/install/sub.toml/x":          file("f"),
		"usr/lib/bootc/install/30-link.toml":        {Data: []byte("00-base.toml"), Mode: fs.ModeSymlink},
		"usr/local/lib/bootc/install/05-l.toml":     file("g"),
		"etc/bootc/install/10-override.toml":        file("h"),
		"run/bootc/install/20-masked.toml":          {Data: []byte("/dev/null"), Mode: fs.ModeSymlink},
		"run/bootc/install/99-late.toml":            file("i"),
		"var/lib/bootc/install/50-notsearched.toml": file("j"),
	}
	var got []string
	for _, f := range Scan(root) {
		got = append(got, f.Name+"="+f.Path)
	}
	want := []string{
		"00-base.toml=usr/lib/bootc/install/00-base.toml",
		"05-l.toml=usr/local/lib/bootc/install/05-l.toml",
		"10-override.toml=etc/bootc/install/10-override.toml",
		"99-late.toml=run/bootc/install/99-late.toml",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Scan =\n%q\nwant\n%q", got, want)
	}
	if got := Scan(fstest.MapFS{}); len(got) != 0 {
		t.Errorf("Scan(empty) = %v", got)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		arch     string
		wantNil  bool
		want     map[string]string // JSON key -> value
		wantWarn []string
		wantErr  string
	}{
		{"no files", nil, "x86_64", true, nil, nil, ""},
		{"files without [install]", map[string]string{"usr/lib/bootc/install/00.toml": "# nothing\n"}, "x86_64", true, nil, nil, ""},
		{"single file canonicalized", map[string]string{
			"usr/lib/bootc/install/00-fedora.toml": "[install.filesystem.root]\ntype = \"xfs\"\n",
		}, "x86_64", false, map[string]string{"root-fs-type": `"xfs"`, "block": `["direct"]`}, nil, ""},
		{"derived image overrides base", map[string]string{
			"usr/lib/bootc/install/00-base.toml":    "[install]\nroot-fs-type = \"xfs\"\nkargs = [\"a\"]\n",
			"usr/lib/bootc/install/50-derived.toml": "[install.filesystem.root]\ntype = \"btrfs\"\n[install]\nkargs = [\"b\"]\n",
		}, "x86_64", false, map[string]string{"root-fs-type": `"btrfs"`, "filesystem": `{"root":{"type":"btrfs"}}`, "kargs": `["a","b"]`}, nil, ""},
		{"upstream install-test-configs", map[string]string{
			"usr/lib/bootc/install/50-test-kargs.toml": "[install]\nkargs = [\"localtestkarg=somevalue\", \"otherlocalkarg=42\"]\n",
		}, "x86_64", false, map[string]string{"kargs": `["localtestkarg=somevalue","otherlocalkarg=42"]`}, nil, ""},
		{"first file of another arch is skipped; the next becomes the base", map[string]string{
			"usr/lib/bootc/install/00-arm.toml": "[install]\nmatch-architectures = [\"aarch64\"]\nroot-fs-type = \"ext4\"\n",
			"usr/lib/bootc/install/10-x86.toml": "[install]\nmatch-architectures = [\"x86_64\"]\nstateroot = \"x\"\n",
			"usr/lib/bootc/install/20-all.toml": "[install]\nmatch-architectures = [\"s390x\"]\nstateroot = \"z\"\n",
		}, "x86_64", false, map[string]string{"root-fs-type": "null", "stateroot": `"x"`, "match-architectures": `["x86_64"]`}, nil, ""},
		{"only other arches", map[string]string{
			"usr/lib/bootc/install/00-arm.toml": "[install]\nmatch-architectures = [\"aarch64\"]\nroot-fs-type = \"ext4\"\n",
		}, "x86_64", true, nil, nil, ""},
		{"etc overrides usr/lib file of the same name", map[string]string{
			"usr/lib/bootc/install/00.toml": "[install]\nstateroot = \"image\"\n",
			"etc/bootc/install/00.toml":     "[install]\nstateroot = \"local\"\n",
		}, "x86_64", false, map[string]string{"stateroot": `"local"`}, nil, ""},
		{"warnings for unknown ostree keys", map[string]string{
			"usr/lib/bootc/install/00.toml": "[install.ostree]\nfuture-option = true\n",
		}, "x86_64", false, map[string]string{"ostree": `{}`},
			[]string{"usr/lib/bootc/install/00.toml: unknown key install.ostree.future-option"}, ""},
		{"error names the file and line", map[string]string{
			"usr/lib/bootc/install/00.toml": "[install]\nstateroot = \"a\"\n",
			"etc/bootc/install/10-bad.toml": "[install]\n\nroot-fs-type = \"zfs\"\n",
		}, "x86_64", false, nil, nil, "parsing install config etc/bootc/install/10-bad.toml:3:16: unknown variant `zfs`"},
		{"bad file of another arch is still an error", map[string]string{
			"usr/lib/bootc/install/10-bad.toml": "[install]\nmatch-architectures = [\"s390x\"]\nbogus = 1\n",
		}, "x86_64", false, nil, nil, "10-bad.toml:3:1: unknown field `bogus`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fstest.MapFS{}
			for p, c := range tt.files {
				root[p] = file(c)
			}
			cfg, warnings, err := Load(root, tt.arch)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(warnings, tt.wantWarn) {
				t.Errorf("warnings %q, want %q", warnings, tt.wantWarn)
			}
			if tt.wantNil {
				if cfg != nil {
					t.Errorf("config %+v, want nil", cfg)
				}
				return
			}
			if cfg == nil {
				t.Fatal("config is nil")
			}
			got := fields(t, cfg)
			for k, want := range tt.want {
				if g := jsonOf(t, got[k]); g != want {
					t.Errorf("%s = %s, want %s", k, g, want)
				}
			}
		})
	}
}

// TestLoadOSDir reads drop-ins from a real tree, including symlinks, which
// upstream ignores (it does not follow them) unless they point at /dev/null.
func TestLoadOSDir(t *testing.T) {
	root := t.TempDir()
	mk := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	mk("usr/lib/bootc/install/00-base.toml", "[install]\nkargs = [\"base\"]\n")
	mk("usr/lib/bootc/install/10-masked.toml", "[install]\nkargs = [\"masked\"]\n")
	mk("usr/share/extra.toml", "[install]\nkargs = [\"via-symlink\"]\n")
	link("../../../share/extra.toml", "usr/lib/bootc/install/20-link.toml")
	link("/dev/null", "etc/bootc/install/10-masked.toml")
	cfg, _, err := Load(os.DirFS(root), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Kargs, []string{"base"}) {
		t.Errorf("kargs = %q, want [base]", cfg.Kargs)
	}
}
