package ostreeext_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/ostreeext"
	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/tests/encapsulate"
)

// toolSource is a static helper the derived image runs (the test base has no shell).
const toolSource = `package main

import "os"

func main() {
	switch os.Args[1] {
	case "append":
		f, err := os.OpenFile(os.Args[2], os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			panic(err)
		}
		if _, err := f.WriteString(os.Args[3]); err != nil {
			panic(err)
		}
		f.Close()
	case "rm":
		if err := os.Remove(os.Args[2]); err != nil {
			panic(err)
		}
	}
}
`

func buildTool(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "tool-src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "main.go"), []byte(toolSource), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte("module bootctesttool\n\ngo 1.21\n"), 0o644))
	out := filepath.Join(dir, "tool")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the tool: %v: %s", err, b)
	}
	return out
}

// A derived image built with podman FROM an encapsulated image (adds a file, modifies a
// file that was a hardlink into the objects, deletes one) imports to exactly the expected
// tree: the base commit with those changes, nothing of sysroot/.
func TestDerivedImage(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		testskip.Skip(t, "tool:podman", "needs podman")
	}
	ctx := context.Background()
	e := newEnv(t)
	base := e.commitTree(t, "base", nil)
	if _, err := encapsulate.Encapsulate(ctx, e.src, base, e.layout, "base", encapsulate.Options{Chunks: 4}); err != nil {
		t.Fatal(err)
	}
	root, runroot := filepath.Join(e.dir, "podman-root"), filepath.Join(e.dir, "podman-run")
	podman := func(args ...string) string {
		return run(t, "podman", append([]string{"--root", root, "--runroot", runroot, "--storage-driver", "overlay",
			"--cgroup-manager", "cgroupfs", "--events-backend", "none"}, args...)...)
	}
	t.Cleanup(func() {
		exec.Command("podman", "--root", root, "--runroot", runroot, "--storage-driver", "overlay", "system", "reset", "-f").Run()
		ostreetest.RemoveMounted(root)
	})
	podman("pull", "oci:"+e.layout+":base")
	id := strings.TrimSpace(podman("images", "-q"))
	podman("tag", id, "localhost/encapsulated:base")

	ctxDir := filepath.Join(e.dir, "build")
	must(t, os.MkdirAll(ctxDir, 0o755))
	tool := buildTool(t, e.dir)
	b, err := os.ReadFile(tool)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(ctxDir, "tool"), b, 0o755))
	must(t, os.WriteFile(filepath.Join(ctxDir, "added"), []byte("added by the derived image\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(ctxDir, "Containerfile"), []byte(`FROM localhost/encapsulated:base
COPY tool /usr/libexec/tool
COPY added /usr/share/added
RUN ["/usr/libexec/tool", "append", "/usr/bin/sh", " modified"]
RUN ["/usr/libexec/tool", "rm", "/usr/share/doc/a/README"]
`), 0o644))
	podman("build", "--isolation=chroot", "-t", "localhost/derived:1", "-f", filepath.Join(ctxDir, "Containerfile"), ctxDir)
	podman("push", "localhost/derived:1", "oci:"+e.layout+":derived")

	repoDir := filepath.Join(e.dir, "repo")
	repo := newRepo(t, repoDir)
	img := imageFromLayout(t, e.layout, "derived", nil)
	res, err := ostreeext.ImportImage(ctx, repo, img, ostreeext.Options{})
	must(t, err)
	if res.BaseCommit != base {
		t.Fatalf("base commit %s, want %s", res.BaseCommit, base)
	}
	if n := len(img.Layers) - 5; n < 1 {
		t.Fatalf("%d derived layers", n)
	}
	fsck(t, repoDir)

	// The expected tree: the source tree with the same changes, committed by the CLI.
	want := filepath.Join(e.dir, "expected")
	writeSourceTree(t, want, nil)
	must(t, os.MkdirAll(filepath.Join(want, "usr/libexec"), 0o755))
	must(t, os.WriteFile(filepath.Join(want, "usr/libexec/tool"), b, 0o755))
	must(t, os.WriteFile(filepath.Join(want, "usr/share/added"), []byte("added by the derived image\n"), 0o644))
	must(t, os.Remove(filepath.Join(want, "usr/bin/sh")))
	must(t, os.WriteFile(filepath.Join(want, "usr/bin/sh"), []byte("shell modified"), 0o644))
	must(t, os.Remove(filepath.Join(want, "usr/share/doc/a/README")))
	// What podman's RUN steps leave in their layers, kept by upstream's rules: the
	// mount points dev, proc, run, sys (kept empty) and an empty /etc/hosts (only empty
	// hostname and resolv.conf are removed).
	for _, d := range []string{"dev", "proc", "run", "sys"} {
		must(t, os.Mkdir(filepath.Join(want, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(want, "usr/etc/hosts"), nil, 0o755))
	must(t, os.Chmod(filepath.Join(want, "usr/etc/hosts"), 0o755))
	wantCommit := cliCommit(t, e.srcRepo, want, "test/expected")
	got, exp := listTree(t, repoDir, res.Commit), listTree(t, e.srcRepo, wantCommit)
	if got != exp {
		t.Fatalf("derived tree differs from the expected one:\n%s", ostreetest.LineDiff(exp, got))
	}
	if res.Stats.Filtered["sysroot"] != 0 {
		t.Logf("filtered from sysroot/: %d", res.Stats.Filtered["sysroot"])
	}
}
