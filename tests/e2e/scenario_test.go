// Package e2e is the boot proof (`make e2e`): the bootable test image of tests/image
// installed to a disk image with `bootc install to-disk --via-loopback`, booted in qemu
// through its own bootloader, and taken through switch, upgrade, rollback, power cuts,
// a download-only upgrade and a download-only switch, rebooting in between. The guest
// has no network: a second virtio disk labelled BOOTCSTEPS carries the OCI layout it
// updates from and the step.sh its bootc-test-marker service runs at boot; the host
// rewrites that disk between boots and checks each step on the serial console and on the
// installed disk, mounted read-only through loop devices at the partitions' offsets.
package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/tests/image/testimage"
)

// e2eEnv must be set for the VM test to run: `make e2e` sets it (and `make test` runs
// `make e2e` after the other tests), so that `go test ./...` does not run the scenario a
// second time under the race detector.
const e2eEnv = "BOOTC_E2E"

func requireE2E(t *testing.T) {
	t.Helper()
	if os.Getenv(e2eEnv) == "" {
		testskip.Skipf(t, "e2e", "the VM end-to-end test runs with `make e2e` (or %s=1 go test ./tests/e2e/)", e2eEnv)
	}
	if testing.Short() {
		testskip.Skip(t, "short", "the VM end-to-end test takes minutes; skipped with -short")
	}
	ostreetest.RequireRoot(t)
	for _, tool := range []string{"mkfs.ext4", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (make deps installs it): %v", tool, err)
		}
	}
}

// startVMTest starts a VM test: it returns qemu, a work directory checked for leftover
// qemu, mounts and loop devices at the end, and the timings logged at the end (with the
// logs kept when the test failed).
func startVMTest(t *testing.T) (qemu, work string, tm *timings) {
	t.Helper()
	requireE2E(t)
	qemu = requireQemu(t)
	testStart := time.Now()
	work = t.TempDir()
	checkNoLeftovers(t, work)
	tm = &timings{}
	t.Cleanup(func() {
		tm.add("total %s", time.Since(testStart).Round(time.Second))
		tm.log(t)
		keepLogs(t, work)
	})
	return qemu, work, tm
}

// newLayoutStepsDisk makes the steps disk of a VM test under work: a copy of the test
// images' layout plus the image v4 derives (its digest is returned), with the tag stable
// on v2 and no steps yet.
func newLayoutStepsDisk(t *testing.T, imgs *testimage.Images, work string, v4 deriveSpec) (*stepsDisk, digest.Digest) {
	t.Helper()
	src := filepath.Join(work, "steps-src")
	lay := ociLayout(filepath.Join(src, "oci"))
	if err := copyLayout(imgs.Layout, string(lay)); err != nil {
		t.Fatal(err)
	}
	d, err := lay.derive(v4)
	if err != nil {
		t.Fatalf("deriving %s: %v", v4.tag, err)
	}
	if err := lay.moveTag("stable", "v2"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "step.sh"), []byte("echo no steps yet\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	steps := newStepsDisk(t, src, filepath.Join(work, "steps.img"), filepath.Join(work, "steps-mnt"))
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	return steps, d
}

// timings collects the durations the test reports at its end.
type timings struct {
	rows []string
}

func (tm *timings) add(format string, args ...any) {
	tm.rows = append(tm.rows, fmt.Sprintf(format, args...))
}

func (tm *timings) log(t *testing.T) {
	t.Logf("timings:\n  %s", strings.Join(tm.rows, "\n  "))
}

// installDisk installs ref to a new 4 GiB disk image with `bootc install to-disk
// --via-loopback` and the install flags extra; the installed system follows target (a
// reference in the guest).
func installDisk(t *testing.T, bootc, ref, target, image, work string, extra ...string) time.Duration {
	t.Helper()
	f, err := os.Create(image)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	storageRoot := filepath.Join(work, "install-storage")
	args := []string{"--storage-root", storageRoot, "install", "to-disk", "--via-loopback",
		"--filesystem", "ext4", "--source-imgref", ref}
	if target != "" {
		args = append(args, "--target-transport", "oci", "--target-imgref", target)
	}
	args = append(append(args, extra...), image)
	start := time.Now()
	cmd := exec.Command(bootc, args...)
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	logPath := filepath.Join(work, "install.log")
	_ = os.WriteFile(logPath, out, 0o644)
	if err != nil {
		t.Fatalf("bootc %s: %v\n%s", strings.Join(args, " "), err, tailText(string(out), 40))
	}
	if m := mountsUnder(storageRoot); len(m) > 0 {
		t.Fatalf("bootc install left mounts: %v", m)
	}
	for _, dir := range []string{storageRoot, storage.DerivedRunRoot(storageRoot)} {
		if err := ostreetest.RemoveMounted(dir); err != nil {
			t.Fatalf("removing the install's store: %v", err)
		}
	}
	t.Logf("installed %s to %s in %s", ref, image, took.Round(100*time.Millisecond))
	return took
}

func tailText(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// hostStatus is the part of `bootc status --format json` the test reads.
type hostStatus struct {
	Status struct {
		Booted         *statusEntry `json:"booted"`
		Staged         *statusEntry `json:"staged"`
		Rollback       *statusEntry `json:"rollback"`
		RollbackQueued bool         `json:"rollbackQueued"`
	} `json:"status"`
}

type statusEntry struct {
	Image *struct {
		Image struct {
			Image     string `json:"image"`
			Transport string `json:"transport"`
		} `json:"image"`
		Version     string `json:"version"`
		ImageDigest string `json:"imageDigest"`
	} `json:"image"`
	DownloadOnly bool `json:"downloadOnly"`
	Ostree       struct {
		Stateroot string `json:"stateroot"`
	} `json:"ostree"`
}

func (e *statusEntry) version() string {
	if e == nil {
		return "<none>"
	}
	if e.Image == nil {
		return "<no image>"
	}
	return e.Image.Version
}

func (e *statusEntry) ref() string {
	if e == nil || e.Image == nil {
		return ""
	}
	return e.Image.Image.Transport + ":" + e.Image.Image.Image
}

// scenario runs the boots of one VM and checks them.
type scenario struct {
	t      *testing.T
	vm     vmConfig
	steps  *stepsDisk
	disk   string
	work   string
	tm     *timings
	n      int
	last   *boot
	mntDir string
}

// fetchedLine is bootc's summary of where an update's layers came from.
var fetchedLine = regexp.MustCompile(`Fetched (\d+) layers \(([^)]*)\), (\d+) from containers-storage, (\d+) already present`)

// expectLayersReused checks that the boot's bootc switch or upgrade reused the layers the
// installed system already had (the repository holds them since install): none is fetched
// again, only the new image's own layers.
func (sc *scenario) expectLayersReused(res result, what string) {
	sc.t.Helper()
	for _, l := range res.r.steps {
		if m := fetchedLine.FindStringSubmatch(l); m != nil {
			sc.tm.add("%s: %s", what, strings.TrimSpace(m[0]))
			if m[4] == "0" {
				sc.fatalf("%s reused no layer: %s", what, l)
			}
			return
		}
	}
	sc.fatalf("%s: no %q line in the steps' output", what, "Fetched N layers")
}

// result is what one boot left: its console and the files step.sh saved.
type result struct {
	b   *boot
	r   consoleReport
	out map[string]string
}

// fatalf fails the test with the tail of the last boot's serial console.
func (sc *scenario) fatalf(format string, args ...any) {
	sc.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if sc.last != nil {
		msg += fmt.Sprintf("\n--- boot %s: last lines of the serial console (%s) ---\n%s", sc.last.name,
			sc.last.serial.path, sc.last.serial.tail(80))
		if se := strings.TrimSpace(qemuStderr(sc.last.stderr)); se != "" {
			msg += "--- qemu stderr ---\n" + tailText(se, 20)
		}
	}
	sc.t.Fatal(msg)
}

// boot prepares the steps disk (stable moved to stable unless "", step.sh = script),
// boots the VM once and checks that the guest booted wantVersion (any when "") and ran its
// steps.
func (sc *scenario) boot(name, stable, wantVersion, script string, o bootOptions) result {
	sc.t.Helper()
	sc.n++
	name = fmt.Sprintf("%d-%s", sc.n, name)
	sc.steps.prepare(sc.t, stable, script)
	sc.t.Logf("boot %s: starting (%s)", name, sc.vm.accel)
	b := runVM(sc.t, sc.vm, name, o)
	sc.last = b
	r := b.serial.report()
	kill := ""
	if b.killed && b.err == nil {
		kill = ", power cut"
	}
	sc.tm.add("boot %-22s marker %5.1fs  steps done %5.1fs  qemu exit %5.1fs%s", name,
		b.marker.Seconds(), b.done.Seconds(), b.exit.Seconds(), kill)
	sc.t.Logf("boot %s: marker after %s, qemu exited after %s", name, b.marker.Round(100*time.Millisecond),
		b.exit.Round(100*time.Millisecond))
	if b.err != nil {
		sc.fatalf("boot %s: %v", name, b.err)
	}
	if b.marker == 0 && !b.killed {
		sc.fatalf("boot %s: qemu exited after %s without BOOTC-TEST-MARKER (%v)", name,
			b.exit.Round(100*time.Millisecond), b.waitErr)
	}
	if len(r.markers) != 1 || (wantVersion != "" && r.markers[0] != wantVersion) {
		sc.fatalf("boot %s: markers %q, want one BOOTC-TEST-MARKER version=%s", name, r.markers, wantVersion)
	}
	if fails := r.stepLines("E2E-FAIL: "); len(fails) > 0 {
		sc.fatalf("boot %s: step failed: %s", name, strings.Join(fails, "; "))
	}
	if !b.killed {
		if r.doneRC != 0 && !(o.rebootsItself && r.doneRC == -1) {
			sc.fatalf("boot %s: BOOTC-TEST-DONE rc=%d, want 0", name, r.doneRC)
		}
		if !r.hasStep("E2E-END") {
			sc.fatalf("boot %s: step.sh did not reach its end", name)
		}
	}
	var out map[string]string
	if !b.killed || r.hasStep("E2E-END") {
		// After a cut past step.sh's end (and its sync), the steps disk's journal holds
		// the outputs: outputs replays it.
		out = sc.steps.outputs(sc.t, b.killed || o.rebootsItself)
	}
	return result{b: b, r: r, out: out}
}

// status parses out/status-NAME.json of a boot.
func (sc *scenario) status(res result, name string) hostStatus {
	sc.t.Helper()
	var hs hostStatus
	raw, ok := res.out["status-"+name+".json"]
	if !ok {
		sc.fatalf("boot %s: step.sh saved no status-%s.json", res.b.name, name)
	}
	if err := json.Unmarshal([]byte(raw), &hs); err != nil {
		sc.fatalf("boot %s: status-%s.json: %v\n%s", res.b.name, name, err, raw)
	}
	return hs
}

// expectStatus checks the versions of the booted, staged and rollback entries of a status
// ("" means none).
func (sc *scenario) expectStatus(res result, name, booted, staged, rollback string) hostStatus {
	sc.t.Helper()
	hs := sc.status(res, name)
	got := func(e *statusEntry) string {
		if e == nil {
			return ""
		}
		return e.version()
	}
	if got(hs.Status.Booted) != booted || got(hs.Status.Staged) != staged || got(hs.Status.Rollback) != rollback {
		sc.fatalf("boot %s: status %s: booted/staged/rollback versions %q/%q/%q, want %q/%q/%q\n%s", res.b.name, name,
			got(hs.Status.Booted), got(hs.Status.Staged), got(hs.Status.Rollback), booted, staged, rollback,
			res.out["status-"+name+".json"])
	}
	return hs
}

// diskState is what the host reads from the disk after a boot: the deployments of the
// boot entries, in boot order (next boot first, then the rollback).
type diskState struct {
	deployments []deploymentInfo
	files       map[string]string // "INDEX:PATH" -> content, for the paths asked
}

// onDisk mounts the disk read-only and reads the boot entries' deployments and, for each
// deployment, the given files (relative to the deployment).
func (sc *scenario) onDisk(files ...string) diskState {
	sc.t.Helper()
	sc.mntDir = filepath.Join(sc.work, "disk-mnt")
	m, err := openMountedDisk(sc.disk, sc.mntDir)
	if err != nil {
		sc.fatalf("mounting the disk read-only after boot: %v", err)
	}
	defer func() {
		if err := m.close(); err != nil {
			sc.t.Errorf("unmounting the disk: %v", err)
		}
	}()
	entries, err := m.bootEntries()
	if err != nil {
		sc.fatalf("reading the boot entries on the disk: %v", err)
	}
	ds := diskState{files: map[string]string{}}
	for i, e := range entries {
		di, err := m.deployment(e)
		if err != nil {
			sc.fatalf("reading deployment %s of boot entry %d: %v", e.deployment, i, err)
		}
		ds.deployments = append(ds.deployments, di)
		for _, f := range files {
			if c, ok := m.file(e.deployment, f); ok {
				ds.files[fmt.Sprintf("%d:%s", i, f)] = c
			}
		}
	}
	return ds
}

// versions lists the versions of the disk's boot entries in order.
func (ds diskState) versions() []string {
	var v []string
	for _, d := range ds.deployments {
		v = append(v, d.version)
	}
	return v
}

func (sc *scenario) expectDiskVersions(ds diskState, after string, want ...string) {
	sc.t.Helper()
	if got := ds.versions(); strings.Join(got, " ") != strings.Join(want, " ") {
		sc.fatalf("on the disk after %s: boot entries run versions %v, want %v (next boot first)", after, got, want)
	}
}

const (
	localConf     = "/etc/bootc-e2e-local.conf"
	localConfText = "written in the guest by boot 1 of tests/e2e"
	hostsLine     = "192.0.2.10 bootc-e2e-local-edit"
)

// TestBootScenario is the boot proof: v1 installed with `bootc install to-disk
// --via-loopback --bootloader extlinux`, booted in qemu (BIOS) through its own bootloader, then switched, upgraded,
// rolled back, power-cut during an upgrade's import, store write and finalization, upgraded
// and switched with --download-only, reset into a new stateroot, rebooting in between; every step is checked on the serial console and on the disk.
func TestBootScenario(t *testing.T) {
	qemu, work, tm := startVMTest(t)

	start := time.Now()
	imgs := testimage.Build(t)
	tm.add("image build %s (cached: %v; build.sh's BUILD_SECONDS=%s, base layer built in %ss)",
		time.Since(start).Round(time.Second), imgs.Cached, imgs.Env["BUILD_SECONDS"], imgs.Env["BASE_BUILD_SECONDS"])

	diskImg := filepath.Join(work, "disk.raw")
	took := installDisk(t, imgs.BootcBinary, imgs.Ref("v1"), stepsLayoutInGuest+":v1", diskImg, work, "--bootloader", "extlinux")
	tm.add("install v1 %s", took.Round(100*time.Millisecond))

	// The steps disk: a copy of the layout with v4 (v3 plus 96 MiB of random files, so
	// that an upgrade to it runs long enough to be cut) and the tag stable.
	start = time.Now()
	steps, v4 := newLayoutStepsDisk(t, imgs, work, deriveSpec{from: "v3", tag: "v4", version: "4",
		created: time.Date(2025, 1, 4, 0, 0, 0, 0, time.UTC), randomMiB: 96, smallFiles: 4000})
	tm.add("steps disk (layout copy, v4 %s) %s", v4.Encoded()[:12], time.Since(start).Round(100*time.Millisecond))

	vm := vmConfig{qemu: qemu, disk: diskImg, steps: steps.image, dir: work}
	start = time.Now()
	accel, why := chooseAccel(t, vm)
	vm.accel = accel
	t.Logf("accelerator: %s (%s)", accel, why)
	tm.add("accelerator %s: %s (probe %s)", accel, why, time.Since(start).Round(100*time.Millisecond))

	sc := &scenario{t: t, vm: vm, steps: steps, disk: diskImg, work: work, tm: tm}
	stable := stepsLayoutInGuest + ":stable"

	// 1. v1 boots; a local edit in /etc; switch to stable (= v2).
	res := sc.boot("v1-switch", "v2", "1", stepScript("v1-switch",
		"echo '"+localConfText+"' >"+localConf,
		"echo '"+hostsLine+"' >>/etc/hosts",
		"status before",
		"run bootc switch --transport oci "+stable,
		"status after",
		"finish reboot"), bootOptions{})
	if strings.Contains(res.r.cmdline, "bootc.test=v2") {
		sc.fatalf("v1's kernel command line has v2's bootc.test=v2: %s", res.r.cmdline)
	}
	sc.expectStatus(res, "before", "1", "", "")
	hs := sc.expectStatus(res, "after", "1", "2", "")
	if got := hs.Status.Staged.ref(); got != "oci:"+stable {
		sc.fatalf("staged image %q, want oci:%s", got, stable)
	}
	sc.expectLayersReused(res, "the first switch after install")
	ds := sc.onDisk(localConf, "etc/hosts", "etc/bootc-test.conf")
	sc.expectDiskVersions(ds, "the switch", "2", "1")
	if !strings.HasSuffix(ds.deployments[0].origin, "oci:"+stable) {
		sc.fatalf("origin of the new deployment: %q, want oci:%s", ds.deployments[0].origin, stable)
	}
	for i := range 2 {
		if got := ds.files[fmt.Sprintf("%d:%s", i, localConf)]; strings.TrimSpace(got) != localConfText {
			sc.fatalf("deployment %s (version %s): %s = %q, want the local edit", ds.deployments[i].dir,
				ds.deployments[i].version, localConf, got)
		}
		if !strings.Contains(ds.files[fmt.Sprintf("%d:etc/hosts", i)], hostsLine) {
			sc.fatalf("deployment %s (version %s): /etc/hosts lacks the local edit:\n%s", ds.deployments[i].dir,
				ds.deployments[i].version, ds.files[fmt.Sprintf("%d:etc/hosts", i)])
		}
	}
	if got := ds.files["0:etc/bootc-test.conf"]; strings.TrimSpace(got) != "setting=v2" {
		sc.fatalf("v2 deployment: /etc/bootc-test.conf = %q, want v2's default setting=v2", got)
	}
	if !strings.Contains(ds.deployments[0].kargs, "bootc.test=v2") || strings.Contains(ds.deployments[1].kargs, "bootc.test=v2") {
		sc.fatalf("boot entries' kernel arguments: v2 %q, v1 %q; want bootc.test=v2 on v2's only",
			ds.deployments[0].kargs, ds.deployments[1].kargs)
	}

	// 2. v2 runs with the local edit, its new /etc default and its kernel argument, v1 is
	// the rollback. 3. stable moves to v3; bootc upgrade.
	res = sc.boot("v2-upgrade", "v3", "2", stepScript("v2-upgrade",
		`echo "E2E-LOCAL: $(cat `+localConf+`)"`,
		`grep -qxF '`+hostsLine+`' /etc/hosts && echo "E2E-HOSTS-EDIT: present"`,
		"status booted",
		"run bootc upgrade",
		"status after",
		"finish reboot"), bootOptions{})
	if !strings.Contains(" "+res.r.cmdline+" ", " bootc.test=v2 ") {
		sc.fatalf("v2's kernel command line lacks bootc.test=v2: %s", res.r.cmdline)
	}
	if strings.Join(res.r.conf, "\n") != "setting=v2" {
		sc.fatalf("v2's /etc/bootc-test.conf on the console: %q, want setting=v2", res.r.conf)
	}
	if v, _ := res.r.stepValue("E2E-LOCAL"); v != localConfText {
		sc.fatalf("the local /etc edit did not survive the switch: %s = %q", localConf, v)
	}
	if v, _ := res.r.stepValue("E2E-HOSTS-EDIT"); v != "present" {
		sc.fatalf("the local edit of /etc/hosts did not survive the switch")
	}
	human := strings.Join(res.r.section("E2E-STATUS-BEGIN booted", "E2E-STATUS-END booted"), "\n")
	if !regexpRollbackV1(human) {
		sc.fatalf("bootc status in the guest does not show v1 as the rollback:\n%s", human)
	}
	sc.expectStatus(res, "booted", "2", "", "1")
	sc.expectStatus(res, "after", "2", "3", "1")
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the upgrade", "3", "2")

	// 3 (end). v3 runs. 4. bootc rollback.
	res = sc.boot("v3-rollback", "", "3", stepScript("v3-rollback",
		"status booted",
		"run bootc rollback",
		"status after",
		"finish reboot"), bootOptions{})
	sc.expectStatus(res, "booted", "3", "", "2")
	if hs := sc.status(res, "after"); !hs.Status.RollbackQueued {
		sc.fatalf("after bootc rollback: rollbackQueued is false\n%s", res.out["status-after.json"])
	}
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the rollback", "2", "3")

	// 4 (end). v2 runs again. 5. Power cut in the middle of an upgrade to v4.
	cut := &powerCut{}
	res = sc.boot("v2-powercut", "v4", "2", stepScript("v2-powercut",
		"status booted",
		`echo "E2E-POWERCUT-START"`,
		`bootc upgrade --progress-fd 3 3>&1`,
		`echo "E2E-POWERCUT-MISSED rc=$?"`,
		"finish poweroff"), bootOptions{kill: cut.trigger})
	if !res.b.killed {
		sc.fatalf("the power cut did not happen: bootc upgrade finished before the import was under way")
	}
	upgradeAt := res.b.serial.firstAt("E2E-POWERCUT-START")
	t.Logf("power cut: qemu killed with SIGKILL %s into the boot, %s after bootc upgrade started, during %s",
		res.b.exit.Round(100*time.Millisecond), (res.b.exit - upgradeAt).Round(100*time.Millisecond), cut.phase)
	tm.add("power cut %s after bootc upgrade started, during %s", (res.b.exit - upgradeAt).Round(100*time.Millisecond), cut.phase)
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the power cut", "2", "3")

	// The previous deployment boots and ostree fsck is clean. 6. Power cut in the middle of
	// the next upgrade's write of the new layer into containers-storage: the upgrade gets past
	// the fetch and import the first cut interrupted and past staging; step.sh stops bootc
	// (SIGSTOP) as soon as the store's staging directory for the layer exists, and the host
	// cuts the power on the line it prints.
	res = sc.boot("v2-after-cut", "", "2", stepScript("v2-after-cut",
		"status booted",
		"run ostree fsck",
		storeCutSteps), bootOptions{kill: func(line string) bool {
		_, ok := after(line, "BOOTC-TEST-STEP: E2E-STORECUT-NOW")
		return ok
	}})
	sc.expectPowerCut(res, "E2E-STORECUT-START", "the write of the new layer into containers-storage")
	if v, _ := res.r.stepValue("E2E-STORECUT-NOW"); v != "" {
		tm.add("power cut during the store write: %s", v)
	}
	sc.expectFsckClean(res, "after the power cut during the import")
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the power cut during the store write", "2", "3")

	// 7. v2 boots; the upgrade succeeds and keeps v4 in containers-storage, with no staging
	// directory or incomplete layer left of the cut. Power cut while the staged deployment
	// is finalized at shutdown (after ostree-finalize-staged remounted the root read-write).
	fin := &finalizeCut{}
	res = sc.boot("v2-after-store-cut", "", "2", stepScript("v2-after-store-cut",
		"status booted",
		"run ostree fsck",
		"run bootc upgrade",
		"status after",
		storeStateSteps,
		"finish reboot"), bootOptions{kill: fin.trigger})
	sc.expectFsckClean(res, "after the power cut during the store write")
	sc.expectStatus(res, "booted", "2", "", "3")
	sc.expectStatus(res, "after", "2", "4", "3")
	sc.expectStoreHolds(res, v4)
	if !res.b.killed {
		sc.fatalf("the power cut during finalization did not happen: no remount of the root after ostree-finalize-staged started")
	}
	tm.add("power cut %s after ostree-finalize-staged started", (res.b.exit - fin.startedAt(res.b)).Round(100*time.Millisecond))

	// 8. The disk boots the previous deployment or the finalized one, complete (the local
	// /etc edit there, fsck clean); the next upgrade succeeds. Either way v4 runs next.
	res = sc.boot("after-finalize-cut", "", "", stepScript("after-finalize-cut",
		`echo "E2E-LOCAL: $(cat `+localConf+`)"`,
		"status booted",
		"run ostree fsck",
		"run bootc upgrade",
		"status after",
		"finish reboot"), bootOptions{})
	if v, _ := res.r.stepValue("E2E-LOCAL"); v != localConfText {
		sc.fatalf("after the power cut during finalization: %s = %q, want the local edit", localConf, v)
	}
	sc.expectFsckClean(res, "after the power cut during finalization")
	switch booted := res.r.markers[0]; booted {
	case "2": // cut before the new boot entries were in place: stage again
		sc.expectStatus(res, "booted", "2", "", "3")
		sc.expectStatus(res, "after", "2", "4", "3")
	case "4": // finalized before the cut: nothing to do
		sc.expectStatus(res, "booted", "4", "", "2")
		sc.expectStatus(res, "after", "4", "", "2")
	default:
		sc.fatalf("after the power cut during finalization version %s booted, want 2 or 4", booted)
	}
	tm.add("after the power cut during finalization, version %s booted", res.r.markers[0])
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the upgrade after the power cuts", "4", "2")

	// v4 runs. Then --download-only (stable = v3): staged, locked, not applied at reboot.
	res = sc.boot("v4-download-only", "v3", "4", stepScript("v4-download-only",
		`echo "E2E-LOCAL: $(cat `+localConf+`)"`,
		"status booted",
		"run bootc upgrade --download-only",
		"status after",
		"finish reboot"), bootOptions{})
	if v, _ := res.r.stepValue("E2E-LOCAL"); v != localConfText {
		sc.fatalf("the local /etc edit did not survive: %s = %q", localConf, v)
	}
	sc.expectStatus(res, "booted", "4", "", "2")
	if hs := sc.expectStatus(res, "after", "4", "3", "2"); !hs.Status.Staged.DownloadOnly {
		sc.fatalf("after bootc upgrade --download-only: staged downloadOnly is false\n%s", res.out["status-after.json"])
	}
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "a reboot with a download-only update staged", "4", "2")

	// Still v4: the locked deployment was not finalized (and, as upstream, is gone after
	// the reboot). Download again (cached), then --from-downloaded applies it.
	res = sc.boot("v4-from-downloaded", "", "4", stepScript("v4-from-downloaded",
		"status booted",
		"run bootc upgrade --download-only",
		"status locked",
		switchFromDownloadedRefused("bootc switch --from-downloaded --transport oci "+stable),
		"run bootc upgrade --from-downloaded",
		"status after",
		"finish reboot"), bootOptions{})
	sc.expectStatus(res, "booted", "4", "", "2")
	if hs := sc.expectStatus(res, "locked", "4", "3", "2"); !hs.Status.Staged.DownloadOnly {
		sc.fatalf("after bootc upgrade --download-only: staged downloadOnly is false")
	}
	if hs := sc.expectStatus(res, "after", "4", "3", "2"); hs.Status.Staged.DownloadOnly {
		sc.fatalf("after bootc upgrade --from-downloaded: staged downloadOnly is still true")
	}
	sc.expectRefused(res, "bootc switch --from-downloaded of an upgrade's download")
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "bootc upgrade --from-downloaded", "3", "4")

	// v3 runs, and bootc internals fsck passes on the booted host (upstream tmt 015). switch
	// --download-only to v2 stages it locked; switch --from-downloaded applies it only for
	// that image; the poweroff finalizes it, with the local /etc edit.
	v2ref := stepsLayoutInGuest + ":v2"
	res = sc.boot("v3-switch-download-only", "", "3", stepScript("v3-switch-download-only",
		`echo "E2E-LOCAL: $(cat `+localConf+`)"`,
		"status booted",
		"run bootc internals fsck",
		"run bootc switch --download-only --transport oci "+v2ref,
		"status locked",
		switchFromDownloadedRefused("bootc switch --from-downloaded --transport oci "+stable),
		"run bootc switch --from-downloaded --transport oci "+v2ref,
		"status after",
		"finish poweroff"), bootOptions{})
	if v, _ := res.r.stepValue("E2E-LOCAL"); v != localConfText {
		sc.fatalf("the local /etc edit did not survive: %s = %q", localConf, v)
	}
	sc.expectStatus(res, "booted", "3", "", "4")
	if hs := sc.expectStatus(res, "locked", "3", "2", "4"); !hs.Status.Staged.DownloadOnly {
		sc.fatalf("after bootc switch --download-only: staged downloadOnly is false\n%s", res.out["status-locked.json"])
	}
	sc.expectRefused(res, "bootc switch --from-downloaded of another image")
	if hs := sc.expectStatus(res, "after", "3", "2", "4"); hs.Status.Staged.DownloadOnly {
		sc.fatalf("after bootc switch --from-downloaded: staged downloadOnly is still true")
	}
	ds = sc.onDisk(localConf)
	sc.expectDiskVersions(ds, "the download-only switch", "2", "3")
	if strings.TrimSpace(ds.files["0:"+localConf]) != localConfText {
		sc.fatalf("the local /etc edit is not in the final deployment on the disk")
	}

	// v2 runs, with the local /etc edit and a file in /var. install reset --experimental
	// (upstream tmt 28) stages v2 in a new stateroot; after the reboot the host runs it with
	// the image's /etc and an empty /var (the root filesystem kernel arguments carried over
	// make it boot at all), and the old stateroot's deployments stay on the disk.
	const varMarker = "/var/lib/bootc-e2e-old-var"
	res = sc.boot("v2-reset", "", "2", stepScript("v2-reset",
		"echo old >"+varMarker,
		"status booted",
		"run bootc install reset --experimental --quiet",
		"status after",
		"finish reboot"), bootOptions{})
	sc.expectStatus(res, "booted", "2", "", "3")
	if hs := sc.expectStatus(res, "after", "2", "2", "3"); !strings.HasPrefix(hs.Status.Staged.Ostree.Stateroot, "s20") {
		sc.fatalf("install reset staged a deployment outside a new stateroot:\n%s", res.out["status-after.json"])
	}
	res = sc.boot("reset-booted", "", "2", stepScript("reset-booted",
		`echo "E2E-LOCAL: $(cat `+localConf+` 2>/dev/null || echo none)"`,
		`echo "E2E-OLDVAR: $(cat `+varMarker+` 2>/dev/null || echo none)"`,
		"status booted",
		"finish poweroff"), bootOptions{})
	if v, _ := res.r.stepValue("E2E-LOCAL"); v != "none" {
		sc.fatalf("after install reset: %s = %q, want no such file (the image's /etc)", localConf, v)
	}
	if v, _ := res.r.stepValue("E2E-OLDVAR"); v != "none" {
		sc.fatalf("after install reset: %s = %q, want an empty /var", varMarker, v)
	}
	if hs := sc.status(res, "booted"); hs.Status.Booted == nil || !strings.HasPrefix(hs.Status.Booted.Ostree.Stateroot, "s20") {
		sc.fatalf("after install reset: booted deployment not in a new stateroot:\n%s", res.out["status-booted.json"])
	}
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "install reset", "2", "2", "3")
}

// switchFromDownloadedRefused is a step running cmd, which must fail: its exit code and last
// line of output are printed as E2E-REFUSED-RC and E2E-REFUSED-ERR.
func switchFromDownloadedRefused(cmd string) string {
	return cmd + ` >out/refused.log 2>&1; echo "E2E-REFUSED-RC: $?"; echo "E2E-REFUSED-ERR: $(tail -n1 out/refused.log)"`
}

// expectRefused checks what switchFromDownloadedRefused printed: a failure saying that the
// staged deployment was not downloaded by that switch.
func (sc *scenario) expectRefused(res result, what string) {
	sc.t.Helper()
	rc, _ := res.r.stepValue("E2E-REFUSED-RC")
	msg, _ := res.r.stepValue("E2E-REFUSED-ERR")
	if rc == "0" || rc == "" || !strings.Contains(msg, "was not downloaded by bootc switch --download-only") {
		sc.fatalf("%s: exit %q, %q; want a refusal", what, rc, msg)
	}
}

// regexpRollbackV1 reports whether the human status output names v1 as the rollback.
func regexpRollbackV1(human string) bool {
	lines := strings.Split(human, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "Rollback image:") || !strings.HasSuffix(strings.TrimSpace(l), "oci:v1") {
			continue
		}
		for _, m := range lines[i+1 : min(i+4, len(lines))] {
			if f := strings.Fields(m); len(f) >= 2 && f[0] == "Version:" && f[1] == "1" {
				return true
			}
		}
	}
	return false
}

// keepLogs copies the serial consoles, qemu's stderr and the install log to
// a new directory under $BOOTC_E2E_LOGS (default /var/tmp/bootc-e2e-logs) when the test
// failed or that variable is set, since the work directory goes with the test.
func keepLogs(t *testing.T, work string) {
	dest := os.Getenv("BOOTC_E2E_LOGS")
	if dest == "" {
		if !t.Failed() {
			return
		}
		dest = "/var/tmp/bootc-e2e-logs"
	}
	files, _ := filepath.Glob(filepath.Join(work, "*.log"))
	more, _ := filepath.Glob(filepath.Join(work, "*.stderr"))
	files = append(files, more...)
	if len(files) == 0 {
		return
	}
	dest = filepath.Join(dest, time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Logf("keeping the logs: %v", err)
		return
	}
	for _, f := range files {
		if err := copyFile(f, filepath.Join(dest, filepath.Base(f))); err != nil {
			t.Logf("keeping the logs: %v", err)
			return
		}
	}
	t.Logf("serial consoles and logs kept in %s", dest)
}
