#!/usr/bin/env bash
# make demo: bootc from image to booted VM, on this machine.
#
#  1. builds (or reuses) the bootable test images v1, v2, v3 (tests/image/build.sh);
#  2. installs v1 on a disk image with `bootc install to-disk --via-loopback`;
#  3. mounts the disk's root and /boot partitions (loop devices at the partitions'
#     offsets) and shows `bootc --sysroot MNT status`;
#  4. switches the disk to v2 offline: `bootc --sysroot MNT switch --transport oci LAYOUT:v2`,
#     shows the status again and unmounts;
#  5. boots the disk in qemu through its own bootloader (GRUB, on BIOS) and shows the marker
#     line the booted system prints on its serial console: BOOTC-TEST-MARKER version=2.
#
# Everything happens in a temporary directory under /var/tmp; qemu, mounts and loop
# devices are gone when the script ends, whichever way it ends.
#
# Usage (root): hack/demo.sh [BOOTC]   (default bin/bootc; `make demo` builds it first)
# Environment: BOOTC_DEMO_ACCEL=kvm|tcg forces the accelerator (default: KVM when a KVM
# boot works here, else TCG); BOOTC_DEMO_KEEP=1 keeps the work directory.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bootc=$(realpath "${1:-bin/bootc}")
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (loop devices, mounts)" >&2; exit 1; }
[ -x "$bootc" ] || { echo "demo.sh: $bootc: not built (make build)" >&2; exit 1; }
for t in qemu-system-x86_64 partx losetup mkfs.ext4; do
  command -v "$t" >/dev/null || { echo "demo.sh: $t is missing (make deps installs it)" >&2; exit 1; }
done

if [ -t 1 ]; then bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'; else bold='' dim='' off=''; fi
t0=$SECONDS
step() { printf '\n%s==> [%3ds] %s%s\n' "$bold" $((SECONDS - t0)) "$*" "$off"; }
info() { printf '    %s\n' "$*"; }
show() { printf '%s    $ %s%s\n' "$dim" "$*" "$off"; "$@"; }

work=$(mktemp -d /var/tmp/bootc-demo.XXXXXX)
mnt=$work/mnt
loops=()
qemu_pid=
cleanup() {
  local rc=$?
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill -KILL "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  for m in "$mnt/boot" "$mnt"; do
    if mountpoint -q "$m" 2>/dev/null; then umount "$m" 2>/dev/null || umount -l "$m" || true; fi
  done
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  if [ -n "${BOOTC_DEMO_KEEP:-}" ]; then
    echo "demo.sh: work directory kept: $work" >&2
  else
    rm -rf --one-file-system "$work"
  fi
  return $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# remove_store removes the containers-storage store bootc pulled into ($work/storage) and
# the run root bootc derives for it (/run/bootc/storage-<first 16 hex of sha256(path)>).
remove_store() {
  local h s
  h=$(printf '%s' "$work/storage" | sha256sum | cut -c1-16)
  rm -rf --one-file-system "$work/storage" "/run/bootc/storage-$h"
  # The run root of the installed system's store, which the offline switch used.
  s=$(printf '%s' "$mnt/ostree/deploy/default/var/lib/containers/storage" | sha256sum | cut -c1-16)
  rm -rf "/run/bootc/storage-$s"
}

# --- 1. images ---
step "Building (or reusing) the bootable test images v1, v2, v3 with tests/image/build.sh"
info "Debian bookworm + kernel + dracut/ostree initramfs + systemd + GRUB + this bootc;"
info "the first build takes a few minutes, later ones reuse it."
cache=${BOOTC_TEST_IMAGE_DIR:-/var/tmp/bootc-test-image}
hash=$(tests/image/build.sh --inputs-hash "$bootc")
out=$cache/${hash:0:16}
BOOTC_TEST_IMAGE_CACHE=$cache tests/image/build.sh "$out" "$bootc"
layout=$out/oci
info "OCI layout: $layout (tags v1 v2 v3)"
grep -E '^V[123]_DIGEST=' "$out/manifest.env" | sed 's/^/    /'

# --- 2. install ---
step "Installing v1 on a 4 GiB disk image: bootc install to-disk --via-loopback"
truncate -s 4G "$work/disk.raw"
show "$bootc" --storage-root "$work/storage" install to-disk --via-loopback --filesystem ext4 \
  --source-imgref "oci:$layout:v1" "$work/disk.raw"
remove_store

# --- 3. mount and status ---
# partx prints NR START SECTORS NAME for each GPT partition; the kernel makes no partition
# devices for loop devices here, so each partition gets its own loop device at its offset.
part() { partx -g -o START,SECTORS,NAME "$work/disk.raw" | awk -v n="$1" '$3 == n { print $1, $2 }'; }
# attach NAME: a read-write loop device over partition NAME of the disk, in $dev (not
# printed: a command substitution would run in a subshell and lose track of it).
attach() {
  local start size
  read -r start size < <(part "$1")
  [ -n "$start" ] || { echo "demo.sh: no partition named $1 on the disk" >&2; exit 1; }
  dev=$(losetup --find --show --offset $((start * 512)) --sizelimit $((size * 512)) "$work/disk.raw")
  loops+=("$dev")
}
mount_disk() {
  local root boot dev
  attach root
  root=$dev
  attach boot
  boot=$dev
  mkdir -p "$mnt"
  mount "$root" "$mnt"
  mount "$boot" "$mnt/boot"
  info "root partition: $root on $mnt, /boot partition: $boot on $mnt/boot"
}
umount_disk() {
  umount "$mnt/boot"
  umount "$mnt"
  for l in "${loops[@]}"; do losetup -d "$l"; done
  loops=()
}

step "Mounting the installed disk's partitions (loop devices at the partitions' offsets)"
mount_disk
step "bootc status of the installed disk"
show "$bootc" --sysroot "$mnt" status --format humanreadable

# --- 4. offline switch ---
step "Switching the disk to v2 offline: the new deployment is made now, /etc merged in-process"
info "the installed system's own store and repo are used: only v2's new layer is read"
show "$bootc" --sysroot "$mnt" switch --transport oci "$layout:v2"
remove_store
step "bootc status after the switch (v2 boots next, v1 is the rollback)"
show "$bootc" --sysroot "$mnt" status --format humanreadable
info "GRUB menu (libostree's entries; the first is the default):"
grep -E '^menuentry' "$mnt/boot/loader/grub.cfg" | cut -d"'" -f2 | sed 's/^/      /'
umount_disk
info "unmounted"

# --- 5. boot ---
# A small second disk labelled BOOTCSTEPS: the test image's marker service runs its step.sh
# after printing the marker; this one prints `bootc status` and powers the VM off.
mkdir -p "$work/steps"
cat >"$work/steps/step.sh" <<'EOF'
echo "bootc status, in the booted VM:"
bootc status --format humanreadable
echo poweroff >action
EOF
mkfs.ext4 -q -L BOOTCSTEPS -d "$work/steps" "$work/steps.img" 16M >/dev/null

qemu_args=(-machine q35 -m 1536 -smp 2 -nographic -no-reboot -nic none -monitor none
  -drive "file=$work/disk.raw,format=raw,if=virtio,cache=unsafe")

# kvm_works: /dev/kvm can be present without working (nested virtualization), so boot the
# disk with KVM on a throw-away overlay (-snapshot) until its marker appears. Run in a
# subshell with stderr discarded: bash reports a qemu that aborts as a dead job.
kvm_works() {
  local pid rc=1
  : >"$work/kvm.log"
  qemu-system-x86_64 -accel kvm -cpu host "${qemu_args[@]}" -snapshot -serial "file:$work/kvm.log" \
    >"$work/kvm.err" 2>&1 </dev/null &
  pid=$!
  trap 'kill -KILL $pid 2>/dev/null' EXIT
  for _ in $(seq 1 120); do
    sleep 1
    if grep -q 'BOOTC-TEST-MARKER' "$work/kvm.log"; then rc=0; break; fi
    kill -0 "$pid" 2>/dev/null || break
    grep -qE 'KVM internal error|emulation failure' "$work/kvm.err" && break
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return $rc
}
accel=${BOOTC_DEMO_ACCEL:-}
if [ -z "$accel" ]; then
  accel=tcg
  if [ -w /dev/kvm ]; then
    step "Checking whether KVM works here (a throw-away KVM boot of the disk)"
    if (kvm_works) 2>/dev/null; then
      accel=kvm
      info "KVM works"
    else
      info "KVM does not work here ($(grep -m1 -v 'warning:' "$work/kvm.err" || echo 'no marker')); using TCG"
    fi
  fi
fi
extra=()
[ "$accel" = kvm ] && extra=(-cpu host)

step "Booting the disk in qemu ($accel; no -kernel: SeaBIOS -> GRUB -> the v2 deployment)"
[ "$accel" = tcg ] && info "TCG emulates the CPU: 20 to 40 s to the marker, about a minute to power-off"
serial=$work/serial.log
: >"$serial"
qemu-system-x86_64 -accel "$accel" "${extra[@]}" "${qemu_args[@]}" \
  -drive "file=$work/steps.img,format=raw,if=virtio" -serial "file:$serial" \
  >"$work/qemu.err" 2>&1 </dev/null &
qemu_pid=$!
# Follow the serial console: milestones and everything the marker service prints.
shown=0
deadline=$((SECONDS + 600))
while :; do
  sleep 1
  n=$(wc -l <"$serial")
  if [ "$n" -gt "$shown" ]; then
    sed -n "$((shown + 1)),${n}p" "$serial" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' |
      grep -aE 'SYSLINUX|Linux version|Welcome to|Reached target.*Multi-User|BOOTC-TEST|Power-Off|reboot: Power down' |
      sed -E 's/^\[ *[0-9.]+\] //; s/^/    console: /' | cut -c1-160 || true
    shown=$n
  fi
  kill -0 "$qemu_pid" 2>/dev/null || break
  if [ $SECONDS -gt $deadline ]; then
    echo "demo.sh: the VM did not power off within 10 minutes; last console lines:" >&2
    tail -n 30 "$serial" >&2
    exit 1
  fi
done
wait "$qemu_pid" || true
qemu_pid=
marker=$(tr -d '\r' <"$serial" | grep -a -o 'BOOTC-TEST-MARKER version=[0-9a-z]*' | head -n1 || true)
if [ "$marker" != "BOOTC-TEST-MARKER version=2" ]; then
  echo "demo.sh: expected BOOTC-TEST-MARKER version=2 on the console, got '${marker:-nothing}'; last lines:" >&2
  tail -n 40 "$serial" >&2
  exit 1
fi
step "Done in $((SECONDS - t0)) s: the VM booted v2, as switched offline; cleaning up (qemu exited, nothing mounted)"
trap - EXIT
cleanup
left=$( (losetup -a | grep -F "$work") || true; (grep -F " $work" /proc/mounts) || true)
if [ -n "$left" ] || pgrep -f "file=$work/disk.raw" >/dev/null; then
  echo "demo.sh: left behind: $left" >&2
  exit 1
fi
echo "$marker"
