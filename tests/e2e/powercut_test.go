package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// The power cuts of TestBootScenario: during the fetch and import of a layer (powerCut),
// during the write of a layer into containers-storage (storeCutSteps) and during the
// finalization of a staged deployment at shutdown (finalizeCut).

// powerCut decides when to cut the power during `bootc upgrade --progress-fd 3 3>&1`:
// in the middle of the new layer's fetch and import (one stream), from the progress JSON
// lines on the console.
type powerCut struct {
	started bool
	phase   string
}

func (p *powerCut) trigger(line string) bool {
	s, ok := after(line, "BOOTC-TEST-STEP: ")
	if !ok {
		return false
	}
	if s == "E2E-POWERCUT-START" {
		p.started = true
		return false
	}
	if !p.started || !strings.HasPrefix(s, "{") {
		return false
	}
	var ev struct {
		Type       string `json:"type"`
		Task       string `json:"task"`
		Bytes      uint64 `json:"bytes"`
		BytesTotal uint64 `json:"bytesTotal"`
		Subtasks   []struct {
			ID         string `json:"id"`
			Bytes      uint64 `json:"bytes"`
			BytesTotal uint64 `json:"bytesTotal"`
		} `json:"subtasks"`
	}
	// A layer is fetched and imported in one stream (task "pulling"); one read from
	// containers-storage is imported under task "importing".
	if json.Unmarshal([]byte(s), &ev) != nil || ev.Type != "ProgressBytes" || (ev.Task != "importing" && ev.Task != "pulling") {
		return false
	}
	for _, st := range ev.Subtasks {
		// A layer between a third and 90% imported: well inside the import.
		if st.BytesTotal > 0 && st.Bytes*3 >= st.BytesTotal && st.Bytes*10 < st.BytesTotal*9 {
			p.phase = fmt.Sprintf("the %s of layer %s, %d of %d MiB read", ev.Task, strings.TrimPrefix(st.ID, "sha256:")[:12],
				st.Bytes>>20, st.BytesTotal>>20)
			return true
		}
	}
	return false
}

// storeCutSteps runs `bootc upgrade` in the background and stops it (SIGSTOP) as soon as
// containers-storage's staging directory for a new layer exists, that is while the
// layer's files are being written, then prints E2E-STORECUT-NOW for the host to cut the
// power on. It fails first if a staging directory is left from before. It polls every
// 10 ms (read -t on a FIFO nobody writes: a sleep without a fork).
const storeCutSteps = `shopt -s nullglob
st=/var/lib/containers/storage/overlay/staging
left=("$st"/*)
[ ${#left[@]} -eq 0 ] || fail "containers-storage staging directories left before the upgrade: ${left[*]}"
echo "E2E-STORECUT-START"
bootc upgrade >out/upgrade-storecut.log 2>&1 &
pid=$!
mkfifo /run/e2e-poll && exec 8<>/run/e2e-poll
while kill -0 $pid 2>/dev/null; do
  read -r -t 0.01 -u 8 _
  staged=("$st"/*)
  if [ ${#staged[@]} -gt 0 ] && kill -STOP $pid 2>/dev/null; then
    echo "E2E-STORECUT-NOW: bootc stopped with $(find "${staged[@]}" -mindepth 1 | wc -l) entries in the staging directory ${staged[0]##*/}"
    sleep 600
  fi
done
wait $pid
echo "E2E-STORECUT-MISSED rc=$?"
cat out/upgrade-storecut.log
finish poweroff`

// storeStateSteps prints what containers-storage holds after an upgrade: staging
// directories left, incomplete layers, and saves its images.json as out/store-images.json.
const storeStateSteps = `shopt -s nullglob
st=/var/lib/containers/storage
left=("$st"/overlay/staging/*)
echo "E2E-STORE-STAGING-LEFT: ${#left[@]}"
echo "E2E-STORE-INCOMPLETE-LAYERS: $(grep -o '"incomplete": *true' "$st"/overlay-layers/layers.json | wc -l)"
cp "$st"/overlay-images/images.json out/store-images.json`

// expectPowerCut checks that the boot was cut after step.sh printed start, and records
// when.
func (sc *scenario) expectPowerCut(res result, start, during string) {
	sc.t.Helper()
	if !res.b.killed {
		sc.fatalf("the power cut during %s did not happen", during)
	}
	at := res.b.serial.firstAt(start)
	if at == 0 {
		sc.fatalf("boot %s was cut before step.sh printed %s", res.b.name, start)
	}
	sc.t.Logf("power cut during %s: qemu killed with SIGKILL %s into the boot, %s after %s", during,
		res.b.exit.Round(100*time.Millisecond), (res.b.exit - at).Round(100*time.Millisecond), start)
	sc.tm.add("power cut during %s, %s after %s", during, (res.b.exit - at).Round(100*time.Millisecond), start)
}

// expectFsckClean checks the output of the boot's "run ostree fsck" step: it exited 0 and
// found no error.
func (sc *scenario) expectFsckClean(res result, when string) {
	sc.t.Helper()
	fsck := strings.Join(res.r.section("E2E-RUN: ostree fsck", "E2E-RC: 0"), "\n")
	if strings.Contains(strings.ToLower(fsck), "corrupt") || !strings.Contains(fsck, "completed successfully - no errors found") {
		sc.fatalf("ostree fsck %s is not clean:\n%s", when, fsck)
	}
}

// expectStoreHolds checks what storeStateSteps printed and saved: no staging directory
// or incomplete layer left, and an image with manifest digest want in the store.
func (sc *scenario) expectStoreHolds(res result, want digest.Digest) {
	sc.t.Helper()
	if v, _ := res.r.stepValue("E2E-STORE-STAGING-LEFT"); v != "0" {
		sc.fatalf("containers-storage staging directories left after the upgrade: %q", v)
	}
	if v, _ := res.r.stepValue("E2E-STORE-INCOMPLETE-LAYERS"); v != "0" {
		sc.fatalf("incomplete containers-storage layers left after the upgrade: %q", v)
	}
	var images []struct {
		Digest digest.Digest `json:"digest"`
	}
	raw := res.out["store-images.json"]
	if err := json.Unmarshal([]byte(raw), &images); err != nil {
		sc.fatalf("boot %s: store-images.json: %v\n%s", res.b.name, err, raw)
	}
	for _, img := range images {
		if img.Digest == want {
			return
		}
	}
	sc.fatalf("containers-storage holds no image with manifest digest %s after the upgrade:\n%s", want, raw)
}

// finalizeCut cuts the power while ostree-finalize-staged writes the staged deployment at
// shutdown: on the remount of the root read-write that follows systemd's "Stopping …
// Finalize Staged Deployment" line.
type finalizeCut struct {
	stopping bool
}

func (f *finalizeCut) trigger(line string) bool {
	if strings.Contains(line, "Stopping") && strings.Contains(line, "Finalize Staged Deployment") {
		f.stopping = true
		return false
	}
	return f.stopping && strings.Contains(line, "EXT4-fs") && strings.Contains(line, "re-mounted")
}

// startedAt is when the finalization started on b's console.
func (f *finalizeCut) startedAt(b *boot) time.Duration {
	for _, l := range b.serial.lines {
		if strings.Contains(l.text, "Stopping") && strings.Contains(l.text, "Finalize Staged Deployment") {
			return l.at
		}
	}
	return 0
}
