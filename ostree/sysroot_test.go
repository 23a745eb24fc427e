package ostree_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// newSysroot initialises a sysroot with stateroot "default" on a fresh tmpfs.
func newSysroot(t *testing.T) *ostree.Sysroot {
	t.Helper()
	ctx := context.Background()
	dir := ostreetest.TmpfsDir(t, 512)
	sr, err := ostree.OpenSysroot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sr.Close() })
	if err := sr.EnsureInitialized(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sr.InitStateroot(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if err := sr.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return sr
}

// commitTree writes entries to a temporary directory and commits it into the sysroot's repo.
func commitTree(t *testing.T, sr *ostree.Sysroot, ref string, entries []fixtures.Entry) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := fixtures.Write(dir, entries); err != nil {
		t.Fatal(err)
	}
	repo, err := sr.Repo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	csum, err := ostreetest.CommitDir(ctx, repo, dir, ref, ostree.CommitOptions{Subject: ref})
	if err != nil {
		t.Fatal(err)
	}
	return csum
}

func origin(ref string) *ostree.KeyFile {
	kf := &ostree.KeyFile{}
	kf.Set("origin", "container-image-reference", ref)
	return kf
}

// deploy deploys rev with merge as merge deployment and makes it the default.
func deploy(t *testing.T, sr *ostree.Sysroot, rev string, merge *ostree.Deployment, kargs []string) *ostree.Deployment {
	t.Helper()
	ctx := context.Background()
	d, err := sr.DeployTree(ctx, ostree.DeployOptions{
		Stateroot: "default", Revision: rev, Merge: merge, KernelArgs: kargs,
		Origin: origin("ostree-unverified-registry:example.com/os:" + rev[:8]),
	})
	if err != nil {
		t.Fatal(err)
	}
	existing, err := sr.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	if err := sr.WriteDeployments(ctx, append([]*ostree.Deployment{d}, existing...), ostree.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return d
}

// editEtc makes the same local changes to an /etc: a modified file, an added file, an added
// directory, a deleted file, a mode change and a new symlink.
func editEtc(t *testing.T, etc string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(etc, "motd"), []byte("local motd\n"), 0o644))
	must(os.WriteFile(filepath.Join(etc, "local.conf"), []byte("mine\n"), 0o600))
	must(os.MkdirAll(filepath.Join(etc, "local.d/sub"), 0o750))
	must(os.WriteFile(filepath.Join(etc, "local.d/sub/x"), []byte("x\n"), 0o644))
	must(os.Remove(filepath.Join(etc, "app/remove-me.conf")))
	must(os.Chmod(filepath.Join(etc, "hostname"), 0o600))
	must(os.Symlink("motd", filepath.Join(etc, "motd.link")))
}

func TestDeployAndEtcMergeMatchCLI(t *testing.T) {
	requireOstreeCLI(t)
	ctx := context.Background()
	sr := newSysroot(t)
	v1 := commitTree(t, sr, "test/v1", fixtures.BootableTree("1.0"))

	d1 := deploy(t, sr, v1, nil, []string{"root=LABEL=root", "rw", "console=ttyS0"})
	if err := sr.Load(ctx); err != nil {
		t.Fatal(err)
	}
	deps, err := sr.Deployments()
	if err != nil || len(deps) != 1 || deps[0].Checksum != v1 {
		t.Fatalf("deployments after first deploy: %v %v", deps, err)
	}
	if got, _ := deps[0].Origin.Get("origin", "container-image-reference"); !strings.HasPrefix(got, "ostree-unverified-registry:") {
		t.Fatalf("origin not kept: %q", got)
	}
	if deps[0].BootOptions == "" || !strings.Contains(deps[0].BootOptions, "console=ttyS0") {
		t.Fatalf("boot options: %q", deps[0].BootOptions)
	}

	// Boot entry, kernel and initramfs in boot/.
	entries, _ := filepath.Glob(filepath.Join(sr.Path(), "boot/loader/entries/*.conf"))
	if len(entries) != 1 {
		t.Fatalf("want one BLS entry, got %v", entries)
	}
	bls, _ := os.ReadFile(entries[0])
	for _, want := range []string{"linux /ostree/default-", "vmlinuz-" + fixtures.Kernel, "initrd /ostree/default-", "initramfs-" + fixtures.Kernel, "options ", "console=ttyS0", "ostree=/ostree/boot."} {
		if !bytes.Contains(bls, []byte(want)) {
			t.Errorf("BLS entry lacks %q:\n%s", want, bls)
		}
	}
	for _, pat := range []string{"boot/ostree/default-*/vmlinuz-" + fixtures.Kernel, "boot/ostree/default-*/initramfs-" + fixtures.Kernel + ".img"} {
		if m, _ := filepath.Glob(filepath.Join(sr.Path(), pat)); len(m) != 1 {
			t.Errorf("missing %s", pat)
		}
	}
	status := ostreetest.CLI(t, "admin", "--sysroot="+sr.Path(), "status")
	if !strings.Contains(status, "default "+v1+".0") {
		t.Fatalf("ostree admin status does not list the deployment:\n%s", status)
	}

	// Twin sysroot deployed by the ostree CLI from the same commits.
	twin := ostreetest.TmpfsDir(t, 512)
	ostreetest.CLI(t, "admin", "init-fs", "--modern", twin)
	ostreetest.CLI(t, "admin", "--sysroot="+twin, "os-init", "default")
	ostreetest.CLI(t, "--repo="+twin+"/ostree/repo", "pull-local", filepath.Join(sr.Path(), "ostree/repo"), v1)
	ostreetest.CLI(t, "admin", "--sysroot="+twin, "deploy", "--os=default", "--karg=root=LABEL=root", v1)

	ourEtc := filepath.Join(sr.DeploymentPath(d1), "etc")
	twinEtc := filepath.Join(twin, "ostree/deploy/default/deploy", v1+".0", "etc")
	editEtc(t, ourEtc)
	editEtc(t, twinEtc)

	// v2 changes defaults: motd (locally modified: local wins), app.conf (untouched: new
	// default), a new file, and removes nothing that is locally kept.
	v2Tree := fixtures.BootableTree("2.0")
	v2Tree = append(v2Tree, fixtures.Entry{Path: "usr/etc/new-default.conf", Kind: fixtures.File, Mode: 0o644, Content: []byte("new\n")})
	v2 := commitTree(t, sr, "test/v2", v2Tree)
	ostreetest.CLI(t, "--repo="+twin+"/ostree/repo", "pull-local", filepath.Join(sr.Path(), "ostree/repo"), v2)

	d2 := deploy(t, sr, v2, d1, nil)
	ostreetest.CLI(t, "admin", "--sysroot="+twin, "deploy", "--os=default", v2)

	ours := snapshotTree(t, filepath.Join(sr.DeploymentPath(d2), "etc"))
	theirs := snapshotTree(t, filepath.Join(twin, "ostree/deploy/default/deploy", v2+".0", "etc"))
	if diff := diffSnapshots(ours, theirs); diff != "" {
		t.Fatalf("/etc after merge differs from ostree admin deploy:\n%s", diff)
	}
	// Sanity: the merge did what it should.
	for path, want := range map[string]string{"motd": "local motd\n", "app/app.conf": "setting=2.0\n", "new-default.conf": "new\n", "version": "2.0\n", "local.d/sub/x": "x\n"} {
		if got := ours[path]; !strings.Contains(got, fmt.Sprintf("%q", want)) {
			t.Errorf("%s: %s, want content %q", path, got, want)
		}
	}
	if _, ok := ours["app/remove-me.conf"]; ok {
		t.Error("locally deleted file came back")
	}

	// Both deployments listed, new one first, and the kernel arguments carried over.
	if err := sr.Load(ctx); err != nil {
		t.Fatal(err)
	}
	deps, _ = sr.Deployments()
	if len(deps) != 2 || deps[0].Checksum != v2 || deps[1].Checksum != v1 {
		t.Fatalf("deployments: %+v", deps)
	}
	if !strings.Contains(deps[0].BootOptions, "console=ttyS0") {
		t.Errorf("kernel arguments not carried from the merge deployment: %q", deps[0].BootOptions)
	}
	if m := sr.MergeDeployment("default"); m == nil || m.Checksum != v2 {
		t.Errorf("merge deployment: %+v", m)
	}
	status = ostreetest.CLI(t, "admin", "--sysroot="+sr.Path(), "status")
	if !strings.Contains(status, v2+".0") || !strings.Contains(status, v1+".0") {
		t.Fatalf("ostree admin status:\n%s", status)
	}
	ostreetest.CLI(t, "--repo="+sr.Path()+"/ostree/repo", "fsck")

	// WriteOrigin replaces the origin file on disk and in the loaded deployment.
	newOrigin := origin("test/other")
	if err := sr.WriteOrigin(ctx, deps[0], newOrigin); err != nil {
		t.Fatal(err)
	}
	newOrigin.Set("origin", "container-image-reference", "edited-after-the-write")
	originFile := filepath.Join(sr.Path(), "ostree/deploy/default/deploy", v2+".0.origin")
	if b, err := os.ReadFile(originFile); err != nil || !strings.Contains(string(b), "container-image-reference=test/other\n") {
		t.Errorf("origin file after WriteOrigin: %q, %v", b, err)
	}
	if err := sr.Load(ctx); err != nil {
		t.Fatal(err)
	}
	deps, _ = sr.Deployments()
	if v, _ := deps[0].Origin.Get("origin", "container-image-reference"); v != "test/other" {
		t.Errorf("reloaded origin image reference = %q, want test/other", v)
	}

	// Rollback by reordering, then cleanup removes nothing still listed.
	if err := sr.WriteDeployments(ctx, []*ostree.Deployment{deps[1], deps[0]}, ostree.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	deps, _ = sr.Deployments()
	if deps[0].Checksum != v1 {
		t.Fatalf("rollback did not reorder: %+v", deps)
	}
	if err := sr.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sr.DeploymentPath(d2)); err != nil {
		t.Fatalf("cleanup removed a listed deployment: %v", err)
	}
}

// snapshotTree describes every path under root: type, mode, owner, and content or target.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o uid=%d gid=%d", st.Mode, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" content=%q", b)
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			desc += " target=" + target
		}
		xattrs, err := ostreetest.ReadXattrs(p)
		if err != nil {
			return err
		}
		for _, x := range xattrs {
			desc += fmt.Sprintf(" xattr:%s=%q", x.Name, x.Value)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffSnapshots(a, b map[string]string) string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out strings.Builder
	for _, k := range sorted {
		if a[k] != b[k] {
			fmt.Fprintf(&out, "%s:\n  ours:   %s\n  ostree: %s\n", k, a[k], b[k])
		}
	}
	return out.String()
}

func TestSysrootLock(t *testing.T) {
	ostreetest.RequireRoot(t)
	sr := newSysroot(t)
	other, err := ostree.OpenSysroot(sr.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	if got, err := sr.TryLock(); err != nil || !got {
		t.Fatalf("TryLock = %v %v", got, err)
	}
	if got, err := other.TryLock(); err != nil || got {
		t.Fatalf("second TryLock = %v %v, want false", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	waited := false
	err = other.Lock(ctx, func() { waited = true })
	if !errors.Is(err, ostree.ErrLocked) || !errors.Is(err, context.DeadlineExceeded) || !waited {
		t.Fatalf("Lock on a held lock = %v (waited %v)", err, waited)
	}
	sr.Unlock()
	if err := other.Lock(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// Close releases the lock.
	other.Close()
	if got, err := sr.TryLock(); err != nil || !got {
		t.Fatalf("TryLock after the holder closed = %v %v", got, err)
	}
}

func TestDeployErrors(t *testing.T) {
	ostreetest.RequireRoot(t)
	ctx := context.Background()
	sr := newSysroot(t)
	_, err := sr.DeployTree(ctx, ostree.DeployOptions{Stateroot: "default", Revision: strings.Repeat("0", 64)})
	if err == nil {
		t.Fatal("want an error deploying a missing commit")
	}
	if _, err = sr.DeployTree(ctx, ostree.DeployOptions{Stateroot: "default", Revision: "no/such/ref"}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want fs.ErrNotExist deploying a missing ref, got %v", err)
	}
	v1 := commitTree(t, sr, "test/v1", fixtures.BootableTree("1.0"))
	if _, err = sr.DeployTree(ctx, ostree.DeployOptions{Stateroot: "nosuchstateroot", Revision: v1}); err == nil {
		t.Fatal("want an error for a missing stateroot")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := sr.Load(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if _, err := ostree.OpenSysroot(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want fs.ErrNotExist, got %v", err)
	}
}

func TestCheckNotRootFS(t *testing.T) {
	if err := ostreetest.CheckNotRootFS("/"); err == nil {
		t.Fatal("the root filesystem must be refused")
	}
	if err := ostreetest.CheckNotRootFS(os.TempDir()); err == nil {
		var a, b unix.Stat_t
		_ = unix.Stat("/", &a)
		_ = unix.Stat(os.TempDir(), &b)
		if a.Dev == b.Dev {
			t.Fatal("a directory on the root filesystem must be refused")
		}
	}
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestNoFDLeak(t *testing.T) {
	ostreetest.RequireRoot(t)
	ctx := context.Background()
	sr := newSysroot(t)
	repoPath := filepath.Join(sr.Path(), "ostree/repo")
	cycle := func() {
		r, err := ostree.OpenRepo(ctx, repoPath)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.ListRefs(ctx, ""); err != nil {
			t.Fatal(err)
		}
		r.Close()
		s, err := ostree.OpenSysroot(sr.Path())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.TryLock(); err != nil || !ok {
			t.Fatalf("TryLock = %v %v", ok, err)
		}
		s.Close()
	}
	cycle() // warm up lazily opened GLib descriptors
	before := openFDs(t)
	for range 1000 {
		cycle()
	}
	if after := openFDs(t); after != before {
		t.Fatalf("open file descriptors: %d before, %d after 1000 open/close cycles", before, after)
	}
}

// TestUnloadedSysroot is audit L5: libostree asserts (aborts the process, or logs a
// GLib-CRITICAL and returns NULL) when the deployment accessors run before Load; the
// bindings return ErrNotLoaded instead.
func TestUnloadedSysroot(t *testing.T) {
	ostreetest.RequireRoot(t)
	dir := ostreetest.TmpfsDir(t, 64)
	sr, err := ostree.OpenSysroot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	if err := sr.EnsureInitialized(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := sr.Deployments(); !errors.Is(err, ostree.ErrNotLoaded) {
		t.Errorf("Deployments: %v, want ErrNotLoaded", err)
	}
	if _, err := sr.PruneRepo(context.Background()); !errors.Is(err, ostree.ErrNotLoaded) {
		t.Errorf("PruneRepo: %v, want ErrNotLoaded", err)
	}
	if err := sr.PrepareCleanup(context.Background()); !errors.Is(err, ostree.ErrNotLoaded) {
		t.Errorf("PrepareCleanup: %v, want ErrNotLoaded", err)
	}
	if err := sr.WriteDeployments(context.Background(), nil, ostree.WriteOptions{}); !errors.Is(err, ostree.ErrNotLoaded) {
		t.Errorf("WriteDeployments: %v, want ErrNotLoaded", err)
	}
	if d := sr.Booted(); d != nil {
		t.Errorf("Booted: %v", d)
	}
	if d := sr.MergeDeployment("default"); d != nil {
		t.Errorf("MergeDeployment: %v", d)
	}
	if err := sr.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := sr.Deployments(); err != nil {
		t.Errorf("Deployments after Load: %v", err)
	}
}
