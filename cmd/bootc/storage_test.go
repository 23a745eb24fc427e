package main

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/install/installtest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// updateSlack is what an update may fetch besides its new layer and config: manifests and
// protocol overhead (issue 9's bound).
const updateSlack = 64 << 10

// v1v2 is a bootable image v1 and v2 = v1 plus one small layer, pushed to r.
func v1v2(t *testing.T, r *testRegistry) (v1, v2 *storagetest.Image) {
	t.Helper()
	base := storagetest.ImageSpec{Layers: [][]storagetest.File{installtest.BaseLayer("1"), {
		dir("usr"), dir("usr/share"), dir("usr/share/data"),
		{Path: "usr/share/data/blob", Mode: 0o644, Content: storagetest.Bytes("v1 data", 2<<20)},
	}}, Labels: map[string]string{"containers.bootc": "1", "org.opencontainers.image.version": "1"}}
	v1 = r.push(t, base, "v1")
	next := base
	next.Layers = append(append([][]storagetest.File{}, base.Layers...), []storagetest.File{
		dir("usr"), dir("usr/lib"), {Path: "usr/lib/v2-marker", Mode: 0o644, Content: []byte("2\n")},
	})
	next.Labels = map[string]string{"containers.bootc": "1", "org.opencontainers.image.version": "2"}
	v2 = r.push(t, next, "v2")
	return v1, v2
}

// checkUpdateBytes checks that what the registry served since its last reset is at most
// v2's new layer, its config and updateSlack, and that no v1 layer was served.
func checkUpdateBytes(t *testing.T, r *testRegistry, v1, v2 *storagetest.Image) {
	t.Helper()
	newLayer := v2.Layers[len(v2.Layers)-1]
	var served int64
	for d, st := range r.reg.Counter.Blobs() {
		served += st.Bytes
		for _, l := range v1.Layers {
			if l.Digest == d {
				t.Errorf("v1's layer %s was fetched again (%d bytes)", d, st.Bytes)
			}
		}
	}
	limit := newLayer.Size + int64(len(v2.Config)) + updateSlack
	if served > limit {
		t.Errorf("the update fetched %d bytes; at most %d allowed (new layer %d + config %d + %d)",
			served, limit, newLayer.Size, len(v2.Config), updateSlack)
	}
	t.Logf("update: %d bytes served (new layer %d, config %d)", served, newLayer.Size, len(v2.Config))
}

// TestUpdateFetchesOnlyTheNewLayer switches a sysroot holding v1 to v2 (v1 plus one small
// layer) from a local registry that counts what it serves: only v2's new layer and config
// are fetched, whether v1 came from `bootc install`, from the ostree CLI the way upstream
// bootc deploys, or the store was reset with `podman system reset` in between.
func TestUpdateFetchesOnlyTheNewLayer(t *testing.T) {
	r := startRegistry(t)
	v1, v2 := v1v2(t, r)

	t.Run("installed with bootc install", func(t *testing.T) {
		e := newInstallEnv(t)
		diskPath := installtest.SparseFile(t, 2*disk.GiB)
		if code, out, errs := runBootc(t, "--storage-root", e.storage, "install", "to-disk", "--via-loopback",
			"--source-imgref", "docker://"+r.name("v1"), "--filesystem", "ext4", "--bootloader", "none", diskPath); code != 0 {
			t.Fatalf("install: exit %d\n%s\n%s", code, out, errs)
		}
		root := installtest.MountInstalled(t, diskPath)
		t.Cleanup(func() { removeStore(t, storage.SysrootStoreRoot(root, "default")) })
		r.reg.Counter.Reset()
		// No --storage-root: the installed system's own store is used.
		if code, out, errs := bootc(t, "--sysroot", root, "switch", r.name("v2")); code != 0 {
			t.Fatalf("switch: exit %d\n%s\n%s", code, out, errs)
		}
		checkUpdateBytes(t, r, v1, v2)
	})

	t.Run("deployed by the ostree CLI", func(t *testing.T) {
		h := newTestHost(t)
		h.deployLayersWithCLI(t, "ostree-unverified-registry:"+r.name("v1"), v1)
		r.reg.Counter.Reset()
		h.bootc(t, "switch", r.name("v2"))
		checkUpdateBytes(t, r, v1, v2)
	})

	t.Run("after podman system reset", func(t *testing.T) {
		h := newTestHost(t)
		h.bootc(t, "switch", r.name("v1"))
		podmanReset(t, h.storage)
		r.reg.Counter.Reset()
		out, _ := h.bootc(t, "switch", r.name("v2"))
		checkUpdateBytes(t, r, v1, v2)
		newLayer := v2.Layers[len(v2.Layers)-1]
		if want := "Fetched 1 layers (" + strconv.FormatInt(newLayer.Size, 10) + " B), 0 from containers-storage, 2 already present"; !strings.Contains(out, want) {
			t.Errorf("switch output does not say %q:\n%s", want, out)
		}
	})
}

// podmanReset runs `podman system reset` on the store at root.
func podmanReset(t *testing.T, root string) {
	t.Helper()
	removeMounts(t, root)
	out, err := exec.Command("podman", "--root", root, "--runroot", storage.DerivedRunRoot(root),
		"--storage-driver", "overlay", "system", "reset", "--force").CombinedOutput()
	if err != nil {
		t.Fatalf("podman system reset: %v\n%s", err, out)
	}
}

// removeMounts unmounts what is mounted below dir (an idle store's overlay bind mount).
func removeMounts(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) > 1 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			if err := syscall.Unmount(f[1], syscall.MNT_DETACH); err != nil {
				t.Fatalf("unmounting %s: %v", f[1], err)
			}
		}
	}
}

// deployLayersWithCLI imports img's layers with `ostree commit --tree=tar=` under
// upstream's blob refs, commits the flattened tree under the image ref with upstream's
// metadata, and deploys it with `ostree admin deploy` and upstream's origin: a host that
// upstream bootc (ostree-ext) installed, as far as refs, metadata and origin go.
func (h *testHost) deployLayersWithCLI(t *testing.T, ref string, img *storagetest.Image) {
	t.Helper()
	r, err := imgref.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	repo := "--repo=" + h.sysroot + "/ostree/repo"
	ostree := func(args ...string) string {
		out, err := exec.Command("ostree", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	work := t.TempDir()
	var layerRefs []string
	for i, l := range img.Layers {
		tarPath := filepath.Join(work, "layer"+strconv.Itoa(i)+".tar")
		if err := os.WriteFile(tarPath, l.Tar, 0o644); err != nil {
			t.Fatal(err)
		}
		ref := imgref.BlobRef(l.Digest.String())
		ostree("commit", repo, "--branch="+ref, "--tree=tar="+tarPath, "--tar-autocreate-parents",
			"--tar-pathname-filter=^etc,usr/etc", "--no-bindings")
		layerRefs = append(layerRefs, ref)
	}
	// The image commit: the layers checked out on top of each other (whiteouts applied).
	tree := filepath.Join(work, "tree")
	for _, ref := range layerRefs {
		ostree("checkout", repo, "--union", "--whiteouts", "-U", ref, tree)
	}
	ostree("commit", repo, "--branch="+imgref.ImageRef(r.Imgref), "--tree=dir="+tree, "--no-bindings",
		"--add-metadata-string=ostree.manifest-digest="+img.ManifestDigest.String(),
		"--add-metadata-string=ostree.manifest="+string(img.Manifest),
		"--add-metadata-string=ostree.container.image-config="+string(img.Config))
	origin := filepath.Join(work, "origin")
	if err := os.WriteFile(origin, []byte("[origin]\ncontainer-image-reference="+ref+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ostree("admin", "deploy", "--sysroot="+h.sysroot, "--os=default", "--origin-file="+origin,
		"--karg=root=LABEL=root", imgref.ImageRef(r.Imgref))
}

// TestStoreSharesFilesWithRepo switches a sysroot whose store is on the sysroot's
// filesystem (as on a booted host): repo plus store take at most 1.1 times the image's file
// bytes; bootc's prune leaves an image podman built in the same store alone; after `podman
// rmi` of bootc's images the repository is still valid and the deployment intact.
func TestStoreSharesFilesWithRepo(t *testing.T) {
	h := newTestHost(t)
	h.storage = storage.SysrootStoreRoot(h.sysroot, "default")
	t.Cleanup(func() { removeStore(t, h.storage) })
	podman := func(args ...string) string { return h.podman(t, args...) }
	buildCtx := t.TempDir()
	for name, content := range map[string]string{"Containerfile": "FROM scratch\nCOPY hello /hello\n", "hello": "hello from podman\n"} {
		if err := os.WriteFile(filepath.Join(buildCtx, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	podman("build", "--isolation=chroot", "-q", "-t", "localhost/mine", buildCtx)

	big := []storagetest.File{dir("usr"), dir("usr/share"), dir("usr/share/big")}
	for i := range 8 {
		c := storagetest.Bytes("big"+strconv.Itoa(i), 1<<20)
		big = append(big, storagetest.File{Path: "usr/share/big/f" + strconv.Itoa(i), Mode: 0o644, Content: c})
	}
	spec := storagetest.ImageSpec{Layers: [][]storagetest.File{installtest.BaseLayer("1"), big},
		Labels: map[string]string{"containers.bootc": "1"}}
	var fileBytes int64
	for _, l := range spec.Layers {
		for _, f := range l {
			if f.Type == 0 || f.Type == tar.TypeReg {
				fileBytes += int64(len(f.Content))
			}
		}
	}
	layout := filepath.Join(t.TempDir(), "oci")
	h.bootc(t, "switch", "--transport", "oci", writeOCI(t, layout, "v1", spec))
	if imgs := strings.Fields(podman("images", "-q")); len(imgs) != 2 {
		t.Errorf("podman lists %d images, want 2 (its own and the one switched to): %v", len(imgs), imgs)
	}
	used := duBytes(t, filepath.Join(h.sysroot, "ostree/repo"), h.storage)
	if float64(used) > 1.1*float64(fileBytes)+metadataAllowance {
		t.Errorf("repo + store use %d bytes for %d bytes of files (%.2f×)", used, fileBytes, float64(used)/float64(fileBytes))
	}
	t.Logf("repo + store: %d bytes for %d bytes of files (%.2f×)", used, fileBytes, float64(used)/float64(fileBytes))

	// A second switch prunes: podman's own image stays.
	spec2 := withFiles(spec, file("usr/share/v2", "2"))
	h.bootc(t, "switch", "--transport", "oci", writeOCI(t, layout, "v2", spec2))
	mnt := podman("image", "mount", "localhost/mine")
	if got := readFile(t, filepath.Join(mnt, "hello")); got != "hello from podman\n" {
		t.Errorf("podman's image after bootc's prune: /hello = %q", got)
	}
	podman("image", "unmount", "--all", "--force")

	// podman rmi of everything bootc put there: the repository and the deployment stay whole.
	dep := h.deployDir(h.status(t).Status.Booted)
	want := readFile(t, filepath.Join(dep, "usr/share/big/f3"))
	podman("rmi", "--all", "--force")
	h.fsck(t)
	if got := readFile(t, filepath.Join(dep, "usr/share/big/f3")); got != want {
		t.Error("a deployed file changed after podman rmi")
	}
}

// podman runs podman on the test host's store and returns its trimmed output.
func (h *testHost) podman(t *testing.T, args ...string) string {
	t.Helper()
	removeMounts(t, h.storage)
	out, err := exec.Command("podman", append([]string{"--root", h.storage, "--runroot", storage.DerivedRunRoot(h.storage),
		"--storage-driver", "overlay"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// metadataAllowance is what the repo and store may use beyond 1.1× the file bytes of a
// small test image: directory blocks, dirtree/dirmeta/commit objects, store metadata.
const metadataAllowance = 1 << 20

// duBytes is du's total for paths together (a hardlinked inode counted once).
func duBytes(t *testing.T, paths ...string) int64 {
	t.Helper()
	out, err := exec.Command("du", append([]string{"-s", "-B1", "-c"}, paths...)...).Output()
	if err != nil {
		t.Fatalf("du: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		t.Fatalf("du: %q", out)
	}
	return n
}

// TestCorruptStoreLayerFetchedAgain truncates a file of a layer that containers-storage
// holds (as a power cut during a pull leaves it) and that the repository lacks: the upgrade
// imports from the store, finds the diff ID wrong, drops the store's layer and fetches it
// from the registry instead.
func TestCorruptStoreLayerFetchedAgain(t *testing.T) {
	r := startRegistry(t)
	v1, v2 := v1v2(t, r)
	h := newTestHost(t)
	if err := storagetest.Copy(t.Context(), v1.Reference(), "docker://"+r.name("latest"), r.sys); err != nil {
		t.Fatal(err)
	}
	h.bootc(t, "switch", r.name("latest"))
	if err := storagetest.Copy(t.Context(), v2.Reference(), "docker://"+r.name("latest"), r.sys); err != nil {
		t.Fatal(err)
	}
	// podman (here skopeo) pulls v2 into the same store; then its new layer loses a file's
	// content.
	removeMounts(t, h.storage)
	dest := "containers-storage:[overlay@" + h.storage + "+" + storage.DerivedRunRoot(h.storage) + "]" + r.name("latest")
	if out, err := exec.Command("skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://"+r.name("latest"), dest).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	marks, _ := filepath.Glob(filepath.Join(h.storage, "overlay/*/diff/usr/lib/v2-marker"))
	if len(marks) != 1 {
		t.Fatalf("store files of v2's new layer: %v", marks)
	}
	if err := os.Truncate(marks[0], 0); err != nil {
		t.Fatal(err)
	}
	r.reg.Counter.Reset()
	out, errs := h.bootc(t, "upgrade")
	newLayer := v2.Layers[len(v2.Layers)-1]
	if st := r.reg.Counter.Blob(newLayer.Digest); st.Bytes != newLayer.Size {
		t.Errorf("the corrupt layer's blob: %d bytes fetched, want %d\nstdout:\n%s\nstderr:\n%s", st.Bytes, newLayer.Size, out, errs)
	}
	if got := readFile(t, filepath.Join(h.deployDir(h.status(t).Status.Booted), "usr/lib/v2-marker")); got != "2\n" {
		t.Errorf("deployed v2-marker = %q", got)
	}
	h.fsck(t)
}

// TestSysrootCacheAndPodmanSource switches an offline sysroot (no --storage-root) to an
// image of the host's podman store (storage.conf's, here a temporary one): the image is read
// from that store (not from the sysroot's cache, where it is not), and the sysroot's own
// cache (its stateroot's /var/lib/containers/storage) then holds it, its files hardlinked
// with the repository's.
func TestSysrootCacheAndPodmanSource(t *testing.T) {
	h := newTestHost(t)
	work := t.TempDir()
	graph, run := filepath.Join(work, "host-storage"), filepath.Join(work, "host-run")
	conf := filepath.Join(work, "storage.conf")
	if err := os.WriteFile(conf, []byte("[storage]\ndriver = \"overlay\"\ngraphroot = \""+graph+"\"\nrunroot = \""+run+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_STORAGE_CONF", conf)
	t.Cleanup(func() { removeStore(t, graph); removeStore(t, run) })
	layout := filepath.Join(work, "oci")
	spec := storagetest.ImageSpec{Layers: [][]storagetest.File{installtest.BaseLayer("1"),
		{dir("usr"), dir("usr/share"), {Path: "usr/share/podman-built", Mode: 0o644, Content: []byte("built\n")}}},
		Labels: map[string]string{"containers.bootc": "1"}}
	if out, err := exec.Command("skopeo", "copy", "--quiet", "oci:"+writeOCI(t, layout, "v1", spec),
		"containers-storage:[overlay@"+graph+"+"+run+"]localhost/mine:v1").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	removeMounts(t, graph)
	cache := storage.SysrootStoreRoot(h.sysroot, "default")
	t.Cleanup(func() { removeStore(t, cache) })
	code, out, errs := runBootc(t, "--sysroot", h.sysroot, "switch", "--transport", "containers-storage", "localhost/mine:v1")
	if code != 0 {
		t.Fatalf("switch: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "Fetched 2 layers (") {
		t.Errorf("switch output:\n%s", out)
	}
	marks, _ := filepath.Glob(filepath.Join(cache, "overlay/*/diff/usr/share/podman-built"))
	if len(marks) != 1 {
		t.Fatalf("the sysroot's cache does not hold the image's layer: %v", marks)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(marks[0], &st); err != nil || st.Nlink < 2 {
		t.Errorf("%s: %d links, want it shared with the repository (err %v)", marks[0], st.Nlink, err)
	}
}

// TestRerunRestoresStore leaves the store as a bootc killed while it wrote the store after
// deploying leaves it (the image missing, a staging directory of the half-written layer
// left): the rerun, which finds the deployment in place and nothing to fetch, puts the
// image back into the store and removes the staging directory.
func TestRerunRestoresStore(t *testing.T) {
	spec := storagetest.ImageSpec{Layers: [][]storagetest.File{installtest.BaseLayer("1"), {
		dir("usr"), dir("usr/share"), file("usr/share/data", "kept"),
	}}, Labels: map[string]string{"containers.bootc": "1"}}
	for _, c := range []struct {
		name  string
		rerun []string // nil: the switch again
		want  string
	}{
		{name: "switch", want: "Image specification is unchanged."},
		{name: "upgrade", rerun: []string{"upgrade"}, want: "No update available."},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newTestHost(t)
			ref := writeOCI(t, filepath.Join(t.TempDir(), "oci"), "cur", spec)
			sw := []string{"switch", "--transport", "oci", ref}
			h.bootc(t, sw...)
			digest := h.status(t).Status.Booted.Image.ImageDigest
			ctx := t.Context()
			s, err := storage.Open(ctx, storage.Options{Root: h.storage})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, storedImage(t, s, digest)); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			staging := filepath.Join(h.storage, "overlay/staging/4242")
			if err := os.MkdirAll(filepath.Join(staging, "dir/usr"), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"staging.lock", "dir/usr/half-written"} {
				if err := os.WriteFile(filepath.Join(staging, f), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}

			rerun := c.rerun
			if rerun == nil {
				rerun = sw
			}
			if out, _ := h.bootc(t, rerun...); !strings.Contains(out, c.want) {
				t.Errorf("rerun printed %q, want %q", out, c.want)
			}
			s, err = storage.Open(ctx, storage.Options{Root: h.storage})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			storedImage(t, s, digest)
			if left, _ := filepath.Glob(filepath.Join(h.storage, "overlay/staging/*")); len(left) > 0 {
				t.Errorf("staging left after the rerun: %v", left)
			}
			h.fsck(t)
		})
	}
}

// storedImage returns the ID of the image of s whose manifest digest is digest.
func storedImage(t *testing.T, s *storage.Store, digest string) string {
	t.Helper()
	imgs, err := s.Images(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range imgs {
		if i.ManifestDigest.String() == digest {
			return i.ID
		}
	}
	t.Fatalf("the store holds no image %s (it holds %d images)", digest, len(imgs))
	return ""
}
