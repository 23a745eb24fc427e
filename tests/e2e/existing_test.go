package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/tests/image/testimage"
)

// UUIDs of the plain system's filesystems, so that its kernel command line and /etc/fstab
// are known in advance.
const (
	plainRootUUID = "5f1a6c0e-7d1b-4a57-9a3e-0c1d2e3f4a01"
	plainBootUUID = "5f1a6c0e-7d1b-4a57-9a3e-0c1d2e3f4a02"
)

// TestInstallToExistingRoot is upstream's alongside install (tmt's to-existing-root
// scenario): a plain Debian system (the test image's v1 tree unpacked onto ordinary
// partitions: BIOS boot, /boot, root; no ostree) boots, runs `bootc install
// to-existing-root --cleanup` from its own /usr/bin/bootc, and reboots through the GRUB the
// install put on its disk into the image's v2 as an ostree deployment. The previous
// system's /etc and /var are found under /sysroot; its package files are removed by
// bootc-destructive-cleanup.service at that first boot, its configuration and data stay.
// Then, as upstream's tests derive images: `bootc image copy-to-storage`, `podman build
// FROM localhost/bootc` in the guest (the derived image names a logically bound image),
// `bootc switch --transport containers-storage`, and a reboot into it with the bound image
// listed and a stale /etc/gshadow entry removed before systemd-sysusers creates that group.
func TestInstallToExistingRoot(t *testing.T) {
	qemu, work, tm := startVMTest(t)
	imgs := testimage.Build(t)
	steps, _ := newLayoutStepsDisk(t, imgs, work, deriveSpec{from: "v2", tag: "v4", version: "4",
		created: time.Date(2025, 1, 4, 0, 0, 0, 0, time.UTC)})

	start := time.Now()
	diskImg := filepath.Join(work, "disk.raw")
	kernel, initrd := makePlainDisk(t, imgs, diskImg, work)
	tm.add("plain Debian disk %s", time.Since(start).Round(100*time.Millisecond))

	vm := vmConfig{qemu: qemu, disk: diskImg, steps: steps.image, dir: work, kernel: kernel, initrd: initrd,
		append: "root=UUID=" + plainRootUUID + " rw console=ttyS0,115200n8"}
	accel, why := chooseAccel(t, vm)
	vm.accel = accel
	tm.add("accelerator %s: %s", accel, why)
	sc := &scenario{t: t, vm: vm, steps: steps, disk: diskImg, work: work, tm: tm}

	res := sc.boot("plain", "", "1", stepScript("plain",
		"run test ! -e /run/ostree-booted",
		"run findmnt /boot",
		"echo edited >/etc/e2e-previous.conf",
		"mkdir -p /var/lib/e2e-previous && echo data >/var/lib/e2e-previous/data",
		"run bootc install to-existing-root --acknowledge-destructive --cleanup --source-imgref oci:"+stepsLayoutInGuest+":v2"+
			" --target-transport oci --target-imgref "+stepsLayoutInGuest+":stable",
		"run ls -A /boot",
		"finish reboot"), bootOptions{doneTimeout: 30 * time.Minute})
	for _, want := range []string{"Emptying /target/boot", "Bootloader: grub", "Installation complete!",
		"The previous system's files will be removed at the first boot"} {
		if !strings.Contains(strings.Join(res.r.steps, "\n"), want) {
			sc.fatalf("the install's output lacks %q", want)
		}
	}
	if t.Failed() {
		return
	}

	// From the disk now: SeaBIOS, the GRUB the install embedded, the ostree deployment.
	sc.vm.kernel, sc.vm.initrd, sc.vm.append = "", "", ""
	res = sc.boot("installed", "", "2", stepScript("installed",
		"status booted",
		"run test -e /run/ostree-booted",
		"run grep -qx edited /sysroot/etc/e2e-previous.conf",
		"run grep -qx data /sysroot/var/lib/e2e-previous/data",
		"run test ! -e /etc/e2e-previous.conf",
		"run test ! -e /var/lib/e2e-previous",
		// Enabled by the install for this boot; start waits for its run (or is skipped
		// once the stamp is gone).
		"run systemctl is-enabled "+destructiveCleanupUnit,
		"run systemctl start "+destructiveCleanupUnit,
		"run journalctl -b -o cat -u "+destructiveCleanupUnit,
		"run test ! -e /sysroot/etc/bootc-destructive-cleanup",
		"run test ! -e /sysroot/usr/bin/dpkg",
		"run test -e /sysroot/etc/e2e-previous.conf",
		"run test -e /sysroot/var/lib/dpkg/status",
		// Upstream's way to derive an image on the host itself (item 1 of issue 12), with a
		// logically bound image in the derived one (item 2).
		"run bootc image copy-to-storage",
		// Upstream's tmt 44: a gshadow entry for a group that no group file names, kept by
		// the /etc merge, while the next image has sysusers create that group.
		`echo 'testbootcgroup:!::' >>/etc/gshadow`,
		"run podman image exists localhost/bootc",
		"mkdir -p /var/tmp/derive && cat >/var/tmp/derive/Containerfile <<'EOF'",
		"FROM localhost/bootc",
		`RUN echo 6 >/usr/lib/bootc-test/version && mkdir -p /usr/lib/bootc/bound-images.d && printf '[Image]\nImage=oci:`+stepsLayoutInGuest+`:v1\n' >/usr/lib/bootc/bound-images.d/e2e.image`,
		`RUN printf 'g testbootcgroup 7373\n' >/usr/lib/sysusers.d/testbootcgroup.conf && ! grep -q testbootcgroup /etc/gshadow /etc/group`,
		"LABEL org.opencontainers.image.version=6",
		"EOF",
		// chroot isolation: the minimal guest has no D-Bus for crun's systemd cgroups.
		"run podman build --isolation=chroot -t localhost/derived /var/tmp/derive",
		"run bootc switch --transport containers-storage localhost/derived",
		"status switched",
		// Upstream's tmt 24: --apply with the same image reboots into what is staged.
		"finish poweroff",
		"bootc switch --apply --transport containers-storage localhost/derived",
		`echo "E2E-APPLY-RETURNED rc=$?"`), bootOptions{rebootsItself: true})
	hs := sc.expectStatus(res, "booted", "2", "", "")
	sc.expectStatus(res, "switched", "2", "6", "")
	if !strings.Contains(strings.Join(res.r.steps, "\n"), "Fetched 1 bound images") {
		sc.fatalf("the switch to the derived image did not fetch its bound image before staging")
	}
	// bootc waits for the shutdown (as upstream) instead of returning to the script; the
	// shutdown stops both, so the line after it may or may not appear.
	if !res.r.hasStep("Rebooting the system") || res.r.doneRC != -1 || res.b.serial.firstAt("reboot: Restarting system") == 0 {
		sc.fatalf("bootc switch --apply with the staged image's spec did not reboot (marker done rc %d)", res.r.doneRC)
	}
	if got := hs.Status.Booted.ref(); got != "oci:"+stepsLayoutInGuest+":stable" {
		sc.fatalf("the installed system follows %q, want oci:%s:stable", got, stepsLayoutInGuest)
	}
	if !strings.Contains(res.r.cmdline, "root=UUID="+plainRootUUID+" ") || !strings.Contains(res.r.cmdline, "ostree=") {
		sc.fatalf("the installed system's kernel command line lacks ostree= or the inherited root=: %s", res.r.cmdline)
	}
	removed := false
	for _, l := range res.r.steps {
		if strings.Contains(l, "Removed ") && strings.Contains(l, "packages of the previous system") {
			removed = true
			tm.add("cleanup: %s", l)
		}
	}
	if !removed {
		sc.fatalf("%s did not report what it removed", destructiveCleanupUnit)
	}

	res = sc.boot("derived", "", "6", stepScript("derived",
		"status booted",
		"bootc image list --type logical --format json >out/logical.json",
		"run systemctl status --no-pager bootc-sysusers-shadow-sync.service",
		`echo "E2E-SHADOW-SYNC: $(systemctl show -P ActiveState bootc-sysusers-shadow-sync.service) group=$(grep -c '^testbootcgroup:' /etc/group) gshadow=$(grep -c '^testbootcgroup:' /etc/gshadow)"`,
		"run podman images",
		"finish poweroff"), bootOptions{})
	sc.expectStatus(res, "booted", "6", "", "2")
	if v, _ := res.r.stepValue("E2E-SHADOW-SYNC"); v != "active group=1 gshadow=1" {
		sc.fatalf("the stale gshadow entry was not fixed before systemd-sysusers created the group (tmt 44): %q", v)
	}
	if got := res.out["logical.json"]; !strings.Contains(got, `"image": "oci:`+stepsLayoutInGuest+`:v1"`) {
		sc.fatalf("bootc image list --type logical after the reboot:\n%s", got)
	}
}

// destructiveCleanupUnit is internal/install.DestructiveCleanupUnit.
const destructiveCleanupUnit = "bootc-destructive-cleanup.service"

// makePlainDisk writes a plain (non-ostree) Debian system to a new disk image: GPT with a
// BIOS boot partition, /boot and root (ext4, UUIDs plainBootUUID and plainRootUUID), the
// test image's v1 tree unpacked on root with ostree's top-level links undone, its kernel
// and initramfs in /boot as Debian names them, an old GRUB menu beside them, and
// /etc/fstab. It returns copies of the kernel and initramfs for qemu's direct kernel boot
// (the previous system's own bootloader does not matter: the install replaces it).
func makePlainDisk(t *testing.T, imgs *testimage.Images, image, work string) (kernel, initrd string) {
	t.Helper()
	f, err := os.Create(image)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(6 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d, err := disk.Open(image, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	l := disk.NewLayout(disk.LayoutOptions{BIOSBoot: true, Boot: true, BootFilesystem: "ext4", RootFilesystem: "ext4"})
	if _, err := d.CreatePartitions(l, false); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mnt := filepath.Join(work, "plain-mnt")
	for _, p := range []struct {
		role            disk.Role
		uuid, at, label string
	}{
		{role: disk.RoleRoot, uuid: plainRootUUID, at: mnt, label: "root"},
		{role: disk.RoleBoot, uuid: plainBootUUID, at: filepath.Join(mnt, "boot"), label: "boot"},
	} {
		dev, err := d.PartitionDevice(ctx, l.Number(p.role))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-U", p.uuid, "-L", p.label, dev).CombinedOutput(); err != nil {
			t.Fatalf("mkfs.ext4 %s: %v\n%s", dev, err, out)
		}
		if err := os.MkdirAll(p.at, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", dev, p.at).CombinedOutput(); err != nil {
			t.Fatalf("mount %s %s: %v\n%s", dev, p.at, err, out)
		}
		at := p.at
		defer func() {
			if err := disk.Unmount(at); err != nil {
				t.Errorf("unmounting %s: %v", at, err)
			}
		}()
		if p.role == disk.RoleRoot {
			unpackImage(t, ociLayout(imgs.Layout), "v1", mnt)
			plainify(t, mnt)
		}
	}
	modules := filepath.Join(mnt, "usr/lib/modules", imgs.KVER)
	kernel, initrd = filepath.Join(work, "plain-vmlinuz"), filepath.Join(work, "plain-initrd")
	for _, c := range [][2]string{
		{filepath.Join(modules, "vmlinuz"), filepath.Join(mnt, "boot/vmlinuz-"+imgs.KVER)},
		{filepath.Join(modules, "initramfs.img"), filepath.Join(mnt, "boot/initrd.img-"+imgs.KVER)},
		{filepath.Join(modules, "vmlinuz"), kernel},
		{filepath.Join(modules, "initramfs.img"), initrd},
	} {
		if err := copyFile(c[0], c[1]); err != nil {
			t.Fatal(err)
		}
	}
	for p, c := range map[string]string{
		"boot/grub/grub.cfg": "# the previous system's menu\n",
		"etc/fstab":          fmt.Sprintf("UUID=%s / ext4 defaults 0 1\nUUID=%s /boot ext4 defaults 0 2\n", plainRootUUID, plainBootUUID),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(mnt, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mnt, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return kernel, initrd
}

// unpackImage extracts the layers of the layout's tag into dir, in order; the test images'
// layers carry no whiteouts, which is checked.
func unpackImage(t *testing.T, lay ociLayout, tag, dir string) {
	t.Helper()
	desc, err := lay.tag(tag)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := readJSONFile(lay.blob(desc.Digest), &m); err != nil {
		t.Fatal(err)
	}
	for _, layer := range m.Layers {
		list, err := exec.Command("tar", "-tzf", lay.blob(layer.Digest)).Output()
		if err != nil {
			t.Fatalf("listing layer %s: %v", layer.Digest, err)
		}
		if strings.Contains(string(list), ".wh.") {
			t.Fatalf("layer %s has whiteouts; unpackImage does not apply them", layer.Digest)
		}
		if out, err := exec.Command("tar", "-xzpf", lay.blob(layer.Digest), "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", dir).CombinedOutput(); err != nil {
			t.Fatalf("unpacking layer %s: %v\n%s", layer.Digest, err, out)
		}
	}
}

// plainify undoes what makes the image's tree an ostree one: the /ostree and /sysroot
// entries go, and /home and /root (links into /var) become directories, as on a system
// installed with Debian's installer.
func plainify(t *testing.T, root string) {
	t.Helper()
	for _, p := range []string{"ostree", "sysroot", "home", "root"} {
		if err := os.Remove(filepath.Join(root, p)); err != nil && !os.IsNotExist(err) {
			t.Fatalf("plain system: removing /%s: %v", p, err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "home"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "root"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/dpkg/status")); err != nil {
		t.Fatalf("plain system: no dpkg database: %v", err)
	}
}
