package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.podman.io/image/v5/types"

	"github.com/bootc-go/bootc/internal/install/installtest"
	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testHost is an offline sysroot on tmpfs with stateroot "default", a containers-storage
// root, and the environment for pulls (policy accepting anything).
type testHost struct {
	sysroot, storage string
	policy           string
	// paths are replaced by stable names in golden output.
	paths map[string]string
	// adjust, if set, is applied to the Deps of each command run against the host.
	adjust func(*Deps)
}

func newTestHost(t *testing.T) *testHost {
	t.Helper()
	return newTestHostSize(t, 1024)
}

// newTestHostSize is newTestHost with a sysroot tmpfs of sizeMiB.
func newTestHostSize(t *testing.T, sizeMiB int) *testHost {
	t.Helper()
	ostreetest.RequireRoot(t)
	for _, tool := range []string{"ostree", storagetest.RegistryBinary} {
		if _, err := exec.LookPath(tool); err != nil {
			testskip.Skipf(t, "tool:"+tool, "needs %s: %v", tool, err)
		}
	}
	h := &testHost{sysroot: ostreetest.TmpfsDir(t, sizeMiB), paths: map[string]string{}}
	work := t.TempDir()
	h.storage = filepath.Join(work, "storage")
	h.policy = filepath.Join(work, "policy.json")
	if err := os.WriteFile(h.policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_POLICY_JSON", h.policy)
	run := func(args ...string) {
		if out, err := exec.Command("ostree", args...).CombinedOutput(); err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
	}
	run("admin", "init-fs", "--modern", h.sysroot)
	run("admin", "--sysroot="+h.sysroot, "os-init", "default")
	t.Cleanup(func() {
		ostreetest.RemoveMounted(h.storage)
		ostreetest.RemoveMounted(storage.DerivedRunRoot(h.storage))
	})
	return h
}

// bootc runs bootc against the test host.
func (h *testHost) bootc(t *testing.T, args ...string) (string, string) {
	t.Helper()
	code, out, errs := bootcWith(t, h.adjust, append([]string{"--sysroot", h.sysroot, "--storage-root", h.storage}, args...)...)
	if code != 0 {
		t.Fatalf("bootc %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out, errs
}

// state is what must not change when nothing is to be done: refs and deployments.
func (h *testHost) state(t *testing.T) string {
	t.Helper()
	refs, err := exec.Command("ostree", "--repo="+h.sysroot+"/ostree/repo", "refs").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(refs))
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n" + h.adminStatus(t)
}

func (h *testHost) adminStatus(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ostree", "admin", "--sysroot="+h.sysroot, "status").CombinedOutput()
	if err != nil {
		t.Fatalf("ostree admin status: %v\n%s", err, out)
	}
	return string(out)
}

var (
	digestRe   = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	checksumRe = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	portRe     = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
)

// normalize replaces digests, checksums and the registry port by stable names, numbered in
// order of first appearance.
func normalize(s string, names map[string]string) string {
	s = portRe.ReplaceAllString(s, "127.0.0.1:PORT")
	name := func(kind string) func(string) string {
		return func(m string) string {
			if n, ok := names[m]; ok {
				return n
			}
			n := kind + "-" + string(rune('A'+len(names)))
			names[m] = n
			return n
		}
	}
	s = digestRe.ReplaceAllStringFunc(s, name("digest"))
	return checksumRe.ReplaceAllStringFunc(s, name("commit"))
}

// checkStatus compares `bootc status --format json` (normalised, indented) with a golden
// file, and checks it against `ostree admin status`.
func (h *testHost) checkStatus(t *testing.T, golden string, names map[string]string, wantBooted, wantRollback string) {
	t.Helper()
	out, _ := h.bootc(t, "status", "--format", "json")
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, out)
	}
	type entry struct {
		Ostree struct {
			Checksum string `json:"checksum"`
		} `json:"ostree"`
	}
	var st struct {
		Status struct {
			Booted   *entry `json:"booted"`
			Rollback *entry `json:"rollback"`
		} `json:"status"`
	}
	_ = json.Unmarshal([]byte(out), &st)
	pretty, _ := json.MarshalIndent(v, "", "  ")
	got := string(pretty)
	for p, n := range h.paths {
		got = strings.ReplaceAll(got, p, n)
	}
	got = normalize(got, names) + "\n"
	path := filepath.Join("testdata", "lifecycle", golden)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: status differs from golden file:\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
	// ostree's own view: the first listed deployment is what boots next.
	admin := h.adminStatus(t)
	first := strings.SplitN(strings.TrimSpace(admin), "\n", 2)[0]
	if st.Status.Booted == nil || !strings.Contains(first, st.Status.Booted.Ostree.Checksum) {
		t.Errorf("bootc's booted (next boot) deployment is not ostree's first:\n%s\n%s", out, admin)
	}
	if wantBooted != "" && !strings.Contains(first, wantBooted) {
		t.Errorf("next boot is not %s:\n%s", wantBooted, admin)
	}
	if wantRollback != "" && !strings.Contains(admin, wantRollback) {
		t.Errorf("rollback %s missing:\n%s", wantRollback, admin)
	}
}

// bootableImage returns a bootable fixture image whose last layer carries the version and a
// kargs.d file.
func bootableImage(version string, kargs ...string) storagetest.ImageSpec {
	base := installtest.TreeLayer("base")
	top := []storagetest.File{
		{Path: "usr/", Type: '5', Mode: 0o755}, {Path: "usr/lib/", Type: '5', Mode: 0o755},
		{Path: "usr/lib/version", Mode: 0o644, Content: []byte(version + "\n")},
		{Path: "etc/", Type: '5', Mode: 0o755},
		{Path: "etc/defaults-" + version + ".conf", Mode: 0o644, Content: []byte("new default in " + version + "\n")},
	}
	if len(kargs) > 0 {
		top = append(top, storagetest.File{Path: "usr/lib/bootc/", Type: '5', Mode: 0o755},
			storagetest.File{Path: "usr/lib/bootc/kargs.d/", Type: '5', Mode: 0o755},
			storagetest.File{Path: "usr/lib/bootc/kargs.d/10-test.toml", Mode: 0o644,
				Content: []byte(`kargs = ["` + strings.Join(kargs, `", "`) + `"]` + "\n")})
	}
	return storagetest.ImageSpec{Layers: [][]storagetest.File{base, top},
		Labels: map[string]string{"containers.bootc": "1", "org.opencontainers.image.version": version}}
}

// TestHostLifecycle walks an offline sysroot through a host's life: v1 deployed from an OCI
// layout, switch to v2 in a registry on 127.0.0.1, an upgrade with nothing new, the tag
// moved to v3 and upgraded, then rollback.
func TestHostLifecycle(t *testing.T) {
	h := newTestHost(t)
	ctx := context.Background()
	reg := storagetest.StartRegistry(t)
	work := t.TempDir()
	conf, err := reg.RegistriesConf(work)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_REGISTRIES_CONF", conf)
	layout := filepath.Join(work, "oci")
	h.paths[layout] = "/LAYOUT"
	v1, err := storagetest.WriteOCI(layout, "v1", bootableImage("1", "console=ttyS0"))
	if err != nil {
		t.Fatal(err)
	}
	push := &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolTrue, BlobInfoCacheDir: filepath.Join(work, "cache")}
	pushAs := func(spec storagetest.ImageSpec, tag string) *storagetest.Image {
		img, err := storagetest.WriteOCI(layout, tag, spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := storagetest.Copy(ctx, img.Reference(), "docker://"+reg.Host()+"/os:latest", push); err != nil {
			t.Fatalf("push: %v\n%s", err, reg.Output())
		}
		return img
	}
	names := map[string]string{}

	// v1 from an OCI layout.
	out, _ := h.bootc(t, "switch", "--quiet", "--transport", "oci", layout+":v1")
	if !strings.Contains(out, "Queued for next boot: ostree-unverified-image:oci:"+layout+":v1") {
		t.Fatalf("switch output:\n%s", out)
	}
	_ = v1
	h.checkStatus(t, "1-v1.json", names, "", "")

	// Switch to v2 from the registry.
	v2 := pushAs(bootableImage("2", "console=ttyS0", "bootc.test=v2"), "v2")
	out, _ = h.bootc(t, "switch", "--quiet", reg.Host()+"/os:latest")
	if !strings.Contains(out, "Digest: "+v2.ManifestDigest.String()) {
		t.Fatalf("switch output lacks v2's digest:\n%s", out)
	}
	h.checkStatus(t, "2-v2.json", names, "", "")

	// Nothing new: no change at all.
	before := h.state(t)
	out, _ = h.bootc(t, "upgrade", "--quiet")
	if strings.TrimSpace(out) != "No update available." {
		t.Fatalf("upgrade output: %q", out)
	}
	if after := h.state(t); after != before {
		t.Fatalf("upgrade with nothing new changed the sysroot:\n%s\n---\n%s", before, after)
	}

	// The tag moves to v3: upgrade deploys it.
	v3 := pushAs(bootableImage("3", "console=ttyS0", "bootc.test=v3"), "v3")
	out, _ = h.bootc(t, "upgrade", "--quiet")
	if !strings.Contains(out, "Digest: "+v3.ManifestDigest.String()) || !strings.Contains(out, "Version: 3") {
		t.Fatalf("upgrade output:\n%s", out)
	}
	h.checkStatus(t, "3-v3.json", names, "", "")

	// Rollback: v2 boots next, v3 becomes the rollback.
	out, _ = h.bootc(t, "rollback")
	if !strings.Contains(out, "Next boot: rollback deployment") {
		t.Fatalf("rollback output:\n%s", out)
	}
	h.checkStatus(t, "4-rollback.json", names, "", "")
	if err := exec.Command("ostree", "fsck", "--repo="+h.sysroot+"/ostree/repo").Run(); err != nil {
		t.Fatalf("fsck: %v", err)
	}
}
