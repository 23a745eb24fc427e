package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/progress"
)

// ToFilesystem installs the image into the mounted, empty root filesystem o.Root (a
// separate /boot filesystem may be mounted at Root/boot): ostree sysroot and repository,
// stateroot, import, deployment, bootloader. The root= argument names the filesystem's
// UUID unless RootMountSpec says otherwise; a separate /boot gets an /etc/fstab line and a
// boot= argument. With o.Replace the root need not be empty (see [Replace]); the running
// system's root is refused unless installing alongside it.
func ToFilesystem(ctx context.Context, o FilesystemOptions) (err error) {
	in := newInstaller(o.Options)
	defer func() { err = in.finish(err) }()

	root, err := filepath.Abs(o.Root)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("install: target: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("install: %s is not a directory", root)
	}
	if mp, err := isMountPoint(root); err != nil {
		return fmt.Errorf("install: %w", err)
	} else if !mp {
		return fmt.Errorf("install: %s: %w (mount the root filesystem there)", root, errNotMounted)
	}
	if err := o.checkReplace(ctx, root); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	s := rootSetup{path: root}
	bootDir := filepath.Join(root, "boot")
	if bst, err := os.Lstat(bootDir); err == nil && bst.IsDir() {
		if mp, err := isMountPoint(bootDir); err != nil {
			return fmt.Errorf("install: %w", err)
		} else {
			s.bootSeparate = mp
		}
	}
	// What the filesystems say; used unless --root-mount-spec/--boot-mount-spec or the
	// image's install configuration (root-mount-spec, boot-mount-spec) say otherwise.
	rootUUID, _, rootErr := filesystemUUIDAt(root)
	var bootUUID string
	var bootErr error
	fstabBoot, fstabType := bootFstabEntry(root)
	if s.bootSeparate {
		s.bootDevice, _ = deviceOf(bootDir)
		bootUUID, s.bootFSType, bootErr = filesystemUUIDAt(bootDir)
	} else if o.BootMountSpec != nil && *o.BootMountSpec != "" {
		return fmt.Errorf("install: --boot-mount-spec given but %s is not a separate filesystem", bootDir)
	}

	o.printf("Installing image: %s\n", o.Target)
	if err := in.prepare(ctx); err != nil {
		return err
	}
	o.printf("Digest: %s\n", in.img.ManifestDigest)
	var inheritedSpec string
	if o.existing != nil {
		inheritedSpec, s.rootArgs = inheritedRootArgs(o.existing.cmdline)
	}
	switch {
	case o.RootMountSpec != nil:
		s.rootSpec = *o.RootMountSpec
	case in.cfg.RootMountSpec != nil:
		s.rootSpec = *in.cfg.RootMountSpec
	case inheritedSpec != "":
		// As upstream's to-existing-root: the root the running kernel was given.
		s.rootSpec = inheritedSpec
	case rootErr != nil:
		return fmt.Errorf("install: finding the UUID of the root filesystem: %w; give --root-mount-spec", rootErr)
	default:
		s.rootSpec = "UUID=" + rootUUID
	}
	if s.bootSeparate {
		switch {
		case o.BootMountSpec != nil:
			s.bootSpec = *o.BootMountSpec
		case in.cfg.BootMountSpec != nil:
			s.bootSpec = *in.cfg.BootMountSpec
		case fstabBoot != "":
			// As upstream: the root's own /etc/fstab names /boot by UUID (an existing
			// system installed alongside).
			s.bootSpec = fstabBoot
			if s.bootFSType == "" {
				s.bootFSType = fstabType
			}
		case bootErr != nil:
			return fmt.Errorf("install: finding the UUID of the /boot filesystem: %w; give --boot-mount-spec", bootErr)
		default:
			s.bootSpec = "UUID=" + bootUUID
		}
	}
	if (in.bootloader == BootloaderExtlinux || in.bootloader == BootloaderGrub) && !s.bootSeparate {
		return fmt.Errorf("install: %s needs a separate /boot filesystem mounted at %s (or use --bootloader none)", in.bootloader, bootDir)
	}
	var grubTo *grubTargets
	if in.bootloader == BootloaderGrub {
		if grubTo, err = in.findGrubTargets(root, s.bootDevice); err != nil {
			return err
		}
	}
	if err := in.checkFreeSpace(root); err != nil {
		return err
	}
	if err := o.clearForReplace(root); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	o.printf("Bootloader: %s\n", in.bootloader)
	res, err := in.installRoot(ctx, s)
	if err != nil {
		return err
	}
	if o.existing != nil && o.existing.cleanup {
		if err := armDestructiveCleanup(root, res.deployment); err != nil {
			return fmt.Errorf("install: enabling %s: %w", DestructiveCleanupUnit, err)
		}
		o.printf("The previous system's files will be removed at the first boot (%s)\n", DestructiveCleanupUnit)
	}
	if in.bootloader == BootloaderExtlinux {
		if err := in.installMBROfParent(s.bootDevice, res.mbr); err != nil {
			return fmt.Errorf("install: installing the bootloader: %w", err)
		}
	}
	if grubTo != nil {
		if err := in.writeGrubTargets(ctx, grubTo, res.grub); err != nil {
			return fmt.Errorf("install: installing the bootloader: %w", err)
		}
	}
	// As upstream, on every install: the checks of install finalize.
	if err := checkDeployments(ctx, root, &FinalizeResult{}); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	dirs := []string{root}
	if s.bootSeparate {
		dirs = []string{bootDir, root}
	}
	for _, p := range dirs {
		if err := trimAndSync(p); err != nil {
			return fmt.Errorf("install: finalizing: %w", err)
		}
	}
	if !o.SkipFinalize {
		// As upstream: remounting read-only flushes everything and surfaces write-back
		// errors now; the filesystems are ready to boot from.
		for _, p := range dirs {
			if err := remountReadOnly(p); err != nil {
				return fmt.Errorf("install: finalizing: remounting %s read-only: %w", p, err)
			}
		}
	}
	o.printf("Installation complete!\n")
	return nil
}

// filesystemUUIDAt returns the UUID and type of the filesystem mounted at dir, read from
// the superblock of its block device.
func filesystemUUIDAt(dir string) (uuid, fstype string, err error) {
	dev, err := deviceOf(dir)
	if err != nil {
		return "", "", err
	}
	if dev == "" {
		return "", "", fmt.Errorf("%s is not on a block device", dir)
	}
	info, err := disk.Probe(dev)
	if err != nil {
		return "", "", err
	}
	if info.UUID == "" {
		return "", info.Type, fmt.Errorf("filesystem %s on %s has no UUID", info.Type, dev)
	}
	return info.UUID, info.Type, nil
}

// installMBROfParent installs syslinux's GPT MBR boot code on the disk holding the
// partition bootDev and marks that partition legacy BIOS bootable. When bootDev is not a
// partition of a GPT disk (a loop device, a whole-disk filesystem) it only warns: the
// caller then owns the MBR.
func (in *installer) installMBROfParent(bootDev string, code []byte) error {
	parent, num, err := parentDisk(bootDev)
	if err != nil || parent == "" {
		in.opts.printf("Warning: /boot (%s) is not a partition of a disk; install syslinux's gptmbr.bin as the disk's MBR boot code and mark the partition legacy BIOS bootable yourself\n", bootDev)
		return nil
	}
	d, err := disk.Open(parent, disk.Options{AllowInUse: true})
	if err != nil {
		return err
	}
	defer d.Close()
	t := d.Table()
	if t == nil {
		in.opts.printf("Warning: %s has no GPT; install the MBR boot code yourself\n", parent)
		return nil
	}
	p := t.Partition(num)
	if p == nil {
		return fmt.Errorf("%s has no partition %d", parent, num)
	}
	if p.Attributes&disk.AttrLegacyBIOSBootable == 0 {
		p.Attributes |= disk.AttrLegacyBIOSBootable
		if err := d.WriteTable(t); err != nil {
			return err
		}
	}
	in.opts.printf("Installing %s as the MBR boot code of %s\n", gptmbrPath, parent)
	return d.InstallMBRBootCode(code)
}

// parentDisk returns the whole disk holding the partition dev and its partition number,
// from sysfs ("" when dev is not a partition).
func parentDisk(dev string) (string, int, error) {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return "", 0, err
	}
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	b, err := os.ReadFile(filepath.Join(sys, "partition"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", 0, nil
		}
		return "", 0, err
	}
	var num int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d", &num); err != nil {
		return "", 0, err
	}
	real, err := filepath.EvalSymlinks(sys)
	if err != nil {
		return "", 0, err
	}
	return "/dev/" + filepath.Base(filepath.Dir(real)), num, nil
}

// remountReadOnly remounts the filesystem mounted at path read-only. A process that
// inherited a file libostree had open for writing (its fsfreeze watchdog) may keep it busy
// for a moment, so EBUSY is retried for a few seconds.
func remountReadOnly(path string) error {
	var err error
	for range 100 {
		if err = unix.Mount("", path, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); !errors.Is(err, unix.EBUSY) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// checkFreeSpace refuses a root filesystem without room for the image.
func (in *installer) checkFreeSpace(root string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	free := int64(st.Bavail) * st.Bsize
	need := in.info.Size + in.info.Size/10
	if free < need {
		return fmt.Errorf("install: %s has %s free, image %s needs about %s",
			root, progress.HumanBytes(uint64(max(free, 0))), in.opts.Source.Imgref, progress.HumanBytes(uint64(max(need, 0))))
	}
	return nil
}

// bootFstabEntry returns the source and type of the /boot line of root's etc/fstab when
// its source is a UUID ("" otherwise), as upstream reads it.
func bootFstabEntry(root string) (spec, fstype string) {
	b, err := os.ReadFile(filepath.Join(root, "etc/fstab"))
	if err != nil {
		return "", ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") || f[1] != "/boot" {
			continue
		}
		if strings.HasPrefix(f[0], "UUID=") {
			return f[0], f[2]
		}
		return "", ""
	}
	return "", ""
}
