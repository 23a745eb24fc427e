package install

import (
	"bytes"
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/storage/storagetest"
)

// layersOpener serves generated layer tars.
func layersOpener(t *testing.T, layers ...[]storagetest.File) (int, LayerOpener) {
	t.Helper()
	var tars [][]byte
	for _, l := range layers {
		b, err := storagetest.LayerTar(l)
		if err != nil {
			t.Fatal(err)
		}
		tars = append(tars, b)
	}
	return len(tars), func(_ context.Context, i int) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tars[i])), nil
	}
}

func dir(p string) storagetest.File { return storagetest.File{Path: p + "/", Type: '5'} }
func file(p, content string) storagetest.File {
	return storagetest.File{Path: p, Content: []byte(content)}
}
func symlink(p, target string) storagetest.File {
	return storagetest.File{Path: p, Type: '2', Linkname: target}
}

func TestInstallScanLayers(t *testing.T) {
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
	n, open := layersOpener(t, base, top)
	info, err := ScanLayers(context.Background(), n, open, "x86_64")
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

func TestInstallScanLayersNotBootable(t *testing.T) {
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
			n, open := layersOpener(t, layers...)
			info, err := ScanLayers(context.Background(), n, open, "x86_64")
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

func TestInstallScanLayersBadConfig(t *testing.T) {
	n, open := layersOpener(t, []storagetest.File{
		dir("usr"), dir("usr/lib"), dir("usr/lib/bootc"), dir("usr/lib/bootc/install"),
		file("usr/lib/bootc/install/00-bad.toml", "[install]\nroot-fs-type = \"zfs\"\n"),
	})
	_, err := ScanLayers(context.Background(), n, open, "x86_64")
	if err == nil || !strings.Contains(err.Error(), "usr/lib/bootc/install/00-bad.toml") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

func TestInstallUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:             "/plain",
		`/with\040space`:     "/with space",
		`/tab\011x\134back`:  "/tab\tx\\back",
		`/trailing\04`:       `/trailing\04`,
		`/not\999octal\040x`: `/not\999octal x`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInstallParseBootloader(t *testing.T) {
	for in, want := range map[string]Bootloader{"": BootloaderAuto, "extlinux": BootloaderExtlinux, "none": BootloaderNone} {
		if got, err := ParseBootloader(in); err != nil || got != want {
			t.Errorf("ParseBootloader(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"grub", "systemd", "lilo"} {
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
