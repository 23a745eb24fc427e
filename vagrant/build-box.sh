#!/usr/bin/env bash
# Builds a Vagrant box (libvirt provider) of the bootc test VM: the Vagrant flavour of the
# test image (vagrant/Containerfile: the test image plus sshd and DHCP) installed with
# `bootc install to-disk --via-loopback` to a 10 GiB disk, converted to qcow2.
#
# Usage (root): vagrant/build-box.sh [OUT.box]   (default bin/bootc-test.box)
#
# The box is a tar.gz of:
#   box.img        the installed disk, qcow2 (qemu-img convert)
#   metadata.json  {"provider":"libvirt","format":"qcow2","virtual_size":10} (GiB)
#   Vagrantfile    SSH as root with the box's key, no synced folder, 2 CPUs, 1.5 GiB
#   vagrant_key    the private key whose public half the installed system accepts for root
#                  (a new key pair per box; it only guards a local test VM)
#   info.json      what the box holds (shown by `vagrant box list -i`)
# and is checked afterwards: archive members, metadata.json, `qemu-img check` of the
# box.img extracted from the archive, and (unless BOOTC_BOX_BOOT_CHECK=0) a boot of it in
# qemu with user-mode networking (forwarded from 127.0.0.1 only) to log in over SSH with
# vagrant_key as Vagrant would and run `bootc status`.
#
# Environment: BOOTC (bootc binary, default bin/bootc), BOOTC_TEST_IMAGE_DIR (image cache,
# default /var/tmp/bootc-test-image), BOOTC_VAGRANT_TARGET (the image the installed system
# follows, default 192.168.121.1:5000/bootc-test:stable), BOOTC_BOX_BOOT_CHECK.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out=$(realpath -m "${1:-$repo/bin/bootc-test.box}")
bootc=$(realpath "${BOOTC:-$repo/bin/bootc}")
cache=${BOOTC_TEST_IMAGE_DIR:-/var/tmp/bootc-test-image}
target=${BOOTC_VAGRANT_TARGET:-192.168.121.1:5000/bootc-test:stable}
size_gib=10

log() { echo "build-box.sh: $*" >&2; }
die() { echo "build-box.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (install to a loop device, podman build)"
[ -x "$bootc" ] || die "$bootc: not built (make build)"
if ! command -v qemu-img >/dev/null; then
  log "installing qemu-utils (qemu-img)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-utils >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-utils >/dev/null; } ||
    die "cannot install qemu-utils"
fi
for t in ssh-keygen qemu-img tar gzip podman unshare; do
  command -v "$t" >/dev/null || die "$t is missing (make deps installs the rest; ssh-keygen: openssh-client)"
done

work=$(mktemp -d /var/tmp/bootc-box.XXXXXX)
qemu_pid=
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill -KILL "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the test images, then their Vagrant flavour (cached by what they are built from) ---
hash=$("$repo/tests/image/build.sh" --inputs-hash "$bootc")
images=$cache/${hash:0:16}
BOOTC_TEST_IMAGE_CACHE=$cache "$repo/tests/image/build.sh" "$images" "$bootc"
vkey=$({
  echo "$hash"
  cat "$here/Containerfile" "$here/derive.sh" "$repo/tests/image/Containerfile.v2" "$repo/tests/image/Containerfile.v3"
} | sha256sum | cut -c1-16)
vdir=$cache/vagrant-$vkey
if [ -f "$vdir/.done" ]; then
  log "Vagrant images: cached $vdir/oci"
  touch "$vdir"
else
  log "Vagrant images: building $vdir/oci"
  rm -rf --one-file-system "$vdir"
  mkdir -p "$vdir/oci/blobs/sha256"
  # Start from the test layout (blobs as hard links: blobs are only ever replaced whole).
  ln "$images/oci/blobs/sha256/"* "$vdir/oci/blobs/sha256/" 2>/dev/null ||
    cp "$images/oci/blobs/sha256/"* "$vdir/oci/blobs/sha256/"
  cp "$images/oci/index.json" "$images/oci/oci-layout" "$vdir/oci/"
  (cd "$repo/tests/image/ocilayout" && CGO_ENABLED=0 go build -o "$work/ocilayout" .)
  unshare --mount --propagation private bash "$here/derive.sh" "$work/derive" "$images/oci" "$vdir/oci" "$work/ocilayout"
  rm -rf --one-file-system "$work/derive"
  touch "$vdir/.done"
fi
find "$cache" -mindepth 1 -maxdepth 1 -name 'vagrant-*' ! -name "vagrant-$vkey" -mtime +14 \
  -exec rm -rf --one-file-system {} + 2>/dev/null || true
layout=$vdir/oci

# --- install ---
box=$work/box
mkdir -p "$box"
ssh-keygen -q -t ed25519 -N '' -C "bootc-test vagrant box" -f "$box/vagrant_key"
truncate -s "${size_gib}G" "$work/disk.raw"
log "installing vagrant-v1 to a ${size_gib} GiB disk (following $target)"
"$bootc" --storage-root "$work/storage" install to-disk --via-loopback --filesystem ext4 \
  --source-imgref "oci:$layout:vagrant-v1" --target-imgref "$target" \
  --root-ssh-authorized-keys "$box/vagrant_key.pub" "$work/disk.raw"
# The store, and the run root bootc derives for it (/run/bootc/storage-<sha256 of the path>).
rm -rf --one-file-system "$work/storage" "/run/bootc/storage-$(printf '%s' "$work/storage" | sha256sum | cut -c1-16)"
rm -f "$box/vagrant_key.pub"

log "converting to qcow2"
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$box/box.img"
rm -f "$work/disk.raw"
cat >"$box/metadata.json" <<EOF
{"provider":"libvirt","format":"qcow2","virtual_size":$size_gib}
EOF
cp "$here/box.Vagrantfile" "$box/Vagrantfile"
digest=$(sed -n 's/^V1_DIGEST=//p' "$images/manifest.env")
cat >"$box/info.json" <<EOF
{"name":"bootc-test","description":"bootc test VM: the Vagrant flavour of the bootc test image (tests/image), installed with bootc install to-disk; follows $target","layout":"$layout","built":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","testImageV1":"$digest"}
EOF
chmod 0600 "$box/vagrant_key"
mkdir -p "$(dirname "$out")"
log "writing $out"
tar -C "$box" -czf "$out.tmp" metadata.json Vagrantfile info.json vagrant_key box.img
mv "$out.tmp" "$out"

# --- checks of what was written ---
log "checking $out"
members=$(tar -tzf "$out" | LC_ALL=C sort | tr '\n' ' ')
[ "$members" = "Vagrantfile box.img info.json metadata.json vagrant_key " ] ||
  die "box members: $members"
check=$work/check
mkdir -p "$check"
tar -C "$check" -xzf "$out"
python3 - "$check/metadata.json" <<'EOF' || die "metadata.json is not what vagrant-libvirt expects"
import json, sys
m = json.load(open(sys.argv[1]))
assert m == {"provider": "libvirt", "format": "qcow2", "virtual_size": m["virtual_size"]}, m
assert isinstance(m["virtual_size"], int) and m["virtual_size"] > 0, m
EOF
qemu-img check -q "$check/box.img" || die "qemu-img check box.img failed"
fmt=$(qemu-img info --output=json "$check/box.img" | python3 -c 'import json,sys; i=json.load(sys.stdin); print(i["format"], i["virtual-size"])')
[ "$fmt" = "qcow2 $((size_gib << 30))" ] || die "box.img: format and virtual size $fmt, want qcow2 $((size_gib << 30))"
[ "$(stat -c %a "$check/vagrant_key")" = 600 ] || die "vagrant_key is not mode 0600 in the box"
ssh-keygen -y -f "$check/vagrant_key" >/dev/null || die "vagrant_key is not a private key"

if [ "${BOOTC_BOX_BOOT_CHECK:-1}" != 0 ]; then
  # Boot box.img (throw-away overlay) with a NIC on qemu's user network, SSH forwarded from
  # 127.0.0.1 only, and log in as Vagrant would.
  log "boot check: booting box.img in qemu (TCG: about a minute) and logging in over SSH"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  accel=tcg
  qemu-system-x86_64 -accel "$accel" -machine q35 -m 1536 -smp 2 -nographic -no-reboot -monitor none \
    -serial "file:$work/box-serial.log" -snapshot \
    -drive "file=$check/box.img,format=qcow2,if=virtio" \
    -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:22" >"$work/box-qemu.err" 2>&1 </dev/null &
  qemu_pid=$!
  sshopts=(-i "$check/vagrant_key" -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR)
  ok=
  for _ in $(seq 1 60); do
    sleep 5
    kill -0 "$qemu_pid" 2>/dev/null || break
    if ssh "${sshopts[@]}" root@127.0.0.1 'bootc status --format humanreadable' >"$work/box-status" 2>"$work/box-ssh.err"; then
      ok=1
      break
    fi
  done
  if [ -z "$ok" ]; then
    tail -n 30 "$work/box-serial.log" >&2 || true
    cat "$work/box-ssh.err" >&2 || true
    die "boot check: no SSH login as root with vagrant_key within 5 minutes"
  fi
  sed 's/^/    /' "$work/box-status" >&2
  ssh "${sshopts[@]}" root@127.0.0.1 'systemctl poweroff' >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 1; done
  kill -KILL "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=
  log "boot check: SSH login as root with vagrant_key works"
fi
log "box: $out ($(du -h "$out" | cut -f1)); images for switch/upgrade: oci:$layout:{vagrant-v1,vagrant-v2,vagrant-v3}"
echo "$layout" >"$out.layout"
