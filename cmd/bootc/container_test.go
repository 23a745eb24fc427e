package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// containerRoot writes a root every lint passes on, then files (a value starting with
// "->" is a symbolic link, "-" removes the path, a name ending in "/" is a directory).
func containerRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"dev/": "", "proc/": "", "sys/": "", "run/": "", "tmp/": "", "var/": "", "boot/": "", "sysroot/": "",
		"ostree":                           "->sysroot/ostree",
		"usr/lib/modules/6.1.0-1/vmlinuz":  "kernel",
		"usr/lib/ostree/prepare-root.conf": "[composefs]\nenabled = yes\n",
	})
	writeTree(t, dir, files)
	return dir
}

// writeTree writes files into dir (see containerRoot).
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case content == "-":
			err = os.RemoveAll(p)
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(strings.TrimPrefix(content, "->"), p)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestContainerLint runs `bootc container lint` as a Containerfile RUN step would: on a
// passing root, on roots with a fatal problem and a warning, with --skip,
// --fatal-warnings and --list; the exit code and output are upstream's.
func TestContainerLint(t *testing.T) {
	good := containerRoot(t, nil)
	bad := containerRoot(t, map[string]string{"var/run/x/": ""})
	warn := containerRoot(t, map[string]string{"var/log/build.log": "noise"})
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   string // exact, unless contains is set
		contains []string
		stderr   string
	}{
		{name: "pass", args: []string{"--rootfs", good}, stdout: "Checks passed: 13\nChecks skipped: 1\n"},
		{name: "fatal", args: []string{"--rootfs", bad}, code: 1,
			stdout: "Failed lint: var-run: Not a symlink: var/run\nChecks passed: 12\nChecks skipped: 1\n",
			stderr: "error: Linting: Checks failed: 1\n"},
		{name: "skip", args: []string{"--rootfs", bad, "--skip", "var-run", "--skip=nonempty-boot"},
			stdout: "Checks passed: 11\nChecks skipped: 3\n"},
		{name: "warning", args: []string{"--rootfs", warn},
			stdout: "Lint warning: var-log: Found non-empty logfiles:\n  /var/log/build.log\n\nChecks passed: 12\nChecks skipped: 1\nWarnings: 1\n"},
		{name: "fatal-warnings", args: []string{"--rootfs", warn, "--fatal-warnings"}, code: 1,
			contains: []string{"Lint warning: var-log:", "Warnings: 1\n"}, stderr: "error: Linting: Checks failed: 1\n"},
		{name: "list", args: []string{"--list"},
			contains: []string{"- name: api-base-directories\n  type: fatal\n", "- name: var-tmpfiles\n  type: warning\n", "root-type: Running"}},
		{name: "missing root", args: []string{"--rootfs", filepath.Join(good, "nope")}, code: 1, stderr: "nope"},
	} {
		code, stdout, stderr := bootc(t, append([]string{"container", "lint"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("%s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.name, code, tc.code, stdout, stderr)
		}
		if tc.contains == nil && stdout != tc.stdout {
			t.Errorf("%s: stdout\n%q\nwant\n%q", tc.name, stdout, tc.stdout)
		}
		for _, c := range tc.contains {
			if !strings.Contains(stdout, c) {
				t.Errorf("%s: stdout lacks %q:\n%s", tc.name, c, stdout)
			}
		}
		if tc.stderr == "" && stderr != "" || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: stderr %q, want %q", tc.name, stderr, tc.stderr)
		}
	}
}

// TestContainerInspect checks `bootc container inspect` in its three formats.
func TestContainerInspect(t *testing.T) {
	root := containerRoot(t, map[string]string{
		"usr/lib/bootc/kargs.d/10-console.toml": "kargs = [\"console=ttyS0,115200n8\", \"quiet\"]\n",
		"usr/lib/bootc/kargs.d/20-other.toml":   "kargs = [\"never\"]\nmatch-architectures = [\"no-such-arch\"]\n",
	})
	empty := containerRoot(t, map[string]string{"usr/lib/modules": "-"})
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: []string{"--rootfs", root}, stdout: "Kernel: 6.1.0-1\n  Type: vmlinuz\n Kargs: console=ttyS0,115200n8 quiet\n"},
		{args: []string{"--rootfs", empty}, stdout: "Kernel: <none>\n Kargs: <none>\n"},
		{args: []string{"--rootfs", root, "--json"},
			stdout: "{\n  \"kargs\": [\n    \"console=ttyS0,115200n8\",\n    \"quiet\"\n  ],\n  \"kernel\": {\n    \"version\": \"6.1.0-1\",\n    \"unified\": false\n  }\n}\n"},
		{args: []string{"--rootfs", empty, "--format", "json"}, stdout: "{\n  \"kargs\": [],\n  \"kernel\": null\n}\n"},
		{args: []string{"--rootfs", root, "--format=yaml"},
			stdout: "kargs:\n  - console=ttyS0,115200n8\n  - quiet\nkernel:\n  version: 6.1.0-1\n  unified: false\n"},
		{args: []string{"--rootfs", root, "--json", "--format", "yaml"}, code: 1, stderr: "--json conflicts with --format"},
		{args: []string{"--rootfs", root, "--format", "xml"}, code: 1, stderr: `unknown output format "xml"`},
	} {
		code, stdout, stderr := bootc(t, append([]string{"container", "inspect"}, tc.args...)...)
		if code != tc.code || stdout != tc.stdout || !strings.Contains(stderr, tc.stderr) || tc.stderr == "" && stderr != "" {
			t.Errorf("%q: got %d\n%q\n%q\nwant %d\n%q\n%q", tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
		if strings.Contains(strings.Join(tc.args, " "), "json") && tc.code == 0 && !json.Valid([]byte(stdout)) {
			t.Errorf("%q: not JSON: %s", tc.args, stdout)
		}
	}
}

// TestContainerVerbsNeedNoHost checks that the container verbs run as a Containerfile
// RUN step runs them: not root, on a system that looks booted (so that a mutating verb
// would re-execute in a mount namespace), with a --sysroot that does not exist. They
// must neither re-execute nor open a sysroot.
func TestContainerVerbsNeedNoHost(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ostree-booted")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	oldEUID := geteuid
	t.Cleanup(func() { geteuid = oldEUID })
	root := containerRoot(t, nil)
	for _, args := range [][]string{
		{"container", "lint", "--rootfs", root},
		{"container", "inspect", "--rootfs", root},
		{"--sysroot", "/nonexistent", "container", "lint", "--rootfs", root},
	} {
		var cli CLI
		parser, err := kong.New(&cli, kong.Vars{"version": "test"})
		if err != nil {
			t.Fatal(err)
		}
		kctx, err := parser.Parse(args)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if env, _ := unshareFor(kctx.Command(), &cli, &Deps{IsRoot: true, Env: func(string) string { return "" }, BootedMarker: marker}); env != "" {
			t.Errorf("%q: re-executes in a mount namespace (%s)", args, env)
		}
		for _, euid := range []int{0, 65534} {
			geteuid = func() int { return euid }
			var stdout, stderr strings.Builder
			if code := run(args, &stdout, &stderr, func(d *Deps) { d.BootedMarker = marker }); code != 0 || stderr.Len() > 0 {
				t.Errorf("%q as uid %d: exit %d\n%s%s", args, euid, code, stdout.String(), stderr.String())
			}
		}
	}
}
