#!/bin/bash
# Kill trials (issue 10): SIGKILL `bootc --sysroot S switch` and `upgrade` at random points
# of a run (pull, import, deploy, store write, prune) over generated images of KILL_MIB MiB
# (tests/bench generates them), until KILLS kills have landed (at most 3*KILLS runs). After
# every kill: `ostree fsck` is clean, every ref resolves, `bootc status` works and shows the
# old or the new image, complete; then the interrupted command is rerun and must succeed,
# leaving nothing of the killed run in the repo's tmp/ or the store's staging directory.
# Prints one summary line with the counts per phase.
# Usage: killtrial.sh BOOTC BENCH   (env: KILL_MIB=700 KILLS=50). Needs root.
set -euo pipefail
BOOTC=$(realpath "$1"); BENCH=$(realpath "$2")
MIB=${KILL_MIB:-700}; KILLS=${KILLS:-50}
W=$(mktemp -d /var/tmp/bootc-killtrial-XXXXXX)
mount -t tmpfs -o size=$((MIB * 12 + 2048))m tmpfs "$W"
cleanup() { umount -R "$W/storage/overlay" 2>/dev/null || true; umount -R -l "$W" 2>/dev/null || true; rmdir "$W" 2>/dev/null || true; }
trap cleanup EXIT
S=$W/sysroot ST=$W/storage
mkdir -p "$S" "$ST"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$W/policy.json"
export CONTAINERS_POLICY_JSON=$W/policy.json
ostree admin init-fs --modern "$S" >/dev/null
ostree admin --sysroot="$S" os-init default >/dev/null
# Three unrelated images (tests/bench seeds its generator with the size): switching in
# rotation, the target's layers were pruned two steps before, so every trial pulls and
# imports the whole image again.
for k in 0 1 2; do
  echo "generating image $k ($((MIB + k)) MiB)..." >&2
  "$BENCH" gen -dir "$W/gen$k" -mib $((MIB + k)) > /dev/null
  skopeo copy -q "oci:$W/gen$k:v1" "oci:$W/oci:img$k"
  rm -rf "$W/gen$k"
done
B=("$BOOTC" --sysroot "$S" --storage-root "$ST")
"${B[@]}" switch --quiet --transport oci "$W/oci:img0" >/dev/null
digest() { "${B[@]}" status --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"]["booted"]["image"]["imageDigest"])'; }

# verify checks the invariants after a kill; $1 is the set of acceptable digests.
verify() {
  ostree fsck --repo="$S/ostree/repo" >"$W/fsck.log" 2>&1 || { echo "fsck failed:"; cat "$W/fsck.log"; return 1; }
  for r in $(ostree refs --repo="$S/ostree/repo"); do
    ostree rev-parse --repo="$S/ostree/repo" "$r" >/dev/null || { echo "ref $r does not resolve"; return 1; }
    ostree show --repo="$S/ostree/repo" "$r" >/dev/null 2>&1 || { echo "ref $r: commit missing"; return 1; }
  done
  local d; d=$(digest) || { echo "status failed"; return 1; }
  [[ " $1 " == *" $d "* ]] || { echo "status shows $d, not one of: $1"; return 1; }
  # Every deployment a boot entry names is complete (a half-written deployment directory
  # no entry names is garbage libostree's cleanup removes at the next deployment).
  local e dep
  for e in "$S"/boot/loader/entries/*.conf; do
    dep=$(sed -n 's/^options .*ostree=\([^ ]*\).*/\1/p' "$e")
    dep=$(realpath -e "$S$dep") || { echo "boot entry $e: $S$dep does not resolve"; return 1; }
    [ -e "$dep/usr/lib/modules/6.1.0/vmlinuz" ] || { echo "deployment $dep of boot entry $e incomplete"; return 1; }
  done
}

# phase classifies the moment of a kill from what is on disk.
phase() {
  local loader; loader=$(readlink "$S/boot/loader" || true)
  if [ "$loader" != "$LOADER0" ]; then
    if compgen -G "$ST/overlay/staging/*" >/dev/null; then echo store; else echo prune; fi
  elif [ "$(ls -d "$S"/ostree/deploy/default/deploy/*.[0-9] | wc -l)" != "$NDEP0" ]; then echo deploy
  elif ls -d "$S"/ostree/repo/tmp/staging-* >/dev/null 2>&1; then echo import
  else echo pull; fi
}

# Calibrate: the duration of a full switch.
declare -A count=([pull]=0 [import]=0 [deploy]=0 [store]=0 [prune]=0)
declare -a dig
broken=0 trials=0 cur=0
dig[0]=$(digest)
t0=$(date +%s.%N)
"${B[@]}" switch --quiet --transport oci "$W/oci:img1" >/dev/null
t1=$(date +%s.%N); cur=1
dig[1]=$(digest)
"${B[@]}" switch --quiet --transport oci "$W/oci:img2" >/dev/null; cur=2
dig[2]=$(digest)
FULL=$(python3 -c "print($t1-$t0)")
echo "a full switch takes ${FULL}s" >&2
# The host tracks the tag "cur" from here on for the upgrade trials.
skopeo copy -q "oci:$W/oci:img2" "oci:$W/oci:cur"
"${B[@]}" switch --quiet --transport oci "$W/oci:cur" >/dev/null
tracked=cur
# Trials go on until KILLS kills landed (at most 3*KILLS trials): a run that finishes
# before its kill counts as a trial, and its duration becomes the calibration.
kills=0 i=0
while [ $kills -lt "$KILLS" ] && [ $i -lt $((3 * KILLS)) ]; do
  i=$((i + 1))
  next=$(( (cur + 1) % 3 ))
  if [ $((i % 2)) = 0 ]; then
    # upgrade: the tracked tag "cur" moves to the next image.
    if [ $tracked != cur ]; then "${B[@]}" switch --quiet --transport oci "$W/oci:cur" >/dev/null; tracked=cur; fi
    skopeo copy -q "oci:$W/oci:img$next" "oci:$W/oci:cur"
    cmd=(upgrade --quiet)
  else
    cmd=(switch --quiet --transport oci "$W/oci:img$next"); tracked=img$next
  fi
  LOADER0=$(readlink "$S/boot/loader"); NDEP0=$(ls -d "$S"/ostree/deploy/default/deploy/*.[0-9] | wc -l)
  # Every other kill lands at a random time of the run; the others aim at a phase in
  # turn (pull, deploy, store, prune: short ones), killing as soon as the disk shows it;
  # a pull kill lands at a random time of the first 45 ms, which a switch spends opening
  # the source and reading its manifest and config before the first object is staged (the
  # layers are then fetched and imported in one stream: kills there count as import).
  aim=none
  if [ $((i % 2)) = 1 ]; then aims=(pull deploy store prune); aim=${aims[$(( (i / 2) % 4 ))]}; fi
  # Delays are drawn before bootc starts (python3 takes tens of ms to start).
  delay=$(python3 -c "import random; print(random.uniform(0.05, $FULL*1.05))")
  pulldelay=$(python3 -c "import random; print(random.uniform(0.010, 0.045))")
  t0=$(date +%s.%N)
  "${B[@]}" "${cmd[@]}" >"$W/run.log" 2>&1 & pid=$!
  if [ $aim = none ]; then
    sleep "$delay"
  elif [ $aim = pull ]; then
    sleep "$pulldelay"
  else
    # Poll the disk every 5 ms until the aimed phase (or, for deploy, a later one) shows.
    until [ "$(phase)" = $aim ] || ! kill -0 $pid 2>/dev/null; do
      [ $aim = deploy ] && [ "$(phase)" = prune ] && break
      sleep 0.005
    done
  fi
  if kill -KILL $pid 2>/dev/null; then
    wait $pid 2>/dev/null || true
    # Classified after the kill: the disk shows where the killed run stopped.
    p=$(phase)
    count[$p]=$((count[$p] + 1)); kills=$((kills + 1))
  else
    wait $pid || { echo "trial $i: ${cmd[*]} failed before the kill:"; cat "$W/run.log"; broken=$((broken + 1)); }
    p=finished
    FULL=$(python3 -c "print(min($FULL, $(date +%s.%N)-$t0))")
  fi
  trials=$((trials + 1))
  if ! verify "${dig[0]} ${dig[1]} ${dig[2]}" >"$W/verify.log" 2>&1; then
    echo "trial $i ($p): broken: $(cat "$W/verify.log")"; broken=$((broken + 1))
  fi
  if ! "${B[@]}" "${cmd[@]}" >"$W/rerun.log" 2>&1; then
    echo "trial $i ($p): the rerun failed: $(tail -3 "$W/rerun.log")"; broken=$((broken + 1))
  fi
  # Nothing of the killed run is left once the rerun succeeded: no object staging in the
  # repo's tmp/ (space a crash loop would otherwise fill the disk with), no store staging.
  left=$(compgen -G "$S/ostree/repo/tmp/bootc-objects-*" || true; compgen -G "$S/ostree/repo/tmp/staging-*" || true; compgen -G "$ST/overlay/staging/*" || true)
  if [ -n "$left" ]; then
    echo "trial $i ($p): left after the rerun: $left ($(du -sm $left | awk '{s+=$1} END {print s}') MiB)"; broken=$((broken + 1))
  fi
  if [ "$(digest)" != "${dig[$next]}" ]; then
    echo "trial $i ($p): after the rerun the image is not img$next"; broken=$((broken + 1))
  fi
  # The store holds what the host runs (podman sees it; the next update reuses its layers).
  if ! grep -q "\"${dig[$next]}\"" "$ST/overlay-images/images.json"; then
    echo "trial $i ($p): after the rerun the store lacks img$next (${dig[$next]})"; broken=$((broken + 1))
  fi
  cur=$next
done
echo "kill trials: $trials trials, $kills kills (pull ${count[pull]}, import ${count[import]}, deploy ${count[deploy]}, store ${count[store]}, prune ${count[prune]}), image ${MIB} MiB, $broken broken"
[ $broken = 0 ] && [ $kills -ge "$KILLS" ]
