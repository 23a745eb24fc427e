package install

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/install/installtest"
	"github.com/bootc-go/bootc/ostree/ostreetest"
)

// writeTree writes files (path -> content; a content starting with "->" makes a symlink,
// a path ending in / a directory) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// previousSystem is a small "plain Debian" root: usrmerge's /bin symlink, packages listed
// in dpkg's database (one conffile), configuration and data, a file no package owns.
var previousSystem = map[string]string{
	"bin":                              "->usr/bin",
	"usr/bin/bash":                     "bash",
	"usr/bin/oldtool":                  "tool",
	"usr/bin/mine":                     "not packaged",
	"usr/lib/old/libold.so":            "lib",
	"usr/share/doc/old/copyright":      "c",
	"etc/old.conf":                     "conf",
	"etc/hostname":                     "oldhost\n",
	"etc/fstab":                        "UUID=1111-old / ext4 defaults 0 1\nUUID=2222-boot /boot ext4 defaults 0 2\n",
	"var/lib/old/data":                 "data",
	"home/user/notes":                  "notes",
	"var/lib/dpkg/info/bash.list":      "/.\n/bin\n/bin/bash\n/usr\n/usr/bin\n",
	"var/lib/dpkg/info/old.list":       "/.\n/usr\n/usr/bin\n/usr/bin/oldtool\n/usr/lib\n/usr/lib/old\n/usr/lib/old/libold.so\n/usr/share/doc/old\n/usr/share/doc/old/copyright\n/etc/old.conf\n/var/lib/old\n/../../escape\n",
	"var/lib/dpkg/info/old.conffiles":  "/etc/old.conf\n",
	"var/lib/dpkg/info/empty.list":     "/.\n",
	"var/lib/dpkg/info/gone.list":      "/usr/bin/never-installed\n",
	"var/lib/dpkg/info/bash.conffiles": "",
}

// TestInstallToExistingRoot installs alongside a previous system on the filesystem the
// test pretends is the running root: the warning waits unless acknowledged, the previous
// system's files stay (only /boot is emptied), root= and its flags come from the running
// kernel's command line, /boot's line from the previous /etc/fstab, and --cleanup arms the
// first-boot cleanup. Wipe and an empty-root install are refused there.
func TestInstallToExistingRoot(t *testing.T) {
	e := newEnv(t)
	img := installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"))
	root := ostreetest.TmpfsDir(t, 512)
	writeTree(t, root, previousSystem)
	boot := filepath.Join(root, "boot")
	if err := os.Mkdir(boot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", boot, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(boot, unix.MNT_DETACH) })
	writeTree(t, boot, map[string]string{"vmlinuz-6.1.0-old": "k", "grub/grub.cfg": "old menu", "efi/": ""})
	saved := hostRootPath
	hostRootPath = root
	t.Cleanup(func() { hostRootPath = saved })

	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		replace Replace
		want    string
	}{
		{"empty root required", ReplaceNone, "use `bootc install to-existing-root`"},
		{"wipe", ReplaceWipe, "--replace wipe would delete the running system"},
	} {
		err := ToFilesystem(ctx, FilesystemOptions{Options: e.options(t, "v1"), Root: root, Replace: tc.replace})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(boot, "vmlinuz-6.1.0-old")); err != nil {
		t.Fatalf("a refused install emptied /boot: %v", err)
	}

	// Not acknowledged: the warning, its wait, then a cancelled context stops it.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := ToExistingRoot(cctx, ExistingRootOptions{Options: e.options(t, "v1"), Root: root,
		Cmdline: "root=UUID=1111-old", WarnDelay: time.Hour})
	cancel()
	if err == nil || !strings.Contains(e.out.String(), "WARNING: This operation will OVERWRITE THE BOOTED HOST ROOT FILESYSTEM") {
		t.Fatalf("unacknowledged install on the running root: err = %v, output:\n%s", err, e.out)
	}
	if _, err := os.Stat(filepath.Join(boot, "vmlinuz-6.1.0-old")); err != nil {
		t.Fatalf("the cancelled install emptied /boot: %v", err)
	}

	o := ExistingRootOptions{Options: e.options(t, "v1"), Root: root, AcknowledgeDestructive: true, Cleanup: true,
		Cmdline: "BOOT_IMAGE=/vmlinuz-6.1.0-old root=UUID=1111-old ro rootflags=noatime rd.lvm.lv=vg/root quiet"}
	if err := ToExistingRoot(ctx, o); err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	dep := checkInstalled(t, root, img, "default", "ostree-unverified-image:oci:"+e.layout+":v1",
		"root=UUID=1111-old rootflags=noatime rd.lvm.lv=vg/root rw boot=UUID=2222-boot", "UUID=2222-boot /boot ext4 defaults 1 2\n")
	for _, p := range []string{"vmlinuz-6.1.0-old", "grub/grub.cfg"} {
		if _, err := os.Lstat(filepath.Join(boot, p)); err == nil {
			t.Errorf("/boot/%s of the previous system is still there", p)
		}
	}
	for p, c := range previousSystem {
		if got, err := os.ReadFile(filepath.Join(root, p)); err != nil && !strings.HasPrefix(c, "->") || err == nil && string(got) != c {
			t.Errorf("the previous system's /%s: %q, %v; want it kept (%q)", p, got, err, c)
		}
	}
	if _, err := os.Stat(filepath.Join(root, DestructiveCleanupStamp)); err != nil {
		t.Errorf("--cleanup: no stamp: %v", err)
	}
	link, err := os.Readlink(filepath.Join(dep, "etc/systemd/system/multi-user.target.wants", DestructiveCleanupUnit))
	if err != nil || link != "/etc/systemd/system/"+DestructiveCleanupUnit {
		t.Errorf("cleanup unit not enabled: %q, %v", link, err)
	}
	if unit := readFile(t, filepath.Join(dep, "etc/systemd/system", DestructiveCleanupUnit)); !strings.Contains(unit, "ExecStart=/usr/bin/bootc internals destructive-cleanup\n") {
		t.Errorf("cleanup unit:\n%s", unit)
	}

	// The first boot's cleanup, on the physical root.
	res, err := RemovePreviousSystem(root)
	if err != nil {
		t.Fatal(err)
	}
	if res.Packages != 2 || res.Database != "/var/lib/dpkg/info" {
		t.Errorf("cleanup: %+v, want 2 packages from /var/lib/dpkg/info", res)
	}
	for _, p := range []string{"usr/bin/bash", "usr/bin/oldtool", "usr/lib/old", "usr/share/doc/old", "bin", DestructiveCleanupStamp} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("/%s is still there after the cleanup", p)
		}
	}
	for _, p := range []string{"usr/bin/mine", "etc/old.conf", "etc/hostname", "var/lib/old/data", "home/user/notes", "ostree/repo/config", "boot/loader/entries", ".bootc-aleph.json"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("/%s is gone after the cleanup: %v", p, err)
		}
	}
	if res, err := RemovePreviousSystem(root); err != nil || res.Removed != 0 {
		t.Errorf("second cleanup: %+v, %v; want nothing removed", res, err)
	}
}

// TestInstallToFilesystemReplace: --replace on a root that is not the running system's:
// wipe removes its files and /boot's, alongside keeps them; both refuse an ostree root.
func TestInstallToFilesystemReplace(t *testing.T) {
	e := newEnv(t)
	installtest.WriteImage(t, e.layout, "v1", "1", installtest.BaseLayer("1"))
	spec := "UUID=1"
	for _, tc := range []struct {
		replace      Replace
		kept, wiped  []string
		ostreeRefuse bool
	}{
		{replace: ReplaceWipe, wiped: []string{"usr/bin/oldtool", "etc/old.conf", "bin"}},
		{replace: ReplaceAlongside, kept: []string{"usr/bin/oldtool", "etc/old.conf", "bin"}, ostreeRefuse: true},
	} {
		t.Run(string(tc.replace), func(t *testing.T) {
			if tc.ostreeRefuse {
				r := ostreetest.TmpfsDir(t, 16)
				writeTree(t, r, map[string]string{"ostree/repo/": ""})
				err := ToFilesystem(context.Background(), FilesystemOptions{Options: e.options(t, "v1"), Root: r, RootMountSpec: &spec, Replace: tc.replace})
				if err == nil || !strings.Contains(err.Error(), "already holds an ostree sysroot") {
					t.Errorf("ostree root: err = %v", err)
				}
			}
			root := ostreetest.TmpfsDir(t, 512)
			writeTree(t, root, previousSystem)
			writeTree(t, root, map[string]string{"boot/vmlinuz-old": "k"})
			err := ToFilesystem(context.Background(), FilesystemOptions{Options: e.options(t, "v1"), Root: root,
				RootMountSpec: &spec, Replace: tc.replace, SkipFinalize: true})
			if err != nil {
				t.Fatalf("%v\n%s", err, e.out)
			}
			for _, p := range tc.kept {
				if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
					t.Errorf("/%s: %v, want it kept", p, err)
				}
			}
			for _, p := range append(tc.wiped, "boot/vmlinuz-old") {
				if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
					t.Errorf("/%s is still there", p)
				}
			}
			if deps, _ := filepath.Glob(filepath.Join(root, "ostree/deploy/default/deploy/*.0")); len(deps) != 1 {
				t.Errorf("deployments: %v", deps)
			}
		})
	}
}

func TestParseReplace(t *testing.T) {
	for _, s := range []string{"", "wipe", "alongside"} {
		if r, err := ParseReplace(s); err != nil || string(r) != s {
			t.Errorf("ParseReplace(%q) = %q, %v", s, r, err)
		}
	}
	if _, err := ParseReplace("dual-boot"); err == nil || !strings.Contains(err.Error(), "supported: wipe, alongside") {
		t.Errorf("ParseReplace(dual-boot): %v", err)
	}
}

func TestInheritedRootArgs(t *testing.T) {
	for _, tc := range []struct {
		cmdline, spec string
		args          []string
	}{
		{"BOOT_IMAGE=/vmlinuz root=UUID=ab ro quiet", "UUID=ab", nil},
		{"root=/dev/mapper/vg-root rootflags=subvol=@ rd.lvm.lv=vg/root rd.luks.uuid=x console=ttyS0", "/dev/mapper/vg-root", []string{"rootflags=subvol=@", "rd.lvm.lv=vg/root", "rd.luks.uuid=x"}},
		{"quiet rd.debug", "", nil},
		{"root= ro", "", nil},
	} {
		spec, args := inheritedRootArgs(tc.cmdline)
		if spec != tc.spec || !slices.Equal(args, tc.args) {
			t.Errorf("inheritedRootArgs(%q) = %q %q, want %q %q", tc.cmdline, spec, args, tc.spec, tc.args)
		}
	}
}

// TestRemoveContentsStaysOnFilesystem: a mount point below the directory and its content
// stay.
func TestRemoveContentsStaysOnFilesystem(t *testing.T) {
	dir := ostreetest.TmpfsDir(t, 16)
	writeTree(t, dir, map[string]string{"a/b/c": "x", "keep": "k", "mnt/": ""})
	if err := unix.Mount("tmpfs", filepath.Join(dir, "mnt"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(filepath.Join(dir, "mnt"), unix.MNT_DETACH) })
	writeTree(t, filepath.Join(dir, "mnt"), map[string]string{"other": "o"})
	if err := removeContents(dir, func(n string) bool { return n == "keep" }); err != nil {
		t.Fatal(err)
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"keep", "mnt"}) {
		t.Errorf("left %v, want [keep mnt]", names)
	}
	if _, err := os.Stat(filepath.Join(dir, "mnt/other")); err != nil {
		t.Errorf("the mounted filesystem's file: %v", err)
	}
}
