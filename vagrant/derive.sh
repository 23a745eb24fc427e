#!/usr/bin/env bash
# Builds the Vagrant flavour of the bootc test images into an OCI layout: vagrant-v1 is v1
# plus vagrant/Containerfile (sshd, DHCP), vagrant-v2 and vagrant-v3 apply the test
# image's Containerfile.v2 and Containerfile.v3 on top of it, so that switching and
# upgrading by hand keeps SSH working. Called by vagrant/build-box.sh inside a private
# mount namespace (unshare -m --propagation private), with a temporary podman store, as
# tests/image/derive.sh does: nothing of the host's podman is touched, every mount goes
# with this process.
#
# Usage (root, in a private mount namespace): derive.sh WORKDIR TEST_LAYOUT OUT_LAYOUT OCILAYOUT_TOOL
set -euo pipefail

die() { echo "vagrant/derive.sh: $*" >&2; exit 1; }
[ $# -eq 4 ] || die "usage: derive.sh WORKDIR TEST_LAYOUT OUT_LAYOUT OCILAYOUT_TOOL"
work=$1 test_layout=$2 out=$3 ocilayout=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
images=$(cd "$here/../tests/image" && pwd)

[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
  die "must run in a private mount namespace (unshare -m --propagation private)"
mount --make-rprivate /
mount -t tmpfs -o mode=1777,size=64m bootc-vagrant-shm /dev/shm
for d in /var/lib/containers /etc/cni/net.d; do
  [ ! -d "$d" ] || mount -t tmpfs -o mode=0755,size=16m bootc-vagrant-hide "$d"
done

p=$work/podman
mkdir -p "$p/root" "$p/tmp" "$work/context"
run=$(mktemp -d /tmp/bootc-run.XXXXXX)
trap 'umount "$run" 2>/dev/null; rmdir "$run"' EXIT
mount -t tmpfs -o mode=0700,size=64m bootc-vagrant-run "$run"
cat >"$p/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$p/root"
runroot = "$run"
EOF
cat >"$p/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
image_copy_tmp_dir = "$p/tmp"
tmp_dir = "$p/tmp"
EOF
pod() {
  CONTAINERS_CONF=$p/containers.conf CONTAINERS_STORAGE_CONF=$p/storage.conf TMPDIR=$p/tmp \
    podman --root "$p/root" --runroot "$run" --tmpdir "$p/tmp" --storage-driver overlay \
    --cgroup-manager cgroupfs --events-backend none "$@"
}
podlog=$work/podman.log
podrun() {
  pod "$@" >>"$podlog" 2>&1 || { tail -n 40 "$podlog" >&2; die "podman $1 failed (log above)"; }
}

echo "vagrant/derive.sh: podman build of vagrant-v1 (apt-get install openssh-server)" >&2
id=$(pod pull -q oci:"$test_layout:v1" 2>>"$podlog") || { tail -n 40 "$podlog" >&2; die "podman pull failed"; }
podrun tag "$id" localhost/bootc-test:v1
podrun build --isolation=chroot --pull=never --build-arg BASE=localhost/bootc-test:v1 \
  -f "$here/Containerfile" -t localhost/bootc-vagrant:vagrant-v1 "$work/context"
echo "vagrant/derive.sh: podman build of vagrant-v2, vagrant-v3 (tests/image/Containerfile.v2, .v3)" >&2
podrun build --isolation=chroot --pull=never --build-arg BASE=localhost/bootc-vagrant:vagrant-v1 \
  -f "$images/Containerfile.v2" -t localhost/bootc-vagrant:vagrant-v2 "$work/context"
podrun build --isolation=chroot --pull=never --build-arg BASE=localhost/bootc-vagrant:vagrant-v2 \
  -f "$images/Containerfile.v3" -t localhost/bootc-vagrant:vagrant-v3 "$work/context"
# Uncompressed to dir:, then into the layout, whose blobs (hard links to the test
# layout's) ocilayout reuses by diff ID.
for v in vagrant-v1 vagrant-v2 vagrant-v3; do
  podrun push --format oci localhost/bootc-vagrant:$v dir:"$work/$v"
  "$ocilayout" import -layout "$out" -tag "$v" -from "$work/$v"
  rm -rf "${work:?}/$v"
done
pod rmi -a -f >>"$podlog" 2>&1 || true
