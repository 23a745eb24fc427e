package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/installconfig"
	"github.com/bootc-go/bootc/internal/progress"
)

// diskLayout is the partition table ToDisk writes: a /boot partition (ext4, which extlinux
// and GRUB read) and the root partition, and for GRUB before them a BIOS boot partition
// (for its BIOS core image) and an EFI system partition, for the boot chains the image
// ships, so that one disk boots on both firmware types. With extlinux, /boot is marked
// legacy BIOS bootable for syslinux's gptmbr.bin and the protective MBR entry active.
// The root partition gets the Discoverable Partitions root type of arch, the architecture
// being installed (not necessarily this machine's).
func diskLayout(rootFS string, bl Bootloader, g GrubFiles, rootSize int64, arch string) *disk.Layout {
	extlinux := bl == BootloaderExtlinux
	grub := bl == BootloaderGrub
	l := disk.NewLayout(disk.LayoutOptions{
		BIOSBoot:               grub && g.BIOS(),
		ESP:                    grub && g.EFI(),
		Boot:                   true,
		BootLegacyBIOSBootable: extlinux,
		BootFilesystem:         bootFilesystem,
		RootFilesystem:         rootFS,
		RootSize:               rootSize,
		Arch:                   arch,
	})
	// Some BIOSes boot only a disk whose MBR has an active partition (parted's
	// pmbr_boot); the boot code is gptmbr.bin, which reads the GPT.
	l.PMBRBootable = extlinux
	return l
}

// ToDisk installs the image to a whole disk (or a disk image file with ViaLoopback): it
// checks the target (refusing a disk with a partition table unless Wipe, and one too
// small) and the image (refusing one that is not bootable) before writing anything, then
// partitions the disk (GPT: /boot and root), makes the filesystems, mounts them under
// MountDir and runs the to-filesystem flow. The filesystems are made with the host's mkfs
// tools: the image's are only reachable once it is imported, which needs the filesystems
// (upstream runs install inside the image's container, where its tools are the host's).
// Everything mounted or attached is released on every path, including cancellation.
func ToDisk(ctx context.Context, o DiskOptions) (err error) {
	in := newInstaller(o.Options)
	defer func() { err = in.finish(err) }()

	dev, err := filepath.Abs(o.Device)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	st, err := os.Stat(dev)
	if err != nil {
		return fmt.Errorf("install: target: %w", err)
	}
	isBlock := st.Mode()&fs.ModeDevice != 0 && st.Mode()&fs.ModeCharDevice == 0
	switch {
	case o.ViaLoopback && !st.Mode().IsRegular():
		return fmt.Errorf("install: --via-loopback needs a regular file (a disk image), and %s is not one", dev)
	case !o.ViaLoopback && !isBlock:
		return fmt.Errorf("install: %s is not a block device (use --via-loopback to install into a disk image file)", dev)
	}
	if o.Filesystem != "" {
		if _, err := installconfig.ParseFilesystem(o.Filesystem); err != nil {
			return fmt.Errorf("install: --filesystem: %w", err)
		}
	}
	d, err := disk.Open(dev, disk.Options{})
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	in.cleanup.Push("close "+dev, d.Close)
	has, err := d.HasPartitionTable()
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if has && !o.Wipe {
		return fmt.Errorf("install: %s: %w; use --wipe to overwrite it", dev, disk.ErrHasPartitionTable)
	}
	// The layout must fit before the image is even fetched.
	if err := checkLayoutFits(d, diskLayout(orExt4(o.Filesystem), BootloaderNone, GrubFiles{}, o.RootSize, in.opts.Arch)); err != nil {
		return err
	}

	o.printf("Installing image: %s\n", o.Target)
	if err := in.prepare(ctx); err != nil {
		return err
	}
	o.printf("Digest: %s\n", in.img.ManifestDigest)
	rootFS := o.Filesystem
	if rootFS == "" {
		if t := in.cfg.RootFilesystem(); t != nil {
			rootFS = string(*t)
		}
	}
	if rootFS == "" {
		return fmt.Errorf("install: no root filesystem type: use --filesystem (ext4, xfs), or set [install.filesystem.root] type in the image's install configuration")
	}
	if _, err := installconfig.ParseFilesystem(rootFS); err != nil {
		return fmt.Errorf("install: root filesystem: %w", err)
	}
	if in.info.Config != nil {
		direct := installconfig.BlockDirect
		if _, err := in.cfg.BlockSetupFor(&direct); err != nil {
			return fmt.Errorf("install: %w (this installer supports only direct)", err)
		}
	}
	if _, err := lookPathHost("mkfs." + rootFS); err != nil {
		return fmt.Errorf("install: formatting the root filesystem needs mkfs.%s on the host: %w", rootFS, err)
	}
	extlinux := in.bootloader == BootloaderExtlinux
	grubEFI := in.bootloader == BootloaderGrub && in.info.Grub.EFI()
	if grubEFI {
		for _, tool := range []string{"mkfs.vfat", "mcopy"} {
			if _, err := lookPathHost(tool); err != nil {
				return fmt.Errorf("install: the EFI system partition needs %s (dosfstools, mtools) on the host: %w", tool, err)
			}
		}
	}
	if in.bootloader == BootloaderGrub && in.info.Grub.BIOS() && d.SectorSize() != grubSector {
		return fmt.Errorf("install: %s has %d-byte sectors; GRUB's BIOS core image needs 512-byte sectors", dev, d.SectorSize())
	}
	layout := diskLayout(rootFS, in.bootloader, in.info.Grub, o.RootSize, in.opts.Arch)
	if err := checkLayoutFits(d, layout); err != nil {
		return err
	}
	if err := in.checkRootFits(d, layout); err != nil {
		return err
	}
	o.printf("Bootloader: %s\n", in.bootloader)
	o.printf("Root filesystem: %s\n", rootFS)

	o.printf("Partitioning %s\n", dev)
	table, err := d.CreatePartitions(layout, o.Wipe)
	if err != nil {
		if ts, ok := errors.AsType[*disk.TooSmallError](err); ok {
			return fmt.Errorf("install: %w", ts)
		}
		return fmt.Errorf("install: partitioning %s: %w", dev, err)
	}
	bootDev, err := d.PartitionDevice(ctx, layout.Number(disk.RoleBoot))
	if err != nil {
		return fmt.Errorf("install: partitioning %s: %w", dev, err)
	}
	rootDev, err := d.PartitionDevice(ctx, layout.Number(disk.RoleRoot))
	if err != nil {
		return fmt.Errorf("install: partitioning %s: %w", dev, err)
	}
	espDev := ""
	parts := []struct{ dev, fs, label string }{{bootDev, bootFilesystem, "boot"}, {rootDev, rootFS, "root"}}
	if n := layout.Number(disk.RoleESP); n > 0 {
		if espDev, err = d.PartitionDevice(ctx, n); err != nil {
			return fmt.Errorf("install: partitioning %s: %w", dev, err)
		}
		parts = append(parts, struct{ dev, fs, label string }{espDev, "vfat", layout.Partitions[n-1].Label})
	}
	runner := disk.HostRunner{}
	for _, p := range parts {
		o.printf("Formatting %s (%s) as %s\n", p.dev, p.label, p.fs)
		if err := disk.Mkfs(ctx, runner, p.fs, p.dev, p.label); err != nil {
			return fmt.Errorf("install: formatting the %s partition: %w", p.label, err)
		}
	}
	bootUUID, err := disk.FilesystemUUID(bootDev)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	rootUUID, err := disk.FilesystemUUID(rootDev)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}

	base := o.MountDir
	if base == "" {
		base = DefaultMountDir
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return fmt.Errorf("install: mounting: %w", err)
	}
	mnt, err := os.MkdirTemp(base, "install-")
	if err != nil {
		return fmt.Errorf("install: mounting: %w", err)
	}
	// Only empty directories are removed: never what a failed unmount left mounted.
	in.cleanup.Push("remove "+mnt, func() error { return removeEmptyDirs(mnt, "rootfs/boot", "rootfs") })
	rootMnt := filepath.Join(mnt, "rootfs")
	if err := os.Mkdir(rootMnt, 0o755); err != nil {
		return fmt.Errorf("install: mounting: %w", err)
	}
	if err := in.cleanup.Mount(rootDev, rootMnt, rootFS, 0, ""); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	bootMnt := filepath.Join(rootMnt, "boot")
	if err := os.Mkdir(bootMnt, 0o755); err != nil {
		return fmt.Errorf("install: mounting: %w", err)
	}
	if err := in.cleanup.Mount(bootDev, bootMnt, bootFilesystem, 0, ""); err != nil {
		return fmt.Errorf("install: %w", err)
	}

	res, err := in.installRoot(ctx, rootSetup{
		path: rootMnt, rootSpec: "UUID=" + rootUUID, bootSpec: "UUID=" + bootUUID,
		bootFSType: bootFilesystem, bootSeparate: true, bootDevice: bootDev,
	})
	if err != nil {
		return err
	}
	if extlinux {
		if err := d.InstallMBRBootCode(res.mbr); err != nil {
			return fmt.Errorf("install: installing the bootloader: %w", err)
		}
	}
	if res.grub != nil {
		if err := in.writeGrubChains(ctx, d, table, layout.Number(disk.RoleBIOSBoot), espDev, res.grub); err != nil {
			return fmt.Errorf("install: installing the bootloader: %w", err)
		}
	}
	for _, p := range []string{bootMnt, rootMnt} {
		if err := trimAndSync(p); err != nil {
			return fmt.Errorf("install: finalizing: %w", err)
		}
	}
	// Unmount and detach now, so that success means the disk is complete.
	if err := in.cleanup.Run(); err != nil {
		return fmt.Errorf("install: finalizing: %w", err)
	}
	o.printf("Installation complete!\n")
	return nil
}

func orExt4(fs string) string {
	if fs == "" {
		return "ext4"
	}
	return fs
}

// checkLayoutFits plans layout for d and returns the *disk.TooSmallError naming d when it
// does not fit.
func checkLayoutFits(d *disk.Disk, layout *disk.Layout) error {
	if _, err := layout.Plan(d.Size(), d.SectorSize()); err != nil {
		if ts, ok := errors.AsType[*disk.TooSmallError](err); ok {
			ts.Device = d.Path()
			return fmt.Errorf("install: %w", ts)
		}
		return fmt.Errorf("install: partitioning %s: %w", d.Path(), err)
	}
	return nil
}

// checkRootFits refuses a disk whose root partition cannot hold the image.
func (in *installer) checkRootFits(d *disk.Disk, layout *disk.Layout) error {
	t, err := layout.Plan(d.Size(), d.SectorSize())
	if err != nil {
		return err
	}
	p := t.Partition(layout.Number(disk.RoleRoot))
	if p == nil {
		return fmt.Errorf("install: partitioning %s: no root partition planned", d.Path())
	}
	have := p.Size(t.SectorSize)
	need := in.info.Size + in.info.Size/10 + rootSizeSlack
	if have < need {
		return fmt.Errorf("install: %w (the root partition would get %s; image %s needs about %s)",
			&disk.TooSmallError{Device: d.Path(), Needed: d.Size() - have + need, Available: d.Size()},
			progress.HumanBytes(uint64(max(have, 0))), in.opts.Source.Imgref, progress.HumanBytes(uint64(max(need, 0))))
	}
	return nil
}

// removeEmptyDirs removes the empty directories base/sub... (in order), then base.
func removeEmptyDirs(base string, subs ...string) error {
	var errs []error
	for _, s := range append(subs, "") {
		if err := os.Remove(filepath.Join(base, s)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
