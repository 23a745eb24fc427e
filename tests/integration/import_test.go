package integration

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

func (e *env) fetch(t *testing.T, ref string, mutate func(*deploy.FetchOptions)) (*deploy.Fetched, error) {
	t.Helper()
	r, err := imgref.Parse(ref)
	if err != nil {
		return nil, err
	}
	opts := deploy.FetchOptions{
		Pull:   storage.PullOptions{SignaturePolicy: e.policy},
		Import: importer.Options{Rules: importer.DefaultRules()},
	}
	if mutate != nil {
		mutate(&opts)
	}
	return deploy.Fetch(context.Background(), e.store, e.repo, r, opts)
}

// flattenWithPodman pulls the image with podman into its own store, mounts it, copies the
// merged tree to a new directory and applies the importer's path rules to the copy.
func flattenWithPodman(t *testing.T, ref, policy string) string {
	t.Helper()
	work := t.TempDir()
	root, runroot := filepath.Join(work, "root"), shortDir(t)
	podman := func(args ...string) string {
		return strings.TrimSpace(run(t, "podman", append([]string{"--root", root, "--runroot", runroot,
			"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "none"}, args...)...))
	}
	t.Cleanup(func() {
		_ = exec.Command("podman", "--root", root, "--runroot", runroot, "--storage-driver", "overlay",
			"image", "unmount", "--all", "--force").Run()
	})
	podman("pull", "-q", "--signature-policy", policy, ref)
	id := podman("images", "-q", "--no-trunc")
	mnt := podman("image", "mount", strings.Split(id, "\n")[0])
	flat := filepath.Join(work, "flat")
	if err := os.Mkdir(flat, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "cp", "-a", mnt+"/.", flat+"/")
	podman("image", "unmount", "--all", "--force")
	applyRules(t, flat)
	return flat
}

// applyRules rewrites a flattened image as the importer's rules say: etc -> usr/etc,
// var content -> usr/share/factory/var (an empty var stays), children of tmp, run, proc,
// sys, dev dropped, empty usr/etc/hostname and resolv.conf removed.
func applyRules(t *testing.T, flat string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Lstat(filepath.Join(flat, "etc")); err == nil {
		must(os.Rename(filepath.Join(flat, "etc"), filepath.Join(flat, "usr/etc")))
	}
	if importer.DefaultRules().VarToFactory {
		if st, err := os.Lstat(filepath.Join(flat, "var")); err == nil {
			must(os.MkdirAll(filepath.Join(flat, "usr/share/factory"), 0o755))
			must(os.Rename(filepath.Join(flat, "var"), filepath.Join(flat, "usr/share/factory/var")))
			must(os.Mkdir(filepath.Join(flat, "var"), st.Mode().Perm()))
			sys := st.Sys().(*syscall.Stat_t)
			must(os.Lchown(filepath.Join(flat, "var"), int(sys.Uid), int(sys.Gid)))
		}
	}
	// The layers have no entry for the root directory: the importer gives it 0755 root:root
	// as ostree does; containers-storage leaves its own mount point's mode.
	must(os.Chmod(flat, 0o755))
	must(os.Lchown(flat, 0, 0))
	for _, d := range []string{"tmp", "run", "proc", "sys", "dev"} {
		ents, _ := os.ReadDir(filepath.Join(flat, d))
		for _, e := range ents {
			must(os.RemoveAll(filepath.Join(flat, d, e.Name())))
		}
	}
	for _, f := range []string{"hostname", "resolv.conf"} {
		p := filepath.Join(flat, "usr/etc", f)
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
			must(os.Remove(p))
		}
	}
}

// TestImportMatchesFlattenedImage is the differential test: the image commit equals
// `ostree commit --tree=dir=` of the same image flattened by podman.
func TestImportMatchesFlattenedImage(t *testing.T) {
	requireTools(t, "podman", "ostree", "cp")
	e := newEnv(t)
	img := writeImage(t, filepath.Join(shortDir(t), "oci"), "v1", storagetest.ImageSpec{Layers: richLayers()})
	f, err := e.fetch(t, "ostree-unverified-image:"+img.Reference(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Import.Imported != 3 {
		t.Fatalf("imported %d layers, want 3", f.Import.Imported)
	}

	flat := flattenWithPodman(t, img.Reference(), e.policy)
	run(t, "ostree", "--repo="+e.repo.Path(), "commit", "--branch=flattened", "--tree=dir="+flat)
	ours, err := e.repo.ReadCommit(context.Background(), f.Import.Commit)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := e.repo.ReadCommit(context.Background(), "flattened")
	if err != nil {
		t.Fatal(err)
	}
	if ours.RootContents != theirs.RootContents || ours.RootMeta != theirs.RootMeta {
		a := run(t, "ostree", "--repo="+e.repo.Path(), "ls", "-R", "-C", "-X", f.Import.Commit)
		b := run(t, "ostree", "--repo="+e.repo.Path(), "ls", "-R", "-C", "-X", "flattened")
		t.Fatalf("image commit differs from the podman-flattened tree:\n%s", ostreetest.LineDiff(a, b))
	}
	run(t, "ostree", "--repo="+e.repo.Path(), "fsck")
}

// TestDerivedImageFromPodmanStore builds a derived image with podman into the same store and
// imports it through containers-storage: — its base layers are neither fetched nor stored
// again.
func TestDerivedImageFromPodmanStore(t *testing.T) {
	requireTools(t, "podman")
	e := newEnv(t)
	ctx := context.Background()
	img := writeImage(t, filepath.Join(t.TempDir(), "oci"), "base", storagetest.ImageSpec{Layers: richLayers()})
	base, err := e.fetch(t, "ostree-unverified-image:"+img.Reference(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The store keeps what is deployed (rebuilt from the repository): podman builds on it.
	stored, _, err := deploy.KeepInStore(ctx, e.store, e.repo, base, importer.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	baseName := stored.Names[0]

	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "derived.conf"), []byte("derived\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cf := fmt.Sprintf("FROM %s\nCOPY derived.conf /usr/share/derived.conf\nLABEL org.opencontainers.image.version=derived\n", baseName)
	if err := os.WriteFile(filepath.Join(ctxDir, "Containerfile"), []byte(cf), 0o644); err != nil {
		t.Fatal(err)
	}
	layersBefore := countLayers(t, e.root)
	run(t, "podman", "--root", e.root, "--runroot", e.runRoot, "--storage-driver", "overlay",
		"--cgroup-manager", "cgroupfs", "--events-backend", "none",
		"build", "--isolation=chroot", "--pull=never", "--signature-policy", e.policy, "-q",
		"-t", "localhost/derived:latest", "-f", filepath.Join(ctxDir, "Containerfile"), ctxDir)
	if got := countLayers(t, e.root); got != layersBefore+1 {
		t.Fatalf("podman build stored %d new layers, want 1", got-layersBefore)
	}

	derived, err := e.fetch(t, "ostree-unverified-image:containers-storage:localhost/derived:latest", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := derived.Report; !r.InPlace || r.BytesFetched != 0 || r.LayersFetched != 0 {
		t.Fatalf("containers-storage image was not read in place: %+v", r)
	}
	if got := countLayers(t, e.root); got != layersBefore+1 {
		t.Fatalf("import stored %d more layers in the store", got-layersBefore-1)
	}
	if derived.Report.LayersFromStore != 1 {
		t.Errorf("derived layer: %d layers imported from the store, want 1", derived.Report.LayersFromStore)
	}
	if derived.Import.Reused != 3 || derived.Import.Imported != 1 {
		t.Fatalf("derived import: %d layers reused, %d imported; want 3 and 1", derived.Import.Reused, derived.Import.Imported)
	}
	if !reflect.DeepEqual(derived.Import.LayerCommits[:3], base.Import.LayerCommits) {
		t.Fatalf("base layer commits not shared:\n%v\n%v", derived.Import.LayerCommits, base.Import.LayerCommits)
	}
	mt, err := e.repo.NewMutableTreeFromCommit(derived.Import.Commit)
	if err != nil {
		t.Fatal(err)
	}
	defer mt.Close()
	share, err := mt.Walk([]string{"usr", "share"})
	if err != nil {
		t.Fatal(err)
	}
	defer share.Close()
	if files, err := share.Files(); err != nil {
		t.Fatal(err)
	} else if _, ok := files["derived.conf"]; !ok {
		t.Fatal("derived file missing from the image commit")
	}
	_ = ctx
}

// countLayers counts the layers in a store's overlay layer list.
func countLayers(t *testing.T, root string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, "overlay"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if e.IsDir() && e.Name() != "l" && e.Name() != "staging" { // not layers: link names, staged layers
			n++
		}
	}
	return n
}
