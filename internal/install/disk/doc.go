// Package disk is the disk layer of `bootc install to-disk DEVICE` and
// `bootc install to-disk --via-loopback FILE`.
//
// It covers, without running sfdisk, sgdisk, losetup or blkid:
//
//   - Partition tables: a [Layout] says which partitions the installer
//     wants ([NewLayout]: BIOS boot, ESP, /boot, root, named as upstream
//     bootc names them); [Layout.Plan] places them on 1 MiB boundaries for
//     a given disk size and fails with a [TooSmallError] before anything
//     is written. [Table.Write] writes a GPT (protective MBR with optional
//     440-byte boot code and boot flag, primary and backup headers and
//     entry arrays with their CRC32s); [ReadTable] reads one back and
//     verifies it. [AttrLegacyBIOSBootable] marks the partition syslinux's
//     gptmbr.bin chains to. [DetectPartitionTable] and [HasPartitionTable]
//     let the installer refuse a disk in use without --wipe.
//
//   - Devices: [Open] opens a block device (size from BLKGETSIZE64) or a
//     disk image file. [Disk.CreatePartitions] runs the whole partitioning
//     step in a safe order; [Disk.Wipe] clears old signatures.
//     [Disk.PartitionDevice] yields a block device for each partition: the
//     kernel's partition node when it has one that matches, otherwise a
//     loop device attached at the partition's offset with its size as
//     limit (LOOP_CTL_GET_FREE, then LOOP_CONFIGURE, or LOOP_SET_FD and
//     LOOP_SET_STATUS64 on kernels before 5.8), always with
//     LO_FLAGS_AUTOCLEAR. [Disk.Close] detaches them all.
//
//   - Cleanup: [Cleanup] is a stack of undo actions run in reverse order,
//     once each, collecting errors; [Cleanup.Mount] mounts and pushes the
//     [Unmount] (which falls back to a lazy unmount when busy).
//
//   - Filesystems: [Mkfs] runs mkfs.ext4, mkfs.xfs, mkfs.vfat or
//     mkfs.btrfs through a [Runner] (the installer runs the tools of the
//     image being installed; [HostRunner] runs the host's);
//     [FilesystemUUID] and [Probe] read the UUID, label and type from the
//     superblock, matching what blkid prints, for kernel arguments such as
//     root=UUID=....
//
// A typical to-disk flow:
//
//	d, err := disk.Open(dev, disk.Options{})
//	if err != nil { ... }
//	defer d.Close()
//	layout := disk.NewLayout(disk.LayoutOptions{BIOSBoot: true, Boot: true, RootFilesystem: "ext4"})
//	table, err := d.CreatePartitions(layout, wipe) // TooSmallError / ErrHasPartitionTable
//	rootDev, err := d.PartitionDevice(ctx, layout.Number(disk.RoleRoot))
//	err = disk.Mkfs(ctx, runner, "ext4", rootDev, "root")
//	uuid, err := disk.FilesystemUUID(rootDev)
//	var mounts disk.Cleanup
//	defer mounts.Run()
//	err = mounts.Mount(rootDev, "/run/bootc/mounts/rootfs", "ext4", 0, "")
//
// Partition devices stay attached while the Disk is open; a loop device
// still mounted when Close runs is released by the kernel at unmount
// (autoclear), and all loop devices go away if the process dies.
package disk
