package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/tests/image/testimage"
)

// mountExt4Image makes a sparse ext4 image of size bytes and mounts it at dir through a
// loop device that goes with the unmount, undone at the end of the test.
func mountExt4Image(t *testing.T, image, dir string, size int64) {
	t.Helper()
	f, err := os.Create(image)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", image).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 %s: %v\n%s", image, err, out)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", image, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -o loop %s %s: %v\n%s", image, dir, err, out)
	}
	t.Cleanup(func() {
		if err := disk.Unmount(dir); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
}

// TestInstallToFilesystemGrub installs the test image with `bootc install to-filesystem
// --bootloader grub` into a root with a separate /boot and an EFI system partition mounted
// at /boot/efi (a tmpfs stands in: this host's kernel may not mount vfat), and checks what
// GRUB reads: shim, the signed GRUB and the configuration that leads to /boot's menu on
// the ESP, the menu of the deployment, and the repository set to libostree's grub2
// backend. Without the ESP mounted (and no BIOS boot partition for /boot's disk) the
// install is refused before it writes anything.
func TestInstallToFilesystemGrub(t *testing.T) {
	requireE2E(t)
	imgs := testimage.Build(t)
	work := t.TempDir()

	install := func(root string) (string, error) {
		storageRoot := filepath.Join(work, "storage-"+filepath.Base(root))
		t.Cleanup(func() { _ = ostreetest.RemoveMounted(storageRoot) })
		cmd := exec.Command(imgs.BootcBinary, "--storage-root", storageRoot, "install", "to-filesystem",
			"--source-imgref", imgs.Ref("v1"), "--bootloader", "grub", "--skip-finalize", root)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Refused: a /boot filesystem, but no ESP and no BIOS boot partition.
	bare := filepath.Join(work, "bare")
	mountExt4Image(t, filepath.Join(work, "bare-root.img"), bare, 3<<30)
	mountExt4Image(t, filepath.Join(work, "bare-boot.img"), filepath.Join(bare, "boot"), 512<<20)
	out, err := install(bare)
	if err == nil || !strings.Contains(out, "found no place for GRUB's boot chains") {
		t.Fatalf("install without an ESP: %v, want a refusal\n%s", err, tailText(out, 20))
	}
	for _, d := range []string{bare, filepath.Join(bare, "boot")} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if e.Name() != "lost+found" && e.Name() != "boot" {
				t.Errorf("the refused install left %s in %s", e.Name(), d)
			}
		}
	}

	root := filepath.Join(work, "root")
	mountExt4Image(t, filepath.Join(work, "root.img"), root, 3<<30)
	boot := filepath.Join(root, "boot")
	mountExt4Image(t, filepath.Join(work, "boot.img"), boot, 512<<20)
	esp := filepath.Join(boot, "efi")
	if err := os.Mkdir(esp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", esp, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = disk.Unmount(esp) })
	if out, err := install(root); err != nil {
		t.Fatalf("bootc install to-filesystem --bootloader grub: %v\n%s", err, tailText(out, 30))
	}

	uuid, err := exec.Command("blkid", "-s", "UUID", "-o", "value", filepath.Join(work, "boot.img")).Output()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(esp, "EFI/BOOT/grub.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "--set=root "+strings.TrimSpace(string(uuid))+"\n") || !strings.Contains(string(cfg), "source ($root)/loader/grub.cfg") {
		t.Errorf("EFI/BOOT/grub.cfg does not lead to /boot's menu (UUID %s):\n%s", strings.TrimSpace(string(uuid)), cfg)
	}
	deps, _ := filepath.Glob(filepath.Join(root, "ostree/deploy/default/deploy/*.0"))
	if len(deps) != 1 {
		t.Fatalf("deployments: %v", deps)
	}
	for esp, image := range map[string]string{"BOOTX64.EFI": "usr/lib/shim/shimx64.efi.signed", "grubx64.efi": "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"} {
		got, err := os.ReadFile(filepath.Join(root, "boot/efi/EFI/BOOT", esp))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(deps[0], image))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("EFI/BOOT/%s is not the image's /%s", esp, image)
		}
	}
	if target, err := os.Readlink(filepath.Join(boot, "grub/grub.cfg")); err != nil || target != "../loader/grub.cfg" {
		t.Errorf("/boot/grub/grub.cfg -> %q, %v; want ../loader/grub.cfg", target, err)
	}
	menu, err := os.ReadFile(filepath.Join(boot, "loader/grub.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	dep, _ := filepath.Rel(root, deps[0])
	m := &mountedDisk{root: root}
	entries, err := m.bootEntries()
	if err != nil {
		t.Fatalf("the GRUB menu: %v\n%s", err, menu)
	}
	if len(entries) != 1 || entries[0].deployment != dep {
		t.Errorf("GRUB menu entries %+v, want one for %s:\n%s", entries, dep, menu)
	}
	if repoCfg, _ := os.ReadFile(filepath.Join(root, "ostree/repo/config")); !strings.Contains(string(repoCfg), "bootloader=grub2") {
		t.Errorf("the repository is not set to libostree's grub2 backend:\n%s", repoCfg)
	}
}
