#!/usr/bin/env bash
# Builds the Vagrant flavour of the bootc test images into an OCI layout: vagrant-v1 is v1
# plus vagrant/Containerfile (sshd, DHCP), vagrant-v2 and vagrant-v3 apply the test
# image's Containerfile.v2 and Containerfile.v3 on top of it, so that switching and
# upgrading by hand keeps SSH working. Called by vagrant/build-box.sh inside a private
# mount namespace (unshare -m --propagation private), with a temporary podman store set up
# by the functions of tests/image/derive.sh (sourced): nothing of the host's podman is
# touched, every mount goes with this process.
#
# Usage (root; it makes its own mount namespace): derive.sh WORKDIR TEST_LAYOUT OUT_LAYOUT OCILAYOUT_TOOL
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
images=$(cd "$here/../tests/image" && pwd)
# shellcheck source=../tests/image/derive.sh
source "$images/derive.sh"
die() { echo "vagrant/derive.sh: $*" >&2; exit 1; }
[ $# -eq 4 ] || die "usage: derive.sh WORKDIR TEST_LAYOUT OUT_LAYOUT OCILAYOUT_TOOL"
derive_private_ns "${BASH_SOURCE[0]}" "$@"
test_layout=$2 out=$3 ocilayout=$4

derive_sandbox "$1" vagrant
echo "vagrant/derive.sh: podman build of vagrant-v1 (apt-get install openssh-server)" >&2
derive_pull_v1 "$test_layout"
podrun build --isolation=chroot --pull=never --build-arg BASE=localhost/bootc-test:v1 \
  -f "$here/Containerfile" -t localhost/bootc-vagrant:vagrant-v1 "$work/context"
echo "vagrant/derive.sh: podman build of vagrant-v2, vagrant-v3 (tests/image/Containerfile.v2, .v3)" >&2
podrun build --isolation=chroot --pull=never --build-arg BASE=localhost/bootc-vagrant:vagrant-v1 \
  -f "$images/Containerfile.v2" -t localhost/bootc-vagrant:vagrant-v2 "$work/context"
podrun build --isolation=chroot --pull=never --build-arg BASE=localhost/bootc-vagrant:vagrant-v2 \
  -f "$images/Containerfile.v3" -t localhost/bootc-vagrant:vagrant-v3 "$work/context"
# Uncompressed to dir:, then into the layout, whose blobs (hard links to the test
# layout's) ocilayout reuses by diff ID.
derive_export "$ocilayout" "$out" localhost/bootc-vagrant vagrant-v1 vagrant-v2 vagrant-v3
