package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.podman.io/storage/pkg/ioutils"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/kargs"
)

// Replace says what an install does with what its target root filesystem already holds.
type Replace string

// Replace modes (upstream's names).
const (
	// ReplaceNone requires an empty root.
	ReplaceNone Replace = ""
	// ReplaceWipe removes everything on the root filesystem (and in a separate /boot)
	// first; it is refused on the running system's root.
	ReplaceWipe Replace = "wipe"
	// ReplaceAlongside keeps the root's files: the installed system finds the previous
	// one at /sysroot. Only /boot (and the EFI system partition at /boot/efi) is emptied,
	// so the previous system no longer boots; it keeps running until the reboot.
	ReplaceAlongside Replace = "alongside"
)

// ParseReplace parses a --replace value ("" is ReplaceNone).
func ParseReplace(s string) (Replace, error) {
	switch r := Replace(s); r {
	case ReplaceNone, ReplaceWipe, ReplaceAlongside:
		return r, nil
	}
	return "", fmt.Errorf("unknown replace mode %q (supported: wipe, alongside)", s)
}

// DefaultExistingRoot is where ToExistingRoot expects the running system's root (upstream's
// /target, from podman's -v /:/target); when it does not exist, / is bound there.
const DefaultExistingRoot = "/target"

// DestructiveCleanupStamp is the file (relative to the physical root) that has the
// installed system remove the previous system's files at its first boot (upstream's path).
const DestructiveCleanupStamp = "etc/bootc-destructive-cleanup"

// DestructiveCleanupUnit is the systemd unit that runs that cleanup (upstream's name).
const DestructiveCleanupUnit = "bootc-destructive-cleanup.service"

// defaultWarnDelay is how long the warning of an install onto the running root waits.
const defaultWarnDelay = 20 * time.Second

// hostRootPath is the running system's root as pid 1 sees it (inside a container with
// --pid=host, the host's root).
var hostRootPath = "/proc/1/root"

// existingRoot is what ToExistingRoot adds to the to-filesystem flow.
type existingRoot struct {
	cmdline   string
	cleanup   bool
	warnDelay time.Duration
}

// ToExistingRoot installs the image alongside the running system, on its own root
// filesystem (upstream's `install to-existing-root`): the to-filesystem flow with
// ReplaceAlongside, the root filesystem's kernel arguments taken from the running
// kernel's command line, and no read-only remount at the end. The previous system's files
// stay where they are; the installed system sees them under /sysroot (its /etc and /var
// included), and with Cleanup removes the files of its packages at its first boot.
func ToExistingRoot(ctx context.Context, o ExistingRootOptions) (err error) {
	root := o.Root
	if root == "" {
		root = DefaultExistingRoot
	}
	replace := o.Replace
	if replace == ReplaceNone {
		replace = ReplaceAlongside
	}
	cmdline := o.Cmdline
	if cmdline == "" {
		b, err := os.ReadFile("/proc/cmdline")
		if err != nil {
			return fmt.Errorf("install: reading the kernel command line: %w", err)
		}
		cmdline = string(b)
	}
	fo := FilesystemOptions{Options: o.Options, Root: root, SkipFinalize: true, Replace: replace,
		AcknowledgeDestructive: o.AcknowledgeDestructive,
		existing:               &existingRoot{cmdline: cmdline, cleanup: o.Cleanup, warnDelay: o.WarnDelay}}
	if root == DefaultExistingRoot {
		if _, err := os.Lstat(root); errors.Is(err, os.ErrNotExist) {
			unbind, err := bindHostRoot(root)
			if err != nil {
				return fmt.Errorf("install: mounting the running system's root at %s: %w", root, err)
			}
			defer func() {
				if uerr := unbind(); uerr != nil {
					err = errors.Join(err, fmt.Errorf("install: unmounting %s: %w", root, uerr))
				}
			}()
		}
	}
	return ToFilesystem(ctx, fo)
}

// bindHostRoot binds / (with the filesystems mounted below it, such as /boot) at dir,
// which it creates; the returned function undoes both.
func bindHostRoot(dir string) (func() error, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount("/", dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		_ = os.Remove(dir)
		return nil, err
	}
	return func() error {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return err
		}
		return os.Remove(dir)
	}, nil
}

// isHostRoot reports whether root is the running system's root filesystem.
func isHostRoot(root string) (bool, error) {
	host := hostRootPath
	if _, err := os.Stat(host); err != nil {
		host = "/"
	}
	return sameFilesystem(root, host)
}

// checkReplace refuses what o.Replace cannot do with root, and warns (waiting, unless
// acknowledged) before an install onto the running system's root.
func (o *FilesystemOptions) checkReplace(ctx context.Context, root string) error {
	host, err := isHostRoot(root)
	if err != nil {
		return err
	}
	switch {
	case host && o.Replace == ReplaceNone:
		return fmt.Errorf("%s is the running system's root filesystem; to install alongside the running system use `bootc install to-existing-root` (or --replace alongside)", root)
	case host && o.Replace == ReplaceWipe:
		return fmt.Errorf("%s is the running system's root filesystem: --replace wipe would delete the running system; use --replace alongside", root)
	case o.Replace == ReplaceNone:
		return requireEmptyRoot(root)
	}
	if o.Replace == ReplaceAlongside {
		if _, err := os.Lstat(filepath.Join(root, "ostree")); err == nil {
			return fmt.Errorf("%s already holds an ostree sysroot (%s): it is an ostree system, or an earlier install was interrupted; use bootc switch on an ostree system, or remove %s first",
				root, filepath.Join(root, "ostree"), filepath.Join(root, "ostree"))
		}
	}
	if !host || o.AcknowledgeDestructive {
		return nil
	}
	delay := defaultWarnDelay
	if o.existing != nil && o.existing.warnDelay > 0 {
		delay = o.existing.warnDelay
	}
	const dashes = "----------------------------"
	o.printf("%s\nWARNING: This operation will OVERWRITE THE BOOTED HOST ROOT FILESYSTEM and is NOT REVERSIBLE.\n"+
		"Waiting %s to continue; interrupt (Control-C) to cancel (--acknowledge-destructive skips this).\n%s\n", dashes, delay, dashes)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(delay):
		return nil
	}
}

// clearForReplace makes room in root for the install, as o.Replace says, once every check
// has passed: wipe removes everything on the root filesystem; both modes empty /boot and
// the EFI system partition mounted at /boot/efi (as upstream does).
func (o *FilesystemOptions) clearForReplace(root string) error {
	if o.Replace == ReplaceNone {
		return nil
	}
	if o.Replace == ReplaceWipe {
		o.printf("Wiping contents of root\n")
		if err := removeContents(root, func(name string) bool { return name == lostAndFound }); err != nil {
			return fmt.Errorf("wiping %s: %w", root, err)
		}
	}
	boot := filepath.Join(root, "boot")
	if _, err := os.Lstat(boot); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	o.printf("Emptying %s\n", boot)
	keep := func(name string) bool { return name == lostAndFound || name == "efi" }
	if err := removeContents(boot, keep); err != nil {
		return fmt.Errorf("emptying %s: %w", boot, err)
	}
	esp := filepath.Join(boot, "efi")
	if mp, err := isMountPoint(esp); err == nil && mp {
		if err := removeContents(esp, func(string) bool { return false }); err != nil {
			return fmt.Errorf("emptying the EFI system partition %s: %w", esp, err)
		}
	}
	return nil
}

// removeContents removes what dir holds, except the entries keep names and whatever lies
// on another filesystem (mount points below dir and their content stay).
func removeContents(dir string, keep func(name string) bool) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if keep(e.Name()) {
			continue
		}
		if err := removeSameDevice(filepath.Join(dir, e.Name()), st.Dev); err != nil {
			return err
		}
	}
	return nil
}

// removeSameDevice removes p and, for a directory, its content, unless it is on another
// device than dev (a mount point).
func removeSameDevice(p string, dev uint64) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	if st.Dev != dev {
		return nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return os.Remove(p)
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := removeSameDevice(filepath.Join(p, e.Name()), dev); err != nil {
			return err
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
		return err
	}
	return nil
}

// inheritedRootArgs returns the root= spec and the arguments going with it (rootflags=,
// rd.*) of the running kernel's command line, as upstream's to-existing-root inherits them
// ("" when it names no root=).
func inheritedRootArgs(cmdline string) (spec string, inherited []string) {
	cl := kargs.Parse(cmdline)
	spec, ok := cl.Value(kargs.RootKey)
	if !ok || spec == "" {
		return "", nil
	}
	for _, a := range cl {
		if k := a.Key(); k == "rootflags" || strings.HasPrefix(k, "rd.") {
			inherited = append(inherited, a.String())
		}
	}
	return spec, inherited
}

// destructiveCleanupUnitText is the unit written into the installed system when its image
// ships none of that name.
const destructiveCleanupUnitText = `[Unit]
Description=Remove the previous system's files after an install alongside it
Documentation=man:bootc(8)
ConditionPathExists=/sysroot/` + DestructiveCleanupStamp + `
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/bin/bootc internals destructive-cleanup
PrivateMounts=true

[Install]
WantedBy=multi-user.target
`

// armDestructiveCleanup writes the stamp into the physical root and enables the cleanup
// unit in the deployment dep: the image's own unit when it ships one, else bootc's.
func armDestructiveCleanup(physRoot, dep string) error {
	if err := os.MkdirAll(filepath.Join(physRoot, filepath.Dir(DestructiveCleanupStamp)), 0o755); err != nil {
		return err
	}
	if err := ioutils.AtomicWriteFile(filepath.Join(physRoot, DestructiveCleanupStamp), nil, 0o644); err != nil {
		return err
	}
	unit := "/usr/lib/systemd/system/" + DestructiveCleanupUnit
	if _, err := os.Stat(filepath.Join(dep, unit)); err != nil {
		unit = "/etc/systemd/system/" + DestructiveCleanupUnit
		if err := os.MkdirAll(filepath.Join(dep, filepath.Dir(unit)), 0o755); err != nil {
			return err
		}
		if err := ioutils.AtomicWriteFile(filepath.Join(dep, unit), []byte(destructiveCleanupUnitText), 0o644); err != nil {
			return err
		}
	}
	wants := filepath.Join(dep, "etc/systemd/system/multi-user.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		return err
	}
	link := filepath.Join(wants, DestructiveCleanupUnit)
	_ = os.Remove(link)
	return os.Symlink(unit, link)
}
