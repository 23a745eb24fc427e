package kargs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseFile(t *testing.T) {
	const noArch = `kargs = ["console=tty0", "nosmt"]`
	tests := []struct {
		name        string
		content     string
		arch        string
		want        []string
		wantMatched bool
		wantErr     string // substring; "" means no error
		wantLine    int
	}{
		// upstream test_arch
		{"no arch, x86_64", noArch, "x86_64", []string{"console=tty0", "nosmt"}, true, "", 0},
		{"no arch, aarch64", noArch, "aarch64", []string{"console=tty0", "nosmt"}, true, "", 0},
		{"other arch", "kargs = [\"console=tty0\", \"nosmt\"]\nmatch-architectures = [\"x86_64\"]\n", "aarch64", nil, false, "", 0},
		{"this arch", "kargs = [\"console=tty0\", \"nosmt\"]\nmatch-architectures = [\"aarch64\"]\n", "aarch64", []string{"console=tty0", "nosmt"}, true, "", 0},
		{"two arches, first", "kargs = [\"console=tty0\", \"nosmt\"]\nmatch-architectures = [\"x86_64\", \"aarch64\"]\n", "x86_64", []string{"console=tty0", "nosmt"}, true, "", 0},
		{"two arches, second", "kargs = [\"console=tty0\", \"nosmt\"]\nmatch-architectures = [\"x86_64\", \"aarch64\"]\n", "aarch64", []string{"console=tty0", "nosmt"}, true, "", 0},
		{"empty arch list matches nothing", "kargs = [\"a\"]\nmatch-architectures = []\n", "x86_64", nil, false, "", 0},
		{"Debian arch name does not match", "kargs = [\"a\"]\nmatch-architectures = [\"amd64\"]\n", "x86_64", nil, false, "", 0},
		// upstream test_invalid (the literal backslash-n is a syntax error)
		{"invalid extra", `kargs = ["console=tty0", "nosmt"]\nfoo=bar`, "x86_64", nil, false, "parsing kargs.d file f.toml:1:", 1},
		{"missing kargs (upstream: also invalid TOML)", "foo=bar", "x86_64", nil, false, "f.toml:1:5:", 1},
		{"unknown field only", `foo = "bar"`, "x86_64", nil, false, "f.toml:1:1: unknown field `foo`, expected `kargs` or `match-architectures`", 1},
		{"unknown field on line 2", "kargs = [\"a\"]\nfoo = 1\n", "x86_64", nil, false, "f.toml:2:1: unknown field `foo`", 2},
		{"underscore spelling is unknown", "kargs = [\"a\"]\nmatch_architectures = [\"x86_64\"]\n", "x86_64", nil, false, "unknown field `match_architectures`", 2},
		{"keys are case-sensitive", "KARGS = [\"a\"]\n", "x86_64", nil, false, "unknown field `KARGS`", 1},
		{"unknown table", "kargs = [\"a\"]\n[extra]\n", "x86_64", nil, false, "unknown field `extra`", 2},
		{"empty file", "", "x86_64", nil, false, "f.toml: missing field `kargs`", 0},
		{"comment only", "# nothing\n", "x86_64", nil, false, "missing field `kargs`", 0},
		{"kargs not an array", `kargs = "quiet"`, "x86_64", nil, false, "f.toml:1:9", 1},
		{"kargs of integers", "kargs = [\n  1,\n]\n", "x86_64", nil, false, "f.toml:2:3", 2},
		{"duplicate key", "kargs = []\nkargs = []\n", "x86_64", nil, false, "f.toml:2:1", 2},
		{"unterminated array", "kargs = [\n", "x86_64", nil, false, "f.toml:1:", 1},
		{"invalid UTF-8", "kargs = [\"\xff\"]", "x86_64", nil, false, "valid UTF-8", 0},
		{"empty kargs", "kargs = []", "x86_64", nil, true, "", 0},
		{"entry with spaces splits", `kargs = ["a b", "c"]`, "x86_64", []string{"a", "b", "c"}, true, "", 0},
		{"quoted entry", `kargs = ['foo="x y"', "c"]`, "x86_64", []string{`foo="x y"`, "c"}, true, "", 0},
		{"duplicates inside a file are kept", `kargs = ["a", "a"]`, "x86_64", []string{"a", "a"}, true, "", 0},
		{"upstream rootfs-rw example", "# Mount the root filesystem read-write\nkargs = [\"rw\"]\n", "x86_64", []string{"rw"}, true, "", 0},
		{"upstream console example", "kargs = [\"console=ttyS0,115200n8\", \"console=hvc0\"]\n", "x86_64", []string{"console=ttyS0,115200n8", "console=hvc0"}, true, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, matched, err := ParseFile("f.toml", []byte(tt.content), tt.arch)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				var fe *FileError
				if !errors.As(err, &fe) || fe.File != "f.toml" || fe.Line != tt.wantLine {
					t.Errorf("error %#v: want a FileError for f.toml at line %d", err, tt.wantLine)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if matched != tt.wantMatched || !slices.Equal(strs(got), tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("got %q, matched %v; want %q, %v", strs(got), matched, tt.want, tt.wantMatched)
			}
		})
	}
}

func TestIsConfigName(t *testing.T) {
	tests := map[string]bool{
		"10-foo.toml":     true,
		"a.b.toml":        true,
		"..toml":          true,
		".toml":           false,
		"foo.TOML":        false,
		"foo.toml~":       false,
		"foo.toml.bak":    false,
		"somegarbage":     false,
		"toml":            false,
		"foo.toml.":       false,
		".hidden.toml":    true,
		"01-foo.tomlx":    false,
		"with space.toml": true,
	}
	for name, want := range tests {
		if got := IsConfigName(name); got != want {
			t.Errorf("IsConfigName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestLoad follows upstream's test_get_kargs_in_root and adds edge cases.
func TestLoad(t *testing.T) {
	const d = Dir + "/"
	tests := []struct {
		name        string
		files       fstest.MapFS
		arch        string
		want        []string
		wantPresent bool
		wantErr     string
	}{
		{"no directory", fstest.MapFS{"usr/lib/other": {}}, "x86_64", nil, false, ""},
		{"empty directory", fstest.MapFS{Dir: {Mode: fs.ModeDir | 0o755}}, "x86_64", nil, true, ""},
		{"non-toml file ignored", fstest.MapFS{d + "somegarbage": {Data: []byte("garbage")}}, "x86_64", nil, true, ""},
		{"two files in name order", fstest.MapFS{
			d + "02-bar.toml": {Data: []byte(`kargs = ["console=ttyS1"]`)},
			d + "01-foo.toml": {Data: []byte(`kargs = ["console=tty0", "nosmt"]`)},
			d + "somegarbage": {Data: []byte("garbage")},
		}, "x86_64", []string{"console=tty0", "nosmt", "console=ttyS1"}, true, ""},
		{"byte order, not numeric order", fstest.MapFS{
			d + "9.toml":  {Data: []byte(`kargs = ["nine"]`)},
			d + "10.toml": {Data: []byte(`kargs = ["ten"]`)},
			d + "B.toml":  {Data: []byte(`kargs = ["upper"]`)},
			d + "a.toml":  {Data: []byte(`kargs = ["lower"]`)},
		}, "x86_64", []string{"ten", "nine", "upper", "lower"}, true, ""},
		{"duplicates across files dropped", fstest.MapFS{
			d + "01.toml": {Data: []byte(`kargs = ["quiet", "console=tty0"]`)},
			d + "02.toml": {Data: []byte(`kargs = ["console=ttyS0", "quiet", "console-tty0"]`)},
		}, "x86_64", []string{"quiet", "console=tty0", "console=ttyS0", "console-tty0"}, true, ""},
		{"arch filtering", fstest.MapFS{
			d + "00-console.toml": {Data: []byte("kargs = [\"console=ttyS0,115200n8\"]\nmatch-architectures = [\"x86_64\"]\n")},
			d + "01-arm.toml":     {Data: []byte("kargs = [\"console=ttyAMA0\"]\nmatch-architectures = [\"aarch64\"]\n")},
			d + "10-all.toml":     {Data: []byte(`kargs = ["mitigations=auto,nosmt"]`)},
		}, "aarch64", []string{"console=ttyAMA0", "mitigations=auto,nosmt"}, true, ""},
		{"only non-matching files", fstest.MapFS{
			d + "00.toml": {Data: []byte("kargs = [\"a\"]\nmatch-architectures = [\"s390x\"]\n")},
		}, "x86_64", nil, true, ""},
		{"empty file is an error", fstest.MapFS{
			d + "01.toml": {Data: []byte(`kargs = ["a"]`)},
			d + "02.toml": {Data: []byte("")},
		}, "x86_64", nil, true, "usr/lib/bootc/kargs.d/02.toml: missing field `kargs`"},
		{"invalid TOML names file and line", fstest.MapFS{
			d + "05-bad.toml": {Data: []byte("# comment\nkargs = [\"a\"\n")},
		}, "x86_64", nil, true, "usr/lib/bootc/kargs.d/05-bad.toml:2:"},
		{"unknown field names file and line", fstest.MapFS{
			d + "05-bad.toml": {Data: []byte("kargs = [\"a\"]\n\nfoo = \"bar\"\n")},
		}, "x86_64", nil, true, "usr/lib/bootc/kargs.d/05-bad.toml:3:1: unknown field `foo`"},
		{"bad file in other arch still an error", fstest.MapFS{
			d + "05-bad.toml": {Data: []byte("kargs = [\"a\"]\nmatch-architectures = [\"s390x\"]\nextra = 1\n")},
		}, "x86_64", nil, true, "unknown field `extra`"},
		{"a directory named .toml is an error", fstest.MapFS{
			d + "sub.toml/x": {Data: []byte("")},
		}, "x86_64", nil, true, "sub.toml"},
		{"subdirectories are not searched", fstest.MapFS{
			d + "sub/01.toml": {Data: []byte(`kargs = ["nested"]`)},
		}, "x86_64", nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, present, err := Load(tt.files, tt.arch)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if present != tt.wantPresent {
				t.Errorf("present = %v, want %v", present, tt.wantPresent)
			}
			if !slices.Equal(strs(got), tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("got %q, want %q", strs(got), tt.want)
			}
		})
	}
}

// TestLoadOSDir runs Load on a real directory tree (os.DirFS).
func TestLoadOSDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, filepath.FromSlash(Dir))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("10-test.toml", `kargs = ["kargsd-test=1", "kargsd-othertest=2"]`)
	write("20-test2.toml", `kargs = ["testing-kargsd=3"]`)
	write("README", "not toml")
	got, present, err := Load(os.DirFS(root), "x86_64")
	if err != nil || !present {
		t.Fatalf("Load: %v, present %v", err, present)
	}
	want := []string{"kargsd-test=1", "kargsd-othertest=2", "testing-kargsd=3"}
	if !slices.Equal(strs(got), want) {
		t.Errorf("got %q, want %q", strs(got), want)
	}
}
