#!/usr/bin/env bash
# Builds the bootable Debian test images v1, v2 and v3 into one OCI image layout.
#
# Usage (root):
#   tests/image/build.sh OUTDIR BOOTC_BINARY   build (or reuse) OUTDIR/oci:{v1,v2,v3}
#   tests/image/build.sh --inputs-hash BOOTC_BINARY   print the hash keying OUTDIR's content
#   tests/image/build.sh --mirror                     print the Debian mirror it would use
#
# OUTDIR afterwards holds:
#   oci/            OCI image layout, tags v1, v2, v3 (gzip layers; v2 and v3 reuse v1's blobs)
#   manifest.env    shell assignments: KVER, SUITE, OCI_LAYOUT, TAGS, V1_DIGEST, V1_LAYERS,
#                   V1_SIZE, ... (see the end of this script)
#   bootc           a copy of BOOTC_BINARY (the image's /usr/bin/bootc)
#   .inputs-hash    written last; when it matches the inputs the script does nothing
#
# v1: base layer (mkbase.sh: debootstrap minbase + packages.txt + dracut initramfs with the
#     ostree module), cached in $BOOTC_TEST_IMAGE_CACHE/base-<hash> (default cache
#     /var/tmp/bootc-test-image), plus a small layer with rootfs/ (marker unit and script,
#     kargs.d console file, policy.json, tmpfiles), the version file and /usr/bin/bootc.
#     Written with ocilayout (no container engine); labels containers.bootc=1,
#     ostree.bootable=true, org.opencontainers.image.version=1.
# v2, v3: derive.sh: `podman build --isolation=chroot` from Containerfile.v2 /
#     Containerfile.v3 in a temporary podman store, added to the same layout (sharing v1's
#     blobs).
# mkbase.sh and derive.sh run in private mount namespaces: nothing they mount outlives them.
#
# The inputs hash covers this directory's build files, the project's systemd/ units, the package list, the suite, the
# mirror and the bootc binary; the base layer's cache key only the package list, mkbase.sh,
# the suite and the mirror, so a new bootc binary rebuilds the small layers only.
# Exit status 77: this machine cannot build the image (not root, a host tool missing, the
# Debian mirror unreachable); the message says which.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The project's systemd units (systemd/), which the image ships.
units=$(cd "$here/../../systemd" && pwd)
suite=${BOOTC_TEST_SUITE:-bookworm}
cache=${BOOTC_TEST_IMAGE_CACHE:-/var/tmp/bootc-test-image}
# v1's creation time (fixed, so that the same inputs give the same digests; derive.sh has
# v2's and v3's).
created_v1=2025-01-01T00:00:00Z

log() { echo "build.sh: $*" >&2; }
die() { echo "build.sh: $*" >&2; exit 1; }
skip() { echo "build.sh: cannot build here: $*" >&2; exit 77; }

# The Debian mirror of this machine's apt sources (deb822 .sources or one-line .list) that
# serves $suite; $BOOTC_TEST_MIRROR overrides it.
find_mirror() {
  if [ -n "${BOOTC_TEST_MIRROR:-}" ]; then
    echo "$BOOTC_TEST_MIRROR"
    return
  fi
  local f m
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    m=$(awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^[ \t]*#/) continue
          split($i, kv, ":"); key = tolower(kv[1]); val = substr($i, length(kv[1]) + 2)
          gsub(/^[ \t]+|[ \t]+$/, "", val)
          if (key == "types") types = val
          else if (key == "uris") uris = val
          else if (key == "suites") suites = val
          else if (key == "enabled") enabled = tolower(val)
        }
        if (enabled == "no" || (" " types " ") !~ / deb /) next
        if ((" " suites " ") !~ (" " suite " ")) next
        split(uris, u, /[ \t]+/); print u[1]; exit
      }' "$f")
    if [ -n "$m" ]; then echo "${m%/}"; return; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    m=$(sed -e 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }')
    if [ -n "$m" ]; then echo "${m%/}"; return; fi
  done
  return 1
}

sha() { sha256sum | cut -d' ' -f1; }

# Everything that decides the content of the base layer.
base_key() {
  {
    echo "suite=$suite mirror=$mirror"
    sha <"$here/mkbase.sh"
    sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/packages.txt" | grep -v '^$' | LC_ALL=C sort
  } | sha | cut -c1-16
}

# Everything that decides the content of OUTDIR.
inputs_hash() {
  local bin=$1 f
  {
    echo "suite=$suite mirror=$mirror base=$(base_key)"
    echo "bootc=$(sha <"$bin")"
    (cd "$here" && find build.sh derive.sh Containerfile.v2 Containerfile.v3 ocilayout rootfs \
      \( -type f -o -type l \) -print | LC_ALL=C sort) | while read -r f; do
      if [ -L "$here/$f" ]; then
        echo "$f -> $(readlink "$here/$f")"
      else
        echo "$f $(sha <"$here/$f")"
      fi
    done
    for f in "$units"/*; do
      echo "systemd/$(basename "$f") $(sha <"$f")"
    done
  } | sha
}

case "${1:-}" in
--mirror)
  find_mirror || die "no apt source for suite $suite in /etc/apt/sources.list*"
  exit 0
  ;;
--inputs-hash)
  [ $# -eq 2 ] || die "usage: build.sh --inputs-hash BOOTC_BINARY"
  [ -f "$2" ] || die "$2: no such file"
  mirror=$(find_mirror) || die "no apt source for suite $suite in /etc/apt/sources.list*"
  inputs_hash "$2"
  exit 0
  ;;
esac
[ $# -eq 2 ] || die "usage: build.sh OUTDIR BOOTC_BINARY (or --inputs-hash BOOTC_BINARY, --mirror)"
outdir=$1 bootc=$2
[ -f "$bootc" ] || die "$bootc: no such file"
[ "$(id -u)" = 0 ] || skip "must run as root"
missing=()
for t in debootstrap:debootstrap podman:podman go:golang wget:wget flock:util-linux \
  unshare:util-linux chroot:coreutils tar:tar; do
  command -v "${t%%:*}" >/dev/null || missing+=("${t%%:*} (Debian package ${t#*:})")
done
[ ${#missing[@]} -eq 0 ] || skip "missing host tools: ${missing[*]}"
mirror=$(find_mirror) || skip "no apt source for suite $suite in /etc/apt/sources.list*"

mkdir -p "$outdir" "$cache"
outdir=$(cd "$outdir" && pwd)
bootc=$(cd "$(dirname "$bootc")" && pwd)/$(basename "$bootc")
hash=$(inputs_hash "$bootc")

# One build per OUTDIR at a time; a waiting build then finds the result.
exec 8>"$outdir/.lock"
flock 8
if [ "$(cat "$outdir/.inputs-hash" 2>/dev/null)" = "$hash" ] &&
  [ -f "$outdir/oci/index.json" ] && [ -f "$outdir/manifest.env" ] && [ -f "$outdir/bootc" ]; then
  log "cache hit: $outdir (inputs $hash)"
  exit 0
fi
start=$SECONDS
rm -f "$outdir/.inputs-hash"
rm -rf "${outdir:?}/oci" "$outdir/manifest.env"

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/bootc-test-image-build.XXXXXX")
mounts_under() { awk -v p="$1/" 'index($2 "/", p) == 1 { print $2 }' /proc/mounts | sort -r; }
# remove_tree DIR: unmounts whatever is still mounted under DIR (nothing should be: mkbase.sh
# and derive.sh mount in their own namespaces), then removes DIR unless something stays.
remove_tree() {
  local m left
  [ -e "$1" ] || return 0
  for m in $(mounts_under "$1"); do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  left=$(mounts_under "$1")
  if [ -n "$left" ]; then
    echo "build.sh: still mounted, not removing $1: $left" >&2
    return 1
  fi
  rm -rf --one-file-system "$1"
}
cleanup() { remove_tree "$tmp" || true; }
trap cleanup EXIT

log "building Go tool ocilayout"
# (fd 8 closed: go may leave a telemetry child running that would hold the lock)
(cd "$here/ocilayout" && CGO_ENABLED=0 go build -o "$tmp/ocilayout" . 8>&-) || die "cannot build tests/image/ocilayout"
ocilayout=$tmp/ocilayout

# --- base layer, cached by base_key ---
bkey=$(base_key)
base=$cache/base-$bkey
exec 9>"$cache/.base-$bkey.lock"
flock 9
if [ -f "$base/rootfs.tar.gz.diffid" ] && [ -f "$base/kver" ] && [ -f "$base/rootfs.tar.size" ]; then
  log "base layer: cached $base"
  touch "$base"
else
  wget -q -T 20 -t 2 -O /dev/null "$mirror/dists/$suite/Release" ||
    skip "the Debian mirror $mirror does not answer for $suite (debootstrap needs it)"
  log "base layer: building $base (debootstrap, packages, dracut; a few minutes)"
  rm -rf "$base.partial"
  mkdir -p "$base.partial"
  bstart=$SECONDS
  unshare --mount --propagation private bash "$here/mkbase.sh" "$tmp/base" "$suite" "$mirror" "$here/packages.txt" "$base.partial"
  remove_tree "$tmp/base" || die "cannot remove $tmp/base"
  log "base layer: compressing"
  "$ocilayout" compress "$base.partial/rootfs.tar" "$base.partial/rootfs.tar.gz"
  stat -c %s "$base.partial/rootfs.tar" >"$base.partial/rootfs.tar.size"
  rm -f "$base.partial/rootfs.tar"
  echo "$((SECONDS - bstart))" >"$base.partial/build-seconds"
  mv "$base.partial" "$base"
fi
flock -u 9
exec 9>&-
# Bases unused for two weeks go.
find "$cache" -mindepth 1 -maxdepth 1 -name 'base-*' ! -name "base-$bkey" -mtime +14 \
  -exec rm -rf --one-file-system {} + 2>/dev/null || true
kver=$(cat "$base/kver")

# --- v1: base + a small layer with the test files and bootc ---
top=$tmp/top
install -d -m 0755 "$top/usr/bin" "$top/usr/lib/bootc-test" "$top/usr/lib/systemd/system/multi-user.target.wants"
(cd "$here/rootfs" && find . -type f -printf '%P\n' | LC_ALL=C sort) | while read -r f; do
  case "$f" in
  usr/libexec/*) mode=0755 ;;
  *) mode=0644 ;;
  esac
  install -D -m "$mode" "$here/rootfs/$f" "$top/$f"
done
chmod 0755 "$top/etc" "$top/etc/containers"
install -m 0755 "$bootc" "$top/usr/bin/bootc"
echo 1 >"$top/usr/lib/bootc-test/version"
chmod 0644 "$top/usr/lib/bootc-test/version"
ln -s ../bootc-test-marker.service "$top/usr/lib/systemd/system/multi-user.target.wants/bootc-test-marker.service"
# bootc's own units, as a package of it installs them; the shadow sync is enabled (upstream's
# generator enables it wherever /etc/shadow exists).
for f in "$units"/*.service "$units"/*.timer; do
  install -m 0644 "$f" "$top/usr/lib/systemd/system/"
done
install -d -m 0755 "$top/usr/lib/systemd/system/sysinit.target.wants"
ln -s ../bootc-sysusers-shadow-sync.service "$top/usr/lib/systemd/system/sysinit.target.wants/bootc-sysusers-shadow-sync.service"
find "$top" -type d -exec chmod 0755 {} +
(cd "$top" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort) >"$tmp/top-level"
tar --create --file="$tmp/top.tar" --directory="$top" --numeric-owner --owner=0 --group=0 \
  --sort=name --mtime="$created_v1" --format=gnu --files-from="$tmp/top-level"

log "v1: writing the OCI layout"
"$ocilayout" write -layout "$outdir/oci" -tag v1 -created "$created_v1" \
  -label containers.bootc=1 -label ostree.bootable=true -label org.opencontainers.image.version=1 \
  -history "tests/image/mkbase.sh: debootstrap --variant=minbase $suite, packages.txt, dracut --add ostree" \
  -history "tests/image/build.sh: rootfs/, /usr/bin/bootc, version 1" \
  "$base/rootfs.tar.gz" "$tmp/top.tar"

# --- v2 and v3: podman build, in a private mount namespace ---
log "v2, v3: podman build"
unshare --mount --propagation private bash "$here/derive.sh" "$tmp/derive" "$outdir/oci" "$ocilayout"
remove_tree "$tmp/derive" || die "cannot remove the temporary podman store"
[ -z "$(mounts_under "$outdir")" ] || die "something is mounted under $outdir"

# The binary in the image, for tests that also need it on the host (e.g. to install).
[ "$bootc" -ef "$outdir/bootc" ] || install -m 0755 "$bootc" "$outdir/bootc"

# --- manifest.env ---
{
  echo "# Written by tests/image/build.sh; shell syntax."
  echo "INPUTS_HASH=$hash"
  echo "SUITE=$suite"
  echo "MIRROR=$mirror"
  echo "KVER=$kver"
  echo "OCI_LAYOUT=$outdir/oci"
  echo "TAGS=\"v1 v2 v3\""
  echo "BASE_CACHE=$base"
  echo "BASE_DIFF_ID=$(cat "$base/rootfs.tar.gz.diffid")"
  echo "BASE_TAR_BYTES=$(cat "$base/rootfs.tar.size")"
  echo "BASE_BUILD_SECONDS=$(cat "$base/build-seconds")"
  echo "BOOTC_BINARY=$outdir/bootc"
  echo "BOOTC_SHA256=$(sha <"$bootc")"
  "$ocilayout" describe -layout "$outdir/oci"
  echo "BUILD_SECONDS=$((SECONDS - start))"
} >"$outdir/manifest.env.tmp"
mv "$outdir/manifest.env.tmp" "$outdir/manifest.env"
echo "$hash" >"$outdir/.inputs-hash.tmp"
mv "$outdir/.inputs-hash.tmp" "$outdir/.inputs-hash"

v1size=$(sed -n 's/^V1_SIZE=//p' "$outdir/manifest.env")
log "done in $((SECONDS - start)) s: $outdir/oci:{v1,v2,v3} (kernel $kver)"
log "v1 compressed $((v1size / 1048576)) MiB (base layer uncompressed $(($(cat "$base/rootfs.tar.size") / 1048576)) MiB); layout on disk $(du -sm "$outdir/oci" | cut -f1) MiB"
