#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, skipping what is present.
# Usage: hack/deps.sh [group...]   groups: build test (default: build test)
set -euo pipefail

build=(gcc make pkg-config libostree-dev libglib2.0-dev)
test=(ostree e2fsprogs xfsprogs btrfs-progs attr util-linux mount libarchive-tools podman skopeo docker-registry fuse-overlayfs uidmap fdisk dosfstools mtools ovmf debootstrap wget debian-archive-keyring qemu-system-x86 qemu-utils)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build test)
want=()
for g in "${groups[@]}"; do
  case "$g" in
    build) want+=("${build[@]}") ;;
    test) want+=("${test[@]}") ;;
    *) echo "deps.sh: unknown group $g" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: missing packages ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
