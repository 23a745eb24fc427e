// Package install implements `bootc install to-disk`, `to-filesystem` and `to-existing-root`:
// it turns a bootable container image into an installed ostree system, as upstream bootc
// does, but from the host (upstream runs inside the image's own container).
//
// # Flow
//
// [ToDisk] (a block device, or a disk image file with --via-loopback):
//
//  1. Check the target before anything else: a block device (or a regular file for
//     --via-loopback), not in use, without a partition table unless --wipe, large enough
//     for the partition layout.
//  2. Pull the image into the containers-storage store and read its layers (whiteouts
//     applied; [ScanImage]) for what the install needs to know before it writes: a kernel
//     (usr/lib/modules/VERSION/vmlinuz, else the image is refused as not bootable), the
//     install configuration (usr/lib/bootc/install/*.toml and the other drop-in
//     directories; root filesystem type, stateroot, kargs, bootloader, mount specs), and
//     the boot tools it ships (GRUB, extlinux and syslinux's gptmbr.bin; GRUB is the
//     default when the image ships it). The root partition
//     must hold the image (its uncompressed size plus a margin). An image the install
//     pulled is removed from the store again at the end.
//  3. Partition (GPT, written from Go by internal/install/disk): for GRUB a 1 MiB BIOS
//     boot partition and a 512 MiB EFI system partition (vfat, for the boot chains the
//     image ships, so that one disk boots on BIOS and UEFI), a 510 MiB /boot (ext4,
//     "legacy BIOS bootable" for extlinux) and the root partition.
//  4. Make the filesystems with the host's mkfs (the image's tools are reachable only once
//     it is imported, which needs the filesystems; upstream runs install inside the image,
//     where its tools are the host's), mount them under /run/bootc/mounts.
//  5. The to-filesystem flow below, then the boot code outside the filesystems: syslinux's
//     gptmbr.bin as MBR boot code for extlinux; for GRUB its core image in the BIOS boot
//     partition and boot.img in the MBR (patched as grub-bios-setup does: [embedGrub]), and
//     the ESP's files written with the host's mtools (no mount). Trim and sync, unmount,
//     detach.
//
// [ToFilesystem] (a mounted, empty root; a separate /boot may be mounted at ROOT/boot):
//
//  1. Initialise the sysroot (ostree/repo, ostree/deploy, boot) and the repo config:
//     sysroot.bootloader (syslinux for extlinux, else none; grub2 once GRUB is set up),
//     sysroot.bootprefix=true and
//     sysroot.readonly=true as upstream, plus [install.ostree] from the install config.
//     libostree 2022.7 itself knows neither bootprefix nor readonly, but its
//     ostree-prepare-root reads sysroot.readonly (so /sysroot is mounted read-only at
//     boot), and its syslinux backend writes /boot/ostree/... paths into syslinux.cfg
//     next to a boot -> . symlink in /boot, so the paths resolve on a separate /boot.
//  2. For extlinux, what libostree's syslinux backend needs before the first deployment:
//     boot/loader.0/syslinux.cfg, boot/loader -> loader.0 and
//     boot/syslinux/syslinux.cfg -> ../loader/syslinux.cfg.
//  3. Create the stateroot (--stateroot, else the install config's, else "default"),
//     import the image (internal/deploy.Fetch), and deploy it: kernel arguments root=
//     (the root filesystem's UUID or the mount spec), rw, boot= (the /boot filesystem),
//     the install config's kargs, the image's kargs.d, --karg-delete, then --karg
//     (internal/kargs.ForInstall); the origin names --target-imgref (default: the source).
//  4. The deployment's /etc/fstab gets the /boot line (UUID=... /boot ext4 defaults 1 2)
//     that a separate /boot needs; --root-ssh-authorized-keys becomes
//     /etc/tmpfiles.d/bootc-root-ssh.conf as upstream writes it; .bootc-aleph.json
//     records the install.
//  5. The bootloader: the image's extlinux, run chrooted into the new deployment with
//     /dev, /proc, /sys and the target /boot bind-mounted (the host's extlinux is the
//     fallback, with a warning): extlinux --install /boot/syslinux. It boots the entry
//     libostree wrote into boot/loader/syslinux.cfg. Or GRUB ([installGrub]): the first
//     menu in boot/loader/grub.cfg (libostree's entries, from the image's ostree admin
//     instutil grub2-generate in the chroot), boot/grub/grub.cfg -> ../loader/grub.cfg,
//     the i386-pc modules and a core image from the image's grub-mkimage; for UEFI, the
//     image's signed shim as EFI/BOOT/BOOTX64.EFI (the removable-media path, which every
//     UEFI firmware boots without a boot entry; install registers none, on real disks
//     either: a disk image carries no firmware variables, and the variables of the machine
//     running the install are not those of the machine that will boot the disk), the signed
//     GRUB and MokManager beside it, and EFI/BOOT/grub.cfg, which finds /boot by UUID and
//     reads its menu. Then sysroot.bootloader=grub2: from then on libostree rewrites the
//     menu at every deployment, finalization and rollback (grub-mkconfig on the booted
//     host; this binary as its generator on an offline sysroot,
//     [UseGrubMenuGenerator]). to-filesystem writes the BIOS chain when the disk of /boot
//     has a BIOS boot partition and the UEFI chain into an ESP mounted at ROOT/boot/efi.
//  6. Sync and (unless --skip-finalize) remount the filesystems read-only.
//
// With --replace (wipe or alongside) the root need not be empty: wipe removes its files
// first, alongside keeps them; both empty /boot and an ESP at /boot/efi, after every check
// has passed. [ToExistingRoot] (upstream's `install to-existing-root`) is to-filesystem
// with alongside on the running system's own root (bound from / at /target when that does
// not exist; in the private mount namespace it re-executes into): root=, rootflags= and rd.*
// come from the running kernel's command line, /boot's UUID from the old /etc/fstab, a
// 20 s warning precedes it unless --acknowledge-destructive, and nothing is remounted
// read-only. The old system stays on the root filesystem, found under /sysroot after the
// reboot; with --cleanup, bootc-destructive-cleanup.service removes the files of its
// packages at the first boot ([RemovePreviousSystem]: dpkg's file lists; /etc, /var, home
// directories and files no package owns stay).
//
// Every step's error names it ("install: partitioning X: ...", "install: importing
// oci:...: ..."). Everything the install mounts or attaches is pushed on a
// [disk.Cleanup] stack and undone on every path, cancellation included; `bootc install
// to-disk` also runs in a private mount namespace so that nothing survives even a killed
// install.
package install
