package lint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// tree writes files into dir: a key ending in "/" is a directory, a value starting
// with "->" a symbolic link to the rest, anything else a regular file with that content.
func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(name, "/"):
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(content, "->"):
			if err := os.Symlink(strings.TrimPrefix(content, "->"), p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// passingTree is a root every lint passes on (as upstream's passing_fixture).
func passingTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		"dev/": "", "proc/": "", "sys/": "", "run/": "", "tmp/": "", "var/": "", "boot/": "", "sysroot/": "",
		"ostree":                           "->sysroot/ostree",
		"usr/lib/modules/5.7.2/vmlinuz":    "vmlinuz",
		"usr/lib/ostree/prepare-root.conf": "[composefs]\nenabled = yes\n[sysroot]\nreadonly = true\n",
		"etc/passwd":                       "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":                        "root:x:0:\n",
		"usr/lib/sysusers.d/basic.conf":    "u root 0 \"Super User\" /root\n",
	})
	return dir
}

func runLints(t *testing.T, dir string, opts Options) (Result, string, error) {
	t.Helper()
	var out bytes.Buffer
	res, err := Run(dir, opts, &out)
	return res, out.String(), err
}

func TestPassingTree(t *testing.T) {
	for _, running := range []bool{false, true} {
		res, out, err := runLints(t, passingTree(t), Options{Running: running, FatalWarnings: true})
		if err != nil {
			t.Fatalf("running=%v: %v\n%s", running, err, out)
		}
		if res.Fatal != 0 || res.Warnings != 0 || res.Skipped != 1 || res.Passed != len(All())-1 {
			t.Errorf("running=%v: result %+v, want all but one passed, one skipped\n%s", running, res, out)
		}
		want := "Checks passed: 13\nChecks skipped: 1\n"
		if out != want {
			t.Errorf("running=%v: output %q, want %q", running, out, want)
		}
	}
}

// TestEachLint checks each lint passes on the passing tree and fails, with upstream's
// message and severity, on a tree changed the way upstream's checks reject.
func TestEachLint(t *testing.T) {
	cases := []struct {
		lint    string
		running bool // lint the tree as the running root
		files   map[string]string
		remove  []string
		want    string // "" = passes
	}{
		{lint: "var-run", files: map[string]string{"var/run": "->../run"}},
		{lint: "var-run", files: map[string]string{"var/run/foo/": ""}, want: "Not a symlink: var/run"},
		{lint: "buildah-injected", files: map[string]string{"etc/hostname": "host\n"}},
		{lint: "buildah-injected", files: map[string]string{"etc/hostname": ""}, want: "/etc/hostname is an empty file; this may have been synthesized by a container runtime."},
		{lint: "buildah-injected", files: map[string]string{"etc/resolv.conf": ""}, want: "/etc/resolv.conf is an empty file"},
		{lint: "buildah-injected", running: true, files: map[string]string{"etc/resolv.conf": ""}}, // skipped on the running root
		{lint: "etc-usretc", files: map[string]string{"usr/etc/foo": "x"}, want: "Found /usr/etc - this is a bootc implementation detail and not supported to use in containers"},
		{lint: "etc-usretc", remove: []string{"etc"}, files: map[string]string{"usr/etc/foo": "x"}},
		{lint: "bootc-kargs", files: map[string]string{"usr/lib/bootc/kargs.d/10-a.toml": "kargs = [\"console=ttyS0\"]\n"}},
		{lint: "bootc-kargs", files: map[string]string{"usr/lib/bootc/kargs.d/10-a.toml": "kargs = \"console=ttyS0\"\n"}, want: "parsing kargs.d file usr/lib/bootc/kargs.d/10-a.toml:1:9: invalid type"},
		{lint: "bootc-kargs", files: map[string]string{"usr/lib/bootc/kargs.d/10-a.toml": "kargs = []\nunknown = 1\n"}, want: "parsing kargs.d file usr/lib/bootc/kargs.d/10-a.toml:2:1: unknown field"},
		{lint: "kernel", files: map[string]string{"usr/lib/modules/6.0/foo.ko": ""}},
		{lint: "kernel", remove: []string{"usr/lib/modules"}},
		{lint: "kernel", files: map[string]string{"usr/lib/modules/6.0/vmlinuz": "k"}, want: "Found multiple subdirectories in usr/lib/modules"},
		{lint: "utf8", files: map[string]string{"usr/share/caf\xc3\xa9": "x", "usr/share/l": "->caf\xc3\xa9"}},
		{lint: "utf8", files: map[string]string{"usr/share/a\xffb": "x"}, want: `/usr/share: Found non-utf8 filename "a\xFFb"`},
		{lint: "utf8", files: map[string]string{"usr/share/link": "->a\xffb"}, want: "/usr/share/link: Found non-utf8 symlink target"},
		{lint: "api-base-directories", remove: []string{"var"}, want: "Missing API filesystem base directory: /var"},
		{lint: "api-base-directories", remove: []string{"proc"}, files: map[string]string{"proc": "a file"}, want: "Expected directory for API filesystem base directory: /proc"},
		{lint: "baseimage-composefs", remove: []string{"usr/lib/ostree/prepare-root.conf"}, want: "ostree/prepare-root.conf is not present to enable composefs"},
		{lint: "baseimage-composefs", files: map[string]string{"etc/ostree/prepare-root.conf": "[composefs]\nenabled = no\n"}, want: "ostree/prepare-root.conf does not have composefs enabled"},
		{lint: "baseimage-composefs", files: map[string]string{"etc/ostree/prepare-root.conf": "[root]\ntransient = true\n"}},
		{lint: "baseimage-root", remove: []string{"sysroot"}, want: "Missing /sysroot"},
		{lint: "baseimage-root", remove: []string{"ostree"}, want: "Missing ostree -> sysroot/ostree link"},
		{lint: "baseimage-root", remove: []string{"ostree"}, files: map[string]string{"ostree/": ""}, want: "/ostree should be a symlink"},
		{lint: "baseimage-root", remove: []string{"ostree"}, files: map[string]string{"ostree": "->/sysroot/ostree"}, want: `Expected /ostree -> sysroot/ostree, not "/sysroot/ostree"`},
		{lint: "baseimage-root", files: map[string]string{baseimageRef + "/sysroot/": ""}, want: "Missing ostree -> sysroot/ostree link"},
		{lint: "var-log", files: map[string]string{"var/log/empty.log": "", "var/log/sub/": ""}},
		{lint: "var-log", files: map[string]string{"var/log/dnf/dnf.log": "dummy dnf log", "var/log/b c.log": "x"},
			want: "Found non-empty logfiles:\n  '/var/log/b c.log'\n  /var/log/dnf/dnf.log\n"},
		{lint: "var-log", files: map[string]string{"var/log/1": "x", "var/log/2": "x", "var/log/3": "x", "var/log/4": "x", "var/log/5": "x", "var/log/6": "x", "var/log/7": "x"},
			want: "Found non-empty logfiles:\n  /var/log/1\n  /var/log/2\n  /var/log/3\n  /var/log/4\n  /var/log/5\n  ...and 2 more\n"},
		{lint: "var-tmpfiles", running: true, files: map[string]string{"var/lib/foo/": "", "usr/lib/tmpfiles.d/foo.conf": "d /var/lib 0755 root root -\nd /var/lib/foo 0755 root root -\n"}},
		{lint: "var-tmpfiles", running: true, files: map[string]string{"var/lib/foo/": "", "var/lib/bar": "data", "var/lib/l": "->../foo", "usr/lib/tmpfiles.d/foo.conf": "d /var/lib 0755 root root -\n"},
			want: "Found content in /var missing systemd tmpfiles.d entries:\n  L /var/lib/l - - - - ../foo\n  d /var/lib/foo 0755 root root - -\nFound non-directory/non-symlink files in /var:\n  var/lib/bar\n"},
		{lint: "var-tmpfiles", running: true, files: map[string]string{"var/roothome/.ssh/": "", "root": "->var/roothome", "etc/tmpfiles.d/root.conf": "d /var/roothome 0700 root root -\nd /root/.ssh 0700 root root -\n"}},
		{lint: "var-tmpfiles", files: map[string]string{"var/lib/foo/": ""}}, // only for the running root
		{lint: "sysusers", files: map[string]string{"usr/lib/sysusers.d/x.conf": "g wheel 10\n", "etc/group": "root:x:0:\nwheel:x:10:\n"}},
		{lint: "sysusers", files: map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\nbin:x:1:1::/:/sbin/nologin\n", "etc/group": "root:x:0:\nbin:x:1:\nadm:x:4:\n"},
			want: "Found /etc/passwd entry without corresponding systemd sysusers.d:\n  bin\nFound /etc/group entry without corresponding systemd sysusers.d:\n  adm\n  bin\n"},
		{lint: "sysusers", remove: []string{"etc/passwd"}, files: map[string]string{"etc/group": "adm:x:4:\n"}},
		{lint: "nonempty-boot", files: map[string]string{"boot/EFI/Linux/": ""}},
		{lint: "nonempty-boot", files: map[string]string{"boot/vmlinuz-6.1": "k", "boot/grub/": ""}, want: "Found non-empty /boot:\n  grub\n  vmlinuz-6.1\n"},
		{lint: "nonempty-boot", remove: []string{"boot"}, want: "Missing /boot directory"},
		{lint: "nonempty-run-tmp", files: map[string]string{"run/systemd/resolve/stub-resolv.conf": "x"}},
		{lint: "nonempty-run-tmp", files: map[string]string{"run/systemd/resolve/stub-resolv.conf": "x", "run/systemd/other": "y", "tmp/build.log": "z"},
			want: "Found content in runtime-only directories (/run, /tmp):\n  /run/systemd\n  /run/systemd/other\n  /tmp/build.log\n"},
	}
	byName := map[string]Lint{}
	for _, l := range All() {
		byName[l.Name] = l
	}
	tested := map[string]bool{}
	for _, tc := range cases {
		l, ok := byName[tc.lint]
		if !ok {
			t.Fatalf("no lint %q", tc.lint)
		}
		tested[tc.lint] = true
		dir := passingTree(t)
		for _, r := range tc.remove {
			if err := os.RemoveAll(filepath.Join(dir, r)); err != nil {
				t.Fatal(err)
			}
		}
		tree(t, dir, tc.files)
		var skip []string
		for _, o := range All() {
			if o.Name != tc.lint {
				skip = append(skip, o.Name)
			}
		}
		res, out, err := runLints(t, dir, Options{Running: tc.running, Skip: skip})
		prefix := "Failed lint: "
		if l.Severity == Warning {
			prefix = "Lint warning: "
		}
		if tc.want == "" {
			if err != nil || strings.Contains(out, tc.lint+":") {
				t.Errorf("%s %v: want pass, got err %v, output:\n%s", tc.lint, tc.files, err, out)
			}
			continue
		}
		if !strings.Contains(out, prefix+tc.lint+": "+tc.want) {
			t.Errorf("%s %v: output lacks %q:\n%s", tc.lint, tc.files, prefix+tc.lint+": "+tc.want, out)
		}
		var failed *FailedError
		switch {
		case l.Severity == Fatal && (!errors.As(err, &failed) || res.Fatal != 1):
			t.Errorf("%s: want a fatal failure, got %v, %+v", tc.lint, err, res)
		case l.Severity == Warning && (err != nil || res.Warnings != 1):
			t.Errorf("%s: want a warning, got %v, %+v", tc.lint, err, res)
		}
	}
	for name := range byName {
		if !tested[name] {
			t.Errorf("lint %s has no test case", name)
		}
	}
}

// TestSymlinksStayInRoot checks that links out of the root (absolute or through "..")
// are not followed to the build host's files.
func TestSymlinksStayInRoot(t *testing.T) {
	outside := t.TempDir()
	tree(t, outside, map[string]string{
		"log/secret.log":    "host log",
		"modules/1/vmlinuz": "k",
		"modules/2/vmlinuz": "k",
		"kargs.d/bad.toml":  "not toml [",
		"boot/vmlinuz":      "k",
	})
	for _, target := range []string{outside, "../../../../../../../../.." + outside} {
		dir := passingTree(t)
		if err := os.RemoveAll(filepath.Join(dir, "usr/lib/modules")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(dir, "boot")); err != nil {
			t.Fatal(err)
		}
		tree(t, dir, map[string]string{
			"var/log":               "->" + target + "/log",
			"usr/lib/modules":       "->" + target + "/modules",
			"usr/lib/bootc/kargs.d": "->" + target + "/kargs.d",
			"boot":                  "->" + target + "/boot",
		})
		_, out, err := runLints(t, dir, Options{Skip: []string{"nonempty-boot"}})
		if err != nil || strings.Contains(out, "secret") || strings.Contains(out, "multiple") || strings.Contains(out, "bad.toml") {
			t.Errorf("link to %s: lints saw the host's files: %v\n%s", target, err, out)
		}
		in, err := Inspect(dir, "")
		if err != nil || in.Kernel != nil {
			t.Errorf("link to %s: inspect saw the host's files: %+v %v", target, in, err)
		}
	}
}

// TestAbsoluteSymlinksResolveInRoot checks that an absolute link in the image means the
// image's path, as once the image is the running root.
func TestAbsoluteSymlinksResolveInRoot(t *testing.T) {
	dir := passingTree(t)
	if err := os.RemoveAll(filepath.Join(dir, "usr/lib/modules")); err != nil {
		t.Fatal(err)
	}
	tree(t, dir, map[string]string{
		"opt/modules/6.1.0/vmlinuz": "k",
		"usr/lib/modules":           "->/opt/../opt/modules",
		"opt/kargs/a.toml":          "kargs = [\"quiet\"]\n",
		"usr/lib/bootc/kargs.d":     "->/usr/../../../opt/kargs",
		"var/log":                   "->/run/log",
		"run/log/journal/x.log":     "x",
	})
	in, err := Inspect(dir, "")
	if err != nil || in.Kernel == nil || in.Kernel.Version != "6.1.0" || len(in.Kargs) != 1 || in.Kargs[0] != "quiet" {
		t.Errorf("inspect: got %+v, %v; want kernel 6.1.0 and kargs [quiet]", in, err)
	}
	_, out, _ := runLints(t, dir, Options{})
	if !strings.Contains(out, "Lint warning: var-log: Found non-empty logfiles:\n  /var/log/journal/x.log\n") {
		t.Errorf("var-log through an absolute link:\n%s", out)
	}
}

func TestRunOutputAndDisposition(t *testing.T) {
	dir := passingTree(t)
	tree(t, dir, map[string]string{"var/run/foo/": "", "var/log/x.log": "log"})
	res, out, err := runLints(t, dir, Options{})
	// Upstream's order: by name (var-log before var-run).
	want := "Lint warning: var-log: Found non-empty logfiles:\n  /var/log/x.log\n\n" +
		"Failed lint: var-run: Not a symlink: var/run\n" +
		"Checks passed: 11\nChecks skipped: 1\nWarnings: 1\n"
	if out != want {
		t.Errorf("output:\n%q\nwant\n%q", out, want)
	}
	if err == nil || err.Error() != "Linting: Checks failed: 1" || res.Fatal != 1 || res.Warnings != 1 {
		t.Errorf("got %v %+v, want Checks failed: 1", err, res)
	}
	if _, _, err := runLints(t, dir, Options{FatalWarnings: true}); err == nil || err.Error() != "Linting: Checks failed: 2" {
		t.Errorf("--fatal-warnings: got %v, want Checks failed: 2", err)
	}
	res, out, err = runLints(t, dir, Options{Skip: []string{"var-run", "var-log"}, FatalWarnings: true})
	if err != nil || res.Skipped != 3 || !strings.HasSuffix(out, "Checks passed: 11\nChecks skipped: 3\n") {
		t.Errorf("--skip: %v %+v\n%s", err, res, out)
	}
	many := passingTree(t)
	tree(t, many, map[string]string{"var/log/1": "x", "var/log/2": "x", "var/log/3": "x", "var/log/4": "x", "var/log/5": "x", "var/log/6": "x"})
	if _, out, _ := runLints(t, many, Options{NoTruncate: true}); !strings.Contains(out, "  /var/log/5\n  /var/log/6\n\n") || strings.Contains(out, "more") {
		t.Errorf("--no-truncate:\n%s", out)
	}
	if _, out, _ := runLints(t, many, Options{}); !strings.Contains(out, "  /var/log/5\n  ...and 1 more\n\n") {
		t.Errorf("truncated:\n%s", out)
	}
	if _, _, err := runLints(t, filepath.Join(dir, "missing"), Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing root: got %v", err)
	}
}

func TestList(t *testing.T) {
	var out bytes.Buffer
	if err := List(&out); err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	if err := yaml.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("--list is not YAML: %v\n%s", err, out.String())
	}
	fatal := map[string]bool{"var-run": true, "etc-usretc": true, "bootc-kargs": true, "kernel": true, "utf8": true,
		"api-base-directories": true, "baseimage-root": true}
	warning := map[string]bool{"buildah-injected": true, "baseimage-composefs": true, "var-log": true, "var-tmpfiles": true,
		"sysusers": true, "nonempty-boot": true, "nonempty-run-tmp": true}
	if len(got) != len(fatal)+len(warning) {
		t.Errorf("%d lints listed, want %d", len(got), len(fatal)+len(warning))
	}
	for _, l := range got {
		switch {
		case fatal[l["name"]] && l["type"] == "fatal", warning[l["name"]] && l["type"] == "warning":
		default:
			t.Errorf("lint %s of type %s: not upstream's", l["name"], l["type"])
		}
		if l["description"] == "" {
			t.Errorf("lint %s has no description", l["name"])
		}
	}
	if !strings.Contains(out.String(), "root-type: Running") || !strings.Contains(out.String(), "root-type: Alternative") {
		t.Errorf("root types missing:\n%s", out.String())
	}
}

func TestInspect(t *testing.T) {
	cases := []struct {
		files map[string]string
		want  Inspection
	}{
		{map[string]string{}, Inspection{Kargs: []string{}, Kernel: &Kernel{Version: "5.7.2"}}},
		{map[string]string{
			"usr/lib/bootc/kargs.d/20-b.toml": "kargs = [\"quiet\"]\n",
			"usr/lib/bootc/kargs.d/10-a.toml": "kargs = [\"console=ttyS0\", \"a=b c\"]\n",
			"usr/lib/bootc/kargs.d/30-c.toml": "kargs = [\"other\"]\nmatch-architectures = [\"nonexistent\"]\n",
		}, Inspection{Kargs: []string{"console=ttyS0", "a=b", "c", "quiet"}, Kernel: &Kernel{Version: "5.7.2"}}},
		{map[string]string{"boot/EFI/Linux/b.efi": "u", "boot/EFI/Linux/a.efi": "u"}, Inspection{Kargs: []string{}, Kernel: &Kernel{Version: "a", Unified: true}}},
	}
	for _, tc := range cases {
		dir := passingTree(t)
		tree(t, dir, tc.files)
		got, err := Inspect(dir, "x86_64")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got.Kargs, "|") != strings.Join(tc.want.Kargs, "|") || *got.Kernel != *tc.want.Kernel {
			t.Errorf("%v: got %+v %+v, want %+v %+v", tc.files, got, got.Kernel, tc.want, tc.want.Kernel)
		}
	}
	dir := passingTree(t)
	if err := os.RemoveAll(filepath.Join(dir, "usr/lib/modules")); err != nil {
		t.Fatal(err)
	}
	if got, err := Inspect(dir, ""); err != nil || got.Kernel != nil {
		t.Errorf("no kernel: got %+v, %v", got, err)
	}
}
