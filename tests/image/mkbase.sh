#!/usr/bin/env bash
# Builds the base root filesystem of the bootable test image and writes it as one
# uncompressed tar: debootstrap --variant=minbase, the packages of packages.txt (dracut, not
# initramfs-tools), an initramfs with dracut's ostree module, kernel and initramfs in
# usr/lib/modules/$KVER, /boot emptied, GRUB's /etc/default/grub, ostree-style
# symlinks, docs/man/locales stripped.
#
# Usage (root): mkbase.sh WORKDIR SUITE MIRROR PACKAGES_FILE OUTDIR
#   WORKDIR  an empty scratch directory (the rootfs is built in WORKDIR/rootfs)
#   OUTDIR   receives rootfs.tar, kver and packages.list
# Called by build.sh; its inputs (this file, the package list, suite, mirror) key the cache.
set -euo pipefail

die() { echo "mkbase.sh: $*" >&2; exit 1; }
[ $# -eq 5 ] || die "usage: mkbase.sh WORKDIR SUITE MIRROR PACKAGES_FILE OUTDIR"
work=$1 suite=$2 mirror=$3 pkgfile=$4 out=$5
[ "$(id -u)" = 0 ] || die "must run as root"
root=$work/rootfs
mkdir -p "$root" "$out"

mounted=()
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true
  done
  mounted=()
}
trap unmount_all EXIT
mnt() { # mnt TARGET MOUNT-ARGS...
  local target=$1
  shift
  mount "$@" "$target"
  mounted+=("$target")
}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root "$@"; }

mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$pkgfile" | grep -v '^$')
kernel_pkgs=() other_pkgs=()
for p in "${pkgs[@]}"; do
  case "$p" in linux-image-*) kernel_pkgs+=("$p") ;; *) other_pkgs+=("$p") ;; esac
done
[ ${#kernel_pkgs[@]} -gt 0 ] || die "$pkgfile names no linux-image-* package"

# dpkg drops docs, man pages and translations for everything it unpacks, including what
# debootstrap installs (its second stage reads the target's dpkg.cfg.d).
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/01-bootc-test-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/linda/*
EOF

echo "mkbase.sh: debootstrap --variant=minbase $suite from $mirror" >&2
debootstrap --variant=minbase --arch=amd64 "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  die "debootstrap failed (log above)"
}

mnt "$root/proc" -t proc proc
mnt "$root/sys" -t sysfs sysfs
mnt "$root/dev" --bind /dev

# No service starts inside the chroot; no recommends; dracut instead of initramfs-tools.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cat >"$root/etc/apt/apt.conf.d/90-bootc-test-build" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dpkg::Use-Pty "false";
EOF
cat >"$root/etc/apt/preferences.d/no-initramfs-tools" <<'EOF'
# The ostree dracut module needs dracut; initramfs-tools must never be chosen.
Package: initramfs-tools
Pin: version *
Pin-Priority: -1
EOF

echo "mkbase.sh: apt-get install ${other_pkgs[*]}" >&2
in_root apt-get update -qq >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; die "apt-get update failed"; }
in_root apt-get install -y -q --no-install-recommends "${other_pkgs[@]}" >>"$work/apt.log" 2>&1 ||
  { tail -n 30 "$work/apt.log" >&2; die "apt-get install failed"; }
# The kernel's postinst would run dracut's hook to write /boot/initrd.img-*, which ostree
# does not use: disable it while the kernel is installed, then restore it.
hook=$root/etc/kernel/postinst.d/dracut
[ ! -e "$hook" ] || chmod a-x "$hook"
echo "mkbase.sh: apt-get install ${kernel_pkgs[*]}" >&2
in_root apt-get install -y -q --no-install-recommends "${kernel_pkgs[@]}" >>"$work/apt.log" 2>&1 ||
  { tail -n 30 "$work/apt.log" >&2; die "apt-get install (kernel) failed"; }
[ ! -e "$hook" ] || chmod 0755 "$hook"
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
if in_root dpkg-query -W -f='${Status}\n' initramfs-tools 2>/dev/null | grep -q '^install ok installed'; then
  die "initramfs-tools got installed despite the pin"
fi

mapfile -t kvers < <(ls "$root/usr/lib/modules")
[ ${#kvers[@]} -eq 1 ] || die "expected exactly one kernel in usr/lib/modules, found: ${kvers[*]}"
kver=${kvers[0]}
moddir=$root/usr/lib/modules/$kver

# Keep only the kernel modules a virtio virtual machine with a serial console loads: of
# drivers/, the buses, disks, consoles and input devices of qemu's q35 machine, and
# drivers/net's own modules (virtio_net for the Vagrant box, veth), not its hardware; the
# filesystems the tests mount (ext4, vfat, overlay for podman, efivarfs...); of net/, what
# a DHCP client and podman's bridge networks need. Each in-guest pull and import hashes
# and decompresses every byte of the image again under TCG, where SHA-256 runs at about
# 15 MB/s: this takes the modules from 177 to about 50 MiB.
keep_drivers="acpi ata base block cdrom char cpufreq firmware hid input pci rtc tty virtio"
keep_fs="autofs configfs efivarfs ext4 fat fuse isofs jbd2 nls overlayfs pstore quota squashfs"
keep_net="802 bridge core ipv4 ipv6 llc netfilter netlink packet unix"
prune_modules() { # prune_modules DIR KEEP...: remove DIR's subdirectories not named in KEEP
  local dir=$1 sub
  shift
  for sub in "$dir"/*/; do
    [[ " $* " == *" $(basename "$sub") "* ]] || rm -rf "${sub:?}"
  done
}
prune_modules "$moddir/kernel/drivers" $keep_drivers scsi net
prune_modules "$moddir/kernel/drivers/scsi"   # HBAs; sd_mod, sr_mod and virtio_scsi stay
prune_modules "$moddir/kernel/drivers/net"    # hardware; virtio_net and failover stay
prune_modules "$moddir/kernel/fs" $keep_fs
prune_modules "$moddir/kernel/net" $keep_net
rm -rf "${moddir:?}/kernel/sound"
in_root depmod -a "$kver"

echo "mkbase.sh: dracut for $kver" >&2
in_root dracut --no-hostonly --add ostree \
  --omit "crypt dm dmraid mdraid lvm multipath resume nvdimm lunmask btrfs" \
  --drivers "virtio_blk virtio_pci virtio_scsi sd_mod ext4" \
  --force "/usr/lib/modules/$kver/initramfs.img" "$kver" >"$work/dracut.log" 2>&1 ||
  { tail -n 30 "$work/dracut.log" >&2; die "dracut failed"; }
in_root lsinitrd "/usr/lib/modules/$kver/initramfs.img" >"$work/lsinitrd.txt" 2>&1 || true
grep -q 'ostree-prepare-root' "$work/lsinitrd.txt" || die "the initramfs has no ostree-prepare-root"
cp "$root/boot/vmlinuz-$kver" "$moddir/vmlinuz"
chmod 0644 "$moddir/vmlinuz" "$moddir/initramfs.img"

# shellcheck disable=SC2016
in_root dpkg-query -W -f='${Package} ${Version}\n' >"$out/packages.list"

# Build-time configuration goes; what the booted system needs stays.
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/apt/apt.conf.d/90-bootc-test-build"
in_root apt-get clean
unmount_all
if grep -q " ${root}[/ ]" /proc/mounts; then
  die "something is still mounted under $root; not cleaning it"
fi

# /boot is the bootloader's (ostree writes its own entries there); the kernel's symlinks
# to it in / would dangle.
find "$root/boot" -mindepth 1 -delete
rm -f "$root"/vmlinuz "$root"/vmlinuz.old "$root"/initrd.img "$root"/initrd.img.old
# udev's hardware database (names and quirks of physical devices), GRUB's network and
# CD-ROM EFI images, which no test boots, and podman's CNI plugins (44 MiB): the tests'
# podman builds with --isolation=chroot, which sets up no network (the Vagrant flavour
# installs them again).
rm -rf "$root"/usr/lib/udev/hwdb.bin "$root"/usr/lib/udev/hwdb.d "$root"/etc/udev/hwdb.bin
find "$root/usr/lib/cni" -mindepth 1 -delete
rm -f "$root"/usr/lib/grub/x86_64-efi/monolithic/{grubnetx64,grubnetx64-installer,gcdx64}.efi \
  "$root"/usr/lib/grub/x86_64-efi-signed/{grubnetx64,grubnetx64-installer,gcdx64}.efi.signed
# Docs and caches (the dpkg excludes above cover what dpkg unpacked later).
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/usr/share/lintian "$root"/usr/share/linda \
  "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/lib/dpkg/*-old "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/* "$root"/run/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
# No device nodes or FIFOs in an image (debootstrap creates some in /dev).
find "$root/dev" -mindepth 1 -delete
find "$root" -xdev \( -type b -o -type c -o -type p \) -delete

# Identity of the machine: generated at first boot; no host leftovers.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
echo bootc-test >"$root/etc/hostname"
rm -f "$root/etc/resolv.conf"
: >"$root/etc/resolv.conf"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	bootc-test
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
# GRUB as libostree drives it: grub-mkconfig runs ostree-boot's /etc/grub.d/15_ostree, which
# writes one menu entry per deployment; it sources /etc/default/grub, which only the
# grub-pc and grub-efi-amd64 packages (not installed) would create.
[ -L "$root/etc/grub.d/15_ostree" ] || [ -e "$root/etc/grub.d/15_ostree" ] || die "ostree-boot installed no /etc/grub.d/15_ostree"
cat >"$root/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX=""
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF

# The serial console carries test output only.
ln -sfn /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"

# ostree layout: /home and /root live in /var, /ostree points into the sysroot.
rm -rf "${root:?}/home" "${root:?}/root"
ln -s var/home "$root/home"
ln -s var/roothome "$root/root"
ln -s sysroot/ostree "$root/ostree"
mkdir -p "$root/sysroot"

# One tar, names without "./", numeric owners, extended attributes kept.
(cd "$root" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort) >"$work/top-level"
tar --create --file="$out/rootfs.tar" --directory="$root" --numeric-owner --xattrs \
  --xattrs-include='*' --sort=name --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime,delete=mtime \
  --files-from="$work/top-level"
echo "$kver" >"$out/kver"
echo "mkbase.sh: rootfs.tar $(du -m "$out/rootfs.tar" | cut -f1) MiB, kernel $kver" >&2
