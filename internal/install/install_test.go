package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.podman.io/storage/pkg/reexec"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/install/disk/disktest"
	"github.com/bootc-go/bootc/internal/install/installtest"
	"github.com/bootc-go/bootc/internal/progress"
	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// testNSEnv marks the test binary re-executed in its own mount namespace.
const testNSEnv = "_bootc_install_test_ns"

// TestMain runs the tests (as root) in a private mount namespace, as bootc install to-disk
// runs: what they mount is invisible to other processes, so a process that copies the
// host's mount namespace meanwhile cannot keep our filesystems (and their loop devices)
// busy after we unmount them.
func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	if os.Geteuid() == 0 && os.Getenv(testNSEnv) == "" {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), testNSEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			os.Exit(0)
		case errors.As(err, &ee) && ee.ExitCode() >= 0:
			os.Exit(ee.ExitCode())
		default:
			os.Stderr.WriteString("re-executing the tests in a private mount namespace: " + err.Error() + "\n")
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

const tags = "containers_image_openpgp exclude_graphdriver_btrfs"

// env is what an install test needs: an OCI layout, a store, a policy, a mount directory.
type env struct {
	layout, storage, runRoot, policy, mountDir string
	out                                        *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	installtest.RequireRoot(t)
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		testskip.Skip(t, "tool:mkfs.ext4", "needs mkfs.ext4 (e2fsprogs)")
	}
	work := t.TempDir()
	e := &env{layout: filepath.Join(work, "oci"), storage: filepath.Join(work, "storage"), runRoot: filepath.Join(work, "run"),
		policy: installtest.Policy(t), mountDir: filepath.Join(work, "mnt"), out: &syncBuffer{}}
	t.Cleanup(func() {
		for _, d := range []string{e.storage, e.runRoot} {
			if err := ostreetest.RemoveMounted(d); err != nil {
				t.Errorf("removing the store: %v", err)
			}
		}
	})
	return e
}

// options are install options for the image tag of the env's layout.
func (e *env) options(t *testing.T, tag string) Options {
	t.Helper()
	ref, err := imgref.ParseImageReference("oci:" + e.layout + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	o := imgref.OstreeImageReference{Sigverify: imgref.Insecure(), Imgref: ref}
	return Options{
		Source: o, Target: o, Bootloader: BootloaderNone, Out: e.out, MountDir: e.mountDir,
		Pull: storage.PullOptions{SignaturePolicy: e.policy},
		Store: func(ctx context.Context) (*storage.Store, error) {
			return storage.Open(ctx, storage.Options{Root: e.storage, RunRoot: e.runRoot})
		},
	}
}

// storeImages lists the images in the env's store.
func (e *env) storeImages(t *testing.T) []storage.ImageSummary {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Options{Root: e.storage, RunRoot: e.runRoot})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	imgs, err := s.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func glob1(t *testing.T, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) != 1 {
		t.Fatalf("%s: %v matches (%v)", pattern, m, err)
	}
	return m[0]
}

// checkInstalled checks the sysroot at root (with /boot mounted) holds one deployment of
// img tracking target, with the kernel arguments want (ostree= aside) and /etc/fstab
// fstab.
func checkInstalled(t *testing.T, root string, img *storagetest.Image, stateroot, target, wantKargs, fstab string) string {
	t.Helper()
	out, err := exec.Command("ostree", "admin", "--sysroot="+root, "status").CombinedOutput()
	if err != nil {
		t.Fatalf("ostree admin status: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), " "+stateroot+" "); n != 1 {
		t.Errorf("ostree admin status: want one deployment in stateroot %s:\n%s", stateroot, out)
	}
	origin := readFile(t, glob1(t, filepath.Join(root, "ostree/deploy", stateroot, "deploy/*.origin")))
	if !strings.Contains(origin, "container-image-reference="+target+"\n") {
		t.Errorf("origin:\n%s\nwant container-image-reference=%s", origin, target)
	}
	entry := readFile(t, glob1(t, filepath.Join(root, "boot/loader/entries/*.conf")))
	opts := regexp.MustCompile(`(?m)^options (.*)$`).FindStringSubmatch(entry)
	if opts == nil {
		t.Fatalf("no options in the boot entry:\n%s", entry)
	}
	got := regexp.MustCompile(` ?ostree=\S+`).ReplaceAllString(opts[1], "")
	if got != wantKargs {
		t.Errorf("kernel arguments:\n got %s\nwant %s", got, wantKargs)
	}
	dep := strings.TrimSuffix(glob1(t, filepath.Join(root, "ostree/deploy", stateroot, "deploy/*.origin")), ".origin")
	if got := readFile(t, filepath.Join(dep, "etc/fstab")); got != fstab {
		t.Errorf("etc/fstab = %q, want %q", got, fstab)
	}
	if _, err := os.Stat(filepath.Join(root, "ostree/deploy", stateroot, "var")); err != nil {
		t.Errorf("stateroot var: %v", err)
	}
	aleph := readFile(t, filepath.Join(root, AlephFile))
	if !strings.Contains(aleph, `"digest":"`+img.ManifestDigest.String()+`"`) {
		t.Errorf("%s does not name the digest %s: %s", AlephFile, img.ManifestDigest, aleph)
	}
	return dep
}

func TestInstallToDisk(t *testing.T) {
	e := newEnv(t)
	img := installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"),
		installtest.ConfigLayer([]string{"console=ttyS0,115200n8", "image.karg=1"},
			"[install]\nkargs = [\"config.karg=1\", \"delete.me=1\"]\nstateroot = \"fromconfig\"\n"))
	keys := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBOOTC test@bootc\n"
	diskPath := installtest.SparseFile(t, 2*disk.GiB)
	o := e.options(t, "v1")
	o.Kargs = []string{"cli.karg=1 cli.two=2"}
	o.KargDeletes = []string{"delete.me=1"}
	o.RootSSHAuthorizedKeys = keys
	var events []string
	var mu sync.Mutex
	o.Progress = progressFunc(func(task progress.Task) {
		mu.Lock()
		events = append(events, task.Name)
		mu.Unlock()
	})
	err := ToDisk(context.Background(), DiskOptions{Options: o, Device: diskPath, ViaLoopback: true, Filesystem: "ext4"})
	t.Logf("output:\n%s", e.out)
	if err != nil {
		t.Fatal(err)
	}
	installtest.CheckNoLeftovers(t, diskPath, e.mountDir)
	if imgs := e.storeImages(t); len(imgs) != 0 {
		t.Errorf("the install left images in the store: %+v", imgs)
	}
	// One pull (then the scan of the pulled image and its import from the store): the
	// install reads the image once.
	if got := strings.Join(events, ","); got != "pulling,importing" {
		t.Errorf("progress tasks %v, want one pull and one import", events)
	}

	d, err := disk.Open(diskPath, disk.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	table, err := d.ReadTable()
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Partitions) != 2 || table.Partitions[0].Name != "boot" || table.Partitions[1].Name != "root" {
		t.Fatalf("partitions: %+v", table.Partitions)
	}
	if table.Partitions[0].Attributes&disk.AttrLegacyBIOSBootable != 0 {
		t.Errorf("/boot is legacy BIOS bootable without a bootloader")
	}

	root := installtest.MountInstalled(t, diskPath)
	rootDev, _ := deviceOf(root)
	bootDev, _ := deviceOf(filepath.Join(root, "boot"))
	rootFS, err := disk.Probe(rootDev)
	if err != nil {
		t.Fatal(err)
	}
	bootFS, err := disk.Probe(bootDev)
	if err != nil {
		t.Fatal(err)
	}
	if rootFS.Type != "ext4" || rootFS.Label != "root" || bootFS.Type != "ext4" || bootFS.Label != "boot" {
		t.Errorf("filesystems: root %+v, boot %+v", rootFS, bootFS)
	}
	target := "ostree-unverified-image:oci:" + e.layout + ":v1"
	want := "root=UUID=" + rootFS.UUID + " rw boot=UUID=" + bootFS.UUID +
		" config.karg=1 console=ttyS0,115200n8 image.karg=1 cli.karg=1 cli.two=2"
	dep := checkInstalled(t, root, img, "fromconfig", target, want, "UUID="+bootFS.UUID+" /boot ext4 defaults 1 2\n")
	ssh := readFile(t, filepath.Join(dep, "etc/tmpfiles.d", RootSSHTmpfile))
	if want, _ := RootSSHTmpfileLine(dep, keys); ssh != want || !strings.HasPrefix(ssh, "f~ /var/roothome/.ssh/authorized_keys 600 root root - ") {
		t.Errorf("%s = %q, want %q", RootSSHTmpfile, ssh, want)
	}
	cfg := readFile(t, filepath.Join(root, "ostree/repo/config"))
	for _, kv := range []string{"bootloader=none", "bootprefix=true", "readonly=true"} {
		if !strings.Contains(cfg, "\n"+kv+"\n") {
			t.Errorf("repo config lacks %s:\n%s", kv, cfg)
		}
	}
	// bootc's view of the new system is the test of cmd/bootc (TestInstallToDiskStatus).
}

// progressFunc is a progress.Reporter that reports task starts to a function.
type progressFunc func(progress.Task)

func (f progressFunc) Start(t progress.Task)                { f(t) }
func (progressFunc) Bytes(progress.Subtask, uint64, uint64) {}
func (progressFunc) Step(progress.Subtask)                  {}
func (progressFunc) Steps(uint64, uint64)                   {}
func (progressFunc) Done()                                  {}

// TestInstallToDiskRefusals checks that a refused install writes nothing to the disk and
// leaves the store as it was.
func TestInstallToDiskRefusals(t *testing.T) {
	e := newEnv(t)
	installtest.WriteImage(t, e.layout, "good", "1", installtest.BaseLayer("1"))
	installtest.WriteImage(t, e.layout, "nokernel", "1", []storagetest.File{
		{Path: "usr/", Type: '5'}, {Path: "usr/bin/", Type: '5'}, {Path: "usr/bin/sh", Content: []byte("sh")}})
	// 24 MiB of zeros: more than a 140 MiB root partition holds with the margin.
	installtest.WriteImage(t, e.layout, "big", "1", installtest.BaseLayer("1"),
		append(installtest.Dirs("usr/share"), storagetest.File{Path: "usr/share/big", Content: make([]byte, 24<<20)}))
	installtest.WriteImage(t, e.layout, "luks", "1", installtest.BaseLayer("1"),
		installtest.ConfigLayer(nil, "[install]\nblock = [\"tpm2-luks\"]\n"))

	partitioned := installtest.SparseFile(t, 2*disk.GiB)
	func() {
		d, err := disk.Open(partitioned, disk.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, err := d.CreatePartitions(disk.NewLayout(disk.LayoutOptions{}), false); err != nil {
			t.Fatal(err)
		}
	}()

	for _, tc := range []struct {
		name, tag string
		size      int64
		disk      string
		edit      func(*DiskOptions)
		want      string
		is        error
	}{
		{name: "partition table without --wipe", tag: "good", disk: partitioned, want: "use --wipe", is: disk.ErrHasPartitionTable},
		{name: "not bootable", tag: "nokernel", size: 2 * disk.GiB, want: "is not bootable: it has no kernel"},
		{name: "too small for the layout", tag: "good", size: 700 * disk.MiB, want: "is too small for the partition layout"},
		{name: "root partition too small for the image", tag: "big", size: 2 * disk.GiB, want: "needs about",
			edit: func(o *DiskOptions) { o.RootSize = 140 * disk.MiB }},
		{name: "no bootloader in the image", tag: "good", size: 2 * disk.GiB, want: "ships no bootloader",
			edit: func(o *DiskOptions) { o.Bootloader = BootloaderAuto }},
		{name: "GRUB missing from the image", tag: "good", size: 2 * disk.GiB, want: "--bootloader grub: image oci:",
			edit: func(o *DiskOptions) { o.Bootloader = BootloaderGrub }},
		{name: "no filesystem type", tag: "good", size: 2 * disk.GiB, want: "no root filesystem type",
			edit: func(o *DiskOptions) { o.Filesystem = "" }},
		{name: "LUKS only", tag: "luks", size: 2 * disk.GiB, want: "supports only direct"},
		{name: "unknown filesystem type", tag: "good", size: 2 * disk.GiB, want: "--filesystem",
			edit: func(o *DiskOptions) { o.Filesystem = "zfs" }},
		{name: "not a regular file", tag: "good", disk: "/dev/null", want: "needs a regular file"},
		{name: "missing image", tag: "missing", size: 2 * disk.GiB, want: "install: pulling oci:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.disk
			if path == "" {
				path = installtest.SparseFile(t, tc.size)
			}
			before := ""
			if path != "/dev/null" {
				before = disktest.Digest(t, path)
			}
			o := DiskOptions{Options: e.options(t, tc.tag), Device: path, ViaLoopback: true, Filesystem: "ext4"}
			if tc.edit != nil {
				tc.edit(&o)
			}
			err := ToDisk(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "install: ") {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want one wrapping %v", err, tc.is)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has several lines: %q", err)
			}
			if path != "/dev/null" {
				if after := disktest.Digest(t, path); after != before {
					t.Errorf("the refused install wrote to %s", path)
				}
				installtest.CheckNoLeftovers(t, path, e.mountDir)
			}
			if imgs := e.storeImages(t); len(imgs) != 0 {
				t.Errorf("the refused install left images in the store: %+v", imgs)
			}
		})
	}
}

// TestInstallToDiskWipe installs over a disk that has partitions and data, with --wipe.
func TestInstallToDiskWipe(t *testing.T) {
	e := newEnv(t)
	installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"))
	path := installtest.SparseFile(t, 2*disk.GiB)
	func() {
		d, err := disk.Open(path, disk.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, err := d.CreatePartitions(disk.NewLayout(disk.LayoutOptions{BIOSBoot: true, ESP: true}), false); err != nil {
			t.Fatal(err)
		}
	}()
	o := DiskOptions{Options: e.options(t, "v1"), Device: path, ViaLoopback: true, Filesystem: "xfs", Wipe: true}
	o.Target, _ = imgref.FromCLI("quay.io/example/os:1", "", false)
	if _, err := exec.LookPath("mkfs.xfs"); err != nil {
		o.Filesystem = "ext4"
	}
	if err := ToDisk(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	installtest.CheckNoLeftovers(t, path, e.mountDir)
	root := installtest.MountInstalled(t, path)
	origin := readFile(t, glob1(t, filepath.Join(root, "ostree/deploy/default/deploy/*.origin")))
	if !strings.Contains(origin, "container-image-reference=ostree-unverified-registry:quay.io/example/os:1\n") {
		t.Errorf("origin:\n%s", origin)
	}
	rootDev, _ := deviceOf(root)
	if info, err := disk.Probe(rootDev); err != nil || info.Type != o.Filesystem {
		t.Errorf("root filesystem %+v, %v; want %s", info, err, o.Filesystem)
	}
}

// TestInstallToDiskCancel cancels an install as the import starts: the error names the
// step, and nothing stays mounted or attached.
func TestInstallToDiskCancel(t *testing.T) {
	e := newEnv(t)
	installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"))
	path := installtest.SparseFile(t, 2*disk.GiB)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := DiskOptions{Options: e.options(t, "v1"), Device: path, ViaLoopback: true, Filesystem: "ext4"}
	o.Progress = progressFunc(func(task progress.Task) {
		if task.Name == progress.TaskImporting {
			cancel()
		}
	})
	err := ToDisk(ctx, o)
	if err == nil || !strings.HasPrefix(err.Error(), "install: importing oci:") || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a cancelled import", err)
	}
	installtest.CheckNoLeftovers(t, path, e.mountDir)
	if imgs := e.storeImages(t); len(imgs) != 0 {
		t.Errorf("the cancelled install left images in the store: %+v", imgs)
	}
}

// TestInstallToFilesystem installs into a mounted tmpfs with a separate /boot tmpfs.
func TestInstallToFilesystem(t *testing.T) {
	e := newEnv(t)
	img := installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"),
		installtest.ConfigLayer([]string{"image.karg=1"}, "[install]\nroot-mount-spec = \"LABEL=cfgroot\"\n"))
	root := ostreetest.TmpfsDir(t, 512)
	boot := filepath.Join(root, "boot")
	if err := os.Mkdir(boot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", boot, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Finalize left them read-only.
		for _, p := range []string{boot, root} {
			_ = unix.Mount("", p, "", unix.MS_REMOUNT, "")
		}
	})

	// The root spec comes from the image's install configuration, the /boot one from the
	// command line (tmpfs has no UUID).
	rootSpec, bootSpec := "LABEL=cfgroot", "LABEL=boot"
	o := FilesystemOptions{Options: e.options(t, "v1"), Root: root, BootMountSpec: &bootSpec}
	o.Stateroot = "mine"
	var events bytes.Buffer
	jw := progress.NewJSONWriter(&events)
	o.Progress = jw
	if err := ToFilesystem(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	if err := jw.Close(); err != nil {
		t.Fatal(err)
	}
	// While containers-storage applies each fetched layer, the pulling task shows it.
	for _, l := range img.Layers {
		want := fmt.Sprintf(`"bytes":%d,"bytesCached":0,"bytesTotal":%d,"description":"Applying layer sha256:%s… (%s)","id":"%s","subtask":"applying"`,
			l.Size, l.Size, l.Digest.Encoded()[:12], progress.HumanBytes(uint64(l.Size)), l.Digest)
		if !strings.Contains(events.String(), want) {
			t.Errorf("the progress events lack the applying status of layer %s (%s):\n%s", l.Digest, want, events.String())
		}
	}
	for _, p := range []string{root, boot} {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err != nil || st.Flags&unix.ST_RDONLY == 0 {
			t.Errorf("%s is not read-only after the install (%v)", p, err)
		}
	}
	for _, p := range []string{boot, root} {
		if err := unix.Mount("", p, "", unix.MS_REMOUNT, ""); err != nil {
			t.Fatal(err)
		}
	}
	checkInstalled(t, root, img, "mine", "ostree-unverified-image:oci:"+e.layout+":v1",
		"root="+rootSpec+" rw boot="+bootSpec+" image.karg=1", bootSpec+" /boot auto defaults 1 2\n")
	if imgs := e.storeImages(t); len(imgs) != 0 {
		t.Errorf("the install left images in the store: %+v", imgs)
	}
	if m := installtest.MountsOf(root); len(m) != 2 {
		t.Errorf("mounts under %s after the install: %v", root, m)
	}
}

// TestInstallToFilesystemRefusals checks targets to-filesystem refuses, before it pulls
// anything.
func TestInstallToFilesystemRefusals(t *testing.T) {
	e := newEnv(t)
	installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"))
	installtest.WriteImage(t, e.layout, "big", "1", installtest.BaseLayer("1"),
		append(installtest.Dirs("usr/share"), storagetest.File{Path: "usr/share/big", Content: make([]byte, 24<<20)}))
	spec := "UUID=1"
	for _, tc := range []struct {
		name, tag string
		setup     func(t *testing.T) string
		spec      *string
		want      string
	}{
		{name: "not empty", spec: &spec, want: "is not empty: found data", setup: func(t *testing.T) string {
			r := ostreetest.TmpfsDir(t, 16)
			os.WriteFile(filepath.Join(r, "data"), nil, 0o644)
			return r
		}},
		{name: "empty directory", spec: &spec, want: "found empty directory", setup: func(t *testing.T) string {
			r := ostreetest.TmpfsDir(t, 16)
			os.Mkdir(filepath.Join(r, "boot"), 0o755)
			return r
		}},
		{name: "not a mount point", spec: &spec, want: "not a mount point", setup: func(t *testing.T) string {
			r := ostreetest.TmpfsDir(t, 16)
			os.Mkdir(filepath.Join(r, "sub"), 0o755)
			return filepath.Join(r, "sub")
		}},
		{name: "host root", spec: &spec, want: "running system's root filesystem", setup: func(t *testing.T) string { return "/" }},
		{name: "no UUID", want: "give --root-mount-spec", setup: func(t *testing.T) string { return ostreetest.TmpfsDir(t, 16) }},
		{name: "no space", tag: "big", spec: &spec, want: "needs about", setup: func(t *testing.T) string { return ostreetest.TmpfsDir(t, 16) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.setup(t)
			tag := tc.tag
			if tag == "" {
				tag = "v1"
			}
			err := ToFilesystem(context.Background(), FilesystemOptions{Options: e.options(t, tag), Root: root, RootMountSpec: tc.spec})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if imgs := e.storeImages(t); len(imgs) != 0 {
				t.Errorf("the refused install left images in the store: %+v", imgs)
			}
			if root != "/" {
				if ents, _ := os.ReadDir(root); len(ents) > 1 || (len(ents) == 1 && tc.name != "not empty" && tc.name != "empty directory") {
					t.Errorf("the refused install wrote to %s: %v", root, ents)
				}
			}
		})
	}
}
