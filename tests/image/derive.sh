#!/usr/bin/env bash
# Derives v2 and v3 of the test image from v1 with `podman build --isolation=chroot`
# (Containerfile.v2, Containerfile.v3) and adds them to the OCI layout. Called by build.sh
# inside a private mount namespace (unshare -m --propagation private): every mount podman
# makes disappears with this process, and tmpfs mounts hide what podman would otherwise
# touch outside WORKDIR: the host's /var/lib/containers (its store and the blob info cache,
# which podman 4.3 keeps there whatever --root says), the shared lock segment in /dev/shm
# and the CNI lock in /etc/cni/net.d.
#
# Usage (root; it makes its own mount namespace): derive.sh WORKDIR LAYOUT OCILAYOUT_TOOL
#
# vagrant/derive.sh sources this file for its functions (derive_sandbox, pod, podrun,
# derive_pull_v1, derive_export); sourced, it defines them and runs nothing.
set -euo pipefail

die() { echo "derive.sh: $*" >&2; exit 1; }

# derive_private_ns SCRIPT ARGS...: re-executes SCRIPT with ARGS in a mount namespace of
# its own (unshare -m --propagation private) unless this process already made one. The
# mark is this process's PID (exec keeps it), so an inherited mark does not count; the
# namespace cannot be compared with PID 1's, which is not readable in every sandbox.
derive_private_ns() {
  [ "${BOOTC_DERIVE_NS:-}" = "$$" ] && return 0
  exec unshare --mount --propagation private env BOOTC_DERIVE_NS=$$ bash "$@"
}

# derive_sandbox WORKDIR NAME: refuses to run outside the mount namespace of
# derive_private_ns (the mounts would hide host state), hides the host's podman state under tmpfs mounts (named
# bootc-NAME-shm, -hide and -run) and sets up a podman store in WORKDIR/podman for pod and
# podrun. It sets the globals work, p, run and podlog.
derive_sandbox() {
  work=$1
  local name=$2 d
  [ "${BOOTC_DERIVE_NS:-}" = "$$" ] || die "derive_sandbox outside derive_private_ns's mount namespace"
  mount --make-rprivate /
  mount -t tmpfs -o mode=1777,size=64m "bootc-$name-shm" /dev/shm
  for d in /var/lib/containers /etc/cni/net.d; do
    [ ! -d "$d" ] || mount -t tmpfs -o mode=0755,size=16m "bootc-$name-hide" "$d"
  done

  p=$work/podman
  mkdir -p "$p/root" "$p/tmp" "$work/context"
  # podman refuses a run root longer than 50 characters: use a short directory in /tmp,
  # with a tmpfs of this namespace on it so nothing is left in it.
  run=$(mktemp -d /tmp/bootc-run.XXXXXX)
  trap 'umount "$run" 2>/dev/null; rmdir "$run"' EXIT
  mount -t tmpfs -o mode=0700,size=64m "bootc-$name-run" "$run"
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
  podlog=$work/podman.log
}

# pod runs podman on the store of derive_sandbox.
pod() {
  CONTAINERS_CONF=$p/containers.conf CONTAINERS_STORAGE_CONF=$p/storage.conf TMPDIR=$p/tmp \
    podman --root "$p/root" --runroot "$run" --tmpdir "$p/tmp" --storage-driver overlay \
    --cgroup-manager cgroupfs --events-backend none "$@"
}

# podrun is pod with its output appended to the podman log; on failure it shows the end of
# the log and dies.
podrun() {
  pod "$@" >>"$podlog" 2>&1 || { tail -n 40 "$podlog" >&2; die "podman $1 failed (log above)"; }
}

# derive_pull_v1 LAYOUT: pulls v1 of the OCI layout LAYOUT as localhost/bootc-test:v1.
derive_pull_v1() {
  local id
  id=$(pod pull -q oci:"$1:v1" 2>>"$podlog") || { tail -n 40 "$podlog" >&2; die "podman pull failed"; }
  podrun tag "$id" localhost/bootc-test:v1
}

# derive_export OCILAYOUT_TOOL LAYOUT REPO TAG...: adds each image REPO:TAG to the OCI
# layout LAYOUT under TAG, then removes every image of the store. podman 4.3 pushing to
# oci: would recompress every layer (new digests for the layout's layers), so each is
# pushed uncompressed to dir: and ocilayout reuses the layout's blobs by diff ID.
derive_export() {
  local ocilayout=$1 layout=$2 repo=$3 v
  shift 3
  for v in "$@"; do
    podrun push --format oci "$repo:$v" dir:"$work/$v"
    "$ocilayout" import -layout "$layout" -tag "$v" -from "$work/$v"
    rm -rf "${work:?}/$v"
  done
  pod rmi -a -f >>"$podlog" 2>&1 || true
}

# Sourced: the functions only.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  return 0
fi

[ $# -eq 3 ] || die "usage: derive.sh WORKDIR LAYOUT OCILAYOUT_TOOL"
derive_private_ns "${BASH_SOURCE[0]}" "$@"
layout=$2 ocilayout=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timestamp_v2=1735776000 # 2025-01-02T00:00:00Z
timestamp_v3=1735862400 # 2025-01-03T00:00:00Z

derive_sandbox "$1" test
derive_pull_v1 "$layout"
podrun build --isolation=chroot --pull=never --timestamp="$timestamp_v2" \
  --build-arg BASE=localhost/bootc-test:v1 -f "$here/Containerfile.v2" -t localhost/bootc-test:v2 "$work/context"
podrun build --isolation=chroot --pull=never --timestamp="$timestamp_v3" \
  --build-arg BASE=localhost/bootc-test:v2 -f "$here/Containerfile.v3" -t localhost/bootc-test:v3 "$work/context"
derive_export "$ocilayout" "$layout" localhost/bootc-test v2 v3
