package install

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/install/installtest"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// scanLayers pulls an image made of layers into a fresh store and scans it as install does
// (mounted read-only, the overlay applying the whiteouts).
func scanLayers(t *testing.T, layers ...[]storagetest.File) (*ImageInfo, error) {
	t.Helper()
	installtest.RequireRoot(t)
	work := t.TempDir()
	root, runRoot := filepath.Join(work, "storage"), filepath.Join(work, "run")
	t.Cleanup(func() {
		for _, d := range []string{root, runRoot} {
			if err := ostreetest.RemoveMounted(d); err != nil {
				t.Errorf("removing the store: %v", err)
			}
		}
	})
	img, err := storagetest.WriteOCI(filepath.Join(work, "oci"), "scan", storagetest.ImageSpec{Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Options{Root: root, RunRoot: runRoot})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	pulled, err := store.Pull(ctx, storage.PullOptions{Source: img.Reference(), SignaturePolicy: installtest.Policy(t)})
	if err != nil {
		t.Fatal(err)
	}
	return ScanImage(ctx, store, pulled, "x86_64")
}

func dir(p string) storagetest.File { return storagetest.File{Path: p + "/", Type: '5'} }
func file(p, content string) storagetest.File {
	return storagetest.File{Path: p, Content: []byte(content)}
}
func symlink(p, target string) storagetest.File {
	return storagetest.File{Path: p, Type: '2', Linkname: target}
}

func TestInstallScanImage(t *testing.T) {
	base := []storagetest.File{
		dir("usr"), dir("usr/lib"), dir("usr/lib/modules"), dir("usr/lib/modules/6.1.0"),
		file("usr/lib/modules/6.1.0/vmlinuz", "kernel"),
		file("usr/lib/modules/6.1.0/kernel/fs/ext4.ko", "module"),
		dir("usr/lib/bootc"), dir("usr/lib/bootc/install"),
		file("usr/lib/bootc/install/00-base.toml", "[install]\nroot-fs-type = \"xfs\"\nkargs = [\"a=1\"]\n"),
		file("usr/lib/bootc/install/10-gone.toml", "[install]\nstateroot = \"masked\"\n"),
		file("usr/lib/bootc/install/20-arch.toml", "[install]\nmatch-architectures = [\"s390x\"]\nkargs = [\"s390=1\"]\n"),
		dir("usr/sbin"), file("usr/sbin/extlinux", "ELF"),
		dir("usr/lib/syslinux"), dir("usr/lib/syslinux/mbr"), file("usr/lib/syslinux/mbr/gptmbr.bin", "mbr"),
	}
	top := []storagetest.File{
		dir("etc"), dir("etc/bootc"), dir("etc/bootc/install"),
		symlink("etc/bootc/install/10-gone.toml", "/dev/null"),
		file("etc/bootc/install/30-local.toml", "[install]\nstateroot = \"mine\"\nkargs = [\"b=2\"]\n"),
		dir("usr"), dir("usr/lib"), dir("usr/lib/modules"), dir("usr/lib/modules/6.2.0"),
		file("usr/lib/modules/6.2.0/vmlinuz", "kernel2"),
		dir("usr/lib/modules/6.1.0"), file("usr/lib/modules/6.1.0/.wh.vmlinuz", ""),
	}
	info, err := scanLayers(t, base, top)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.Kernels, []string{"6.2.0"}) || !info.Bootable() {
		t.Errorf("kernels = %v, want [6.2.0] (6.1.0's vmlinuz is whited out)", info.Kernels)
	}
	if info.Extlinux != "/usr/sbin/extlinux" || !info.GPTMBR || !info.HasExtlinux() {
		t.Errorf("extlinux = %q, gptmbr = %v", info.Extlinux, info.GPTMBR)
	}
	c := info.Config
	if c == nil {
		t.Fatal("no install config")
	}
	if c.StaterootName() != "mine" {
		t.Errorf("stateroot = %q, want mine (10-gone.toml is masked by /dev/null)", c.StaterootName())
	}
	if fs := c.RootFilesystem(); fs == nil || *fs != "xfs" {
		t.Errorf("root filesystem = %v, want xfs", fs)
	}
	if !slices.Equal(c.Kargs, []string{"a=1", "b=2"}) {
		t.Errorf("kargs = %q, want [a=1 b=2] (20-arch.toml is for s390x)", c.Kargs)
	}
}

func TestInstallScanImageNotBootable(t *testing.T) {
	for name, layers := range map[string][][]storagetest.File{
		"no kernel": {{dir("usr"), dir("usr/bin"), file("usr/bin/sh", "sh")}},
		"kernel whited out": {
			{dir("usr"), dir("usr/lib"), dir("usr/lib/modules"), dir("usr/lib/modules/6.1"), file("usr/lib/modules/6.1/vmlinuz", "k")},
			{dir("usr"), dir("usr/lib"), file("usr/lib/.wh.modules", "")},
		},
		"opaque modules": {
			{dir("usr"), dir("usr/lib"), dir("usr/lib/modules"), dir("usr/lib/modules/6.1"), file("usr/lib/modules/6.1/vmlinuz", "k")},
			{dir("usr"), dir("usr/lib"), dir("usr/lib/modules"), file("usr/lib/modules/.wh..wh..opq", "")},
		},
		"modules replaced by a file": {
			{dir("usr"), dir("usr/lib"), dir("usr/lib/modules"), dir("usr/lib/modules/6.1"), file("usr/lib/modules/6.1/vmlinuz", "k")},
			{dir("usr"), dir("usr/lib"), file("usr/lib/modules", "not a dir")},
		},
	} {
		t.Run(name, func(t *testing.T) {
			info, err := scanLayers(t, layers...)
			if err != nil {
				t.Fatal(err)
			}
			if info.Bootable() {
				t.Errorf("bootable, kernels %v", info.Kernels)
			}
			if info.HasExtlinux() || info.Config != nil {
				t.Errorf("extlinux %q, config %+v", info.Extlinux, info.Config)
			}
		})
	}
}

func TestInstallScanImageBadConfig(t *testing.T) {
	_, err := scanLayers(t, []storagetest.File{
		dir("usr"), dir("usr/lib"), dir("usr/lib/bootc"), dir("usr/lib/bootc/install"),
		file("usr/lib/bootc/install/00-bad.toml", "[install]\nroot-fs-type = \"zfs\"\n"),
	})
	if err == nil || !strings.Contains(err.Error(), "usr/lib/bootc/install/00-bad.toml") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

func TestInstallParseBootloader(t *testing.T) {
	for in, want := range map[string]Bootloader{"": BootloaderAuto, "grub": BootloaderGrub, "extlinux": BootloaderExtlinux, "none": BootloaderNone} {
		if got, err := ParseBootloader(in); err != nil || got != want {
			t.Errorf("ParseBootloader(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"grub-cc", "systemd", "lilo"} {
		if _, err := ParseBootloader(in); err == nil {
			t.Errorf("ParseBootloader(%q) succeeded", in)
		}
	}
}

func TestInstallRootSSHTmpfileLine(t *testing.T) {
	dep := t.TempDir()
	line, err := RootSSHTmpfileLine(dep, "ssh-ed25519 ABCDE example@demo\n")
	if err != nil {
		t.Fatal(err)
	}
	// Upstream's own test vector (crates/lib/src/install/osconfig.rs).
	if want := "f~ /root/.ssh/authorized_keys 600 root root - c3NoLWVkMjU1MTkgQUJDREUgZXhhbXBsZUBkZW1vCg==\n"; line != want {
		t.Errorf("got %q, want %q", line, want)
	}
	if err := symlinkFile(dep+"/root", "var/roothome"); err != nil {
		t.Fatal(err)
	}
	line, _ = RootSSHTmpfileLine(dep, "ssh-ed25519 ABCDE example@demo\n")
	if want := "f~ /var/roothome/.ssh/authorized_keys 600 root root - c3NoLWVkMjU1MTkgQUJDREUgZXhhbXBsZUBkZW1vCg==\n"; line != want {
		t.Errorf("with /root -> var/roothome: got %q, want %q", line, want)
	}
}

func symlinkFile(path, target string) error { return os.Symlink(target, path) }
