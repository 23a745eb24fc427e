package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/tests/image/testimage"
)

// secureBootStep prints the guest's SecureBoot EFI variable (its last byte: 1 enabled, 0
// disabled) and the kernel's lockdown state as E2E-SECUREBOOT and E2E-LOCKDOWN.
const secureBootStep = `sb=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
echo "E2E-SECUREBOOT: $( [ -e $sb ] && od -An -tu1 $sb | awk '{print $NF}' || echo none)"
echo "E2E-LOCKDOWN: $(cat /sys/kernel/security/lockdown 2>/dev/null || echo none)"`

// grubPauseSteps installs a generator in /etc/grub.d that, while grub-mkconfig writes the
// next menu, prints E2E-GRUB-WRITING on the console (the serial port) and waits,
// so that the host can cut the power in the middle of the write.
const grubPauseSteps = `cat >/etc/grub.d/14_bootc_e2e_pause <<'EOF'
#!/bin/sh
echo "menuentry 'partial' {"
echo "E2E-GRUB-WRITING" >/dev/console
sleep 600
EOF
chmod 0755 /etc/grub.d/14_bootc_e2e_pause`

// TestUEFISecureBootGrub is the UEFI proof: v1 installed with `bootc install to-disk
// --bootloader grub`, booted in qemu under OVMF with Secure Boot enforcing (Debian's
// signed shim, GRUB and kernel), switched to v2 (staged, finalized at shutdown), rolled back
// to v1, power-cut while libostree's GRUB backend writes the menu of a switch to v3 at its
// finalization, switched to v3 again and upgraded to v4. After each change the host reads
// the GRUB menu on the disk and checks that its default entry is the deployment libostree
// boots next. The same disk then boots on BIOS (SeaBIOS) through GRUB's core image in the
// BIOS boot partition.
func TestUEFISecureBootGrub(t *testing.T) {
	qemu, work, tm := startVMTest(t)
	for _, f := range []string{ovmfCodeSecBoot, ovmfVarsMS} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("OVMF firmware (Debian's ovmf, which make deps installs): %v", err)
		}
	}
	imgs := testimage.Build(t)

	diskImg := filepath.Join(work, "disk.raw")
	took := installDisk(t, imgs.BootcBinary, imgs.Ref("v1"), stepsLayoutInGuest+":v1", diskImg, work, "--bootloader", "grub")
	tm.add("install v1 with GRUB %s", took.Round(100*time.Millisecond))
	tm.add("partitions: %s", partitionSizes(t, diskImg))

	steps, _ := newLayoutStepsDisk(t, imgs, work, deriveSpec{from: "v3", tag: "v4", version: "4",
		created: time.Date(2025, 1, 4, 0, 0, 0, 0, time.UTC)})

	vars := filepath.Join(work, "OVMF_VARS.fd")
	if err := copyFile(ovmfVarsMS, vars); err != nil {
		t.Fatal(err)
	}
	vm := vmConfig{qemu: qemu, disk: diskImg, steps: steps.image, dir: work, uefiVars: vars}
	accel, why := chooseAccel(t, vm)
	vm.accel = accel
	tm.add("accelerator %s: %s", accel, why)
	sc := &scenario{t: t, vm: vm, steps: steps, disk: diskImg, work: work, tm: tm}
	stable := stepsLayoutInGuest + ":stable"

	expectSecureBoot := func(res result) {
		t.Helper()
		if v, _ := res.r.stepValue("E2E-SECUREBOOT"); v != "1" {
			sc.fatalf("boot %s: SecureBoot variable %q, want 1 (enabled)", res.b.name, v)
		}
		if v, _ := res.r.stepValue("E2E-LOCKDOWN"); !strings.Contains(v, "[integrity]") && !strings.Contains(v, "[confidentiality]") {
			sc.fatalf("boot %s: kernel lockdown %q, want the lockdown Secure Boot enforces", res.b.name, v)
		}
	}

	// 1. v1 boots with Secure Boot; the menu of the install boots it. Switch to stable (v2):
	// staged, finalized at the reboot.
	ds := sc.onDisk()
	sc.expectDiskVersions(ds, "the install", "1")
	res := sc.boot("uefi-v1-switch", "", "1", stepScript("uefi-v1-switch",
		secureBootStep,
		"run bootc switch --transport oci "+stable,
		"status after",
		"finish reboot"), bootOptions{})
	expectSecureBoot(res)
	sc.expectStatus(res, "after", "1", "2", "")
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the switch's finalization", "2", "1")

	// 2. v2 boots; bootc rollback rewrites the menu at once (v1 and v2 differ in their
	// kernel arguments, so libostree writes a new boot version).
	res = sc.boot("uefi-v2-rollback", "", "2", stepScript("uefi-v2-rollback",
		secureBootStep,
		"run bootc rollback",
		"status after",
		"finish reboot"), bootOptions{})
	expectSecureBoot(res)
	if hs := sc.expectStatus(res, "after", "2", "", "1"); !hs.Status.RollbackQueued {
		sc.fatalf("after bootc rollback: rollbackQueued is false\n%s", res.out["status-after.json"])
	}
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the rollback", "1", "2")

	// 3. v1 boots again. stable moves to v3; a switch to it is staged, and the power is cut
	// while its finalization at shutdown writes the menu.
	res = sc.boot("uefi-v1-menu-cut", "v3", "1", stepScript("uefi-v1-menu-cut",
		"status booted",
		grubPauseSteps,
		"run bootc switch --transport oci "+stable,
		"status after",
		`echo "E2E-MENUCUT-START"`,
		"finish poweroff"), bootOptions{kill: func(line string) bool { return strings.Contains(line, "E2E-GRUB-WRITING") }})
	sc.expectStatus(res, "booted", "1", "", "2")
	sc.expectStatus(res, "after", "1", "3", "2")
	sc.expectPowerCut(res, "E2E-MENUCUT-START", "the write of the GRUB menu at finalization")
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the power cut during the menu write", "1", "2")

	// 4. The previous menu boots v1, fsck clean; without the pause the switch to v3 is
	// staged again and finalized at the reboot.
	res = sc.boot("uefi-after-menu-cut", "", "1", stepScript("uefi-after-menu-cut",
		secureBootStep,
		"rm -f /etc/grub.d/14_bootc_e2e_pause",
		"status booted",
		"run ostree fsck",
		"run bootc switch --transport oci "+stable,
		"status after",
		"finish reboot"), bootOptions{})
	expectSecureBoot(res)
	sc.expectStatus(res, "booted", "1", "", "2")
	sc.expectFsckClean(res, "after the power cut during the GRUB menu write")
	sc.expectStatus(res, "after", "1", "3", "2")
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the switch's finalization after the cut", "3", "1")

	// 5. v3 boots; stable moves to v4; bootc upgrade, finalized at the reboot.
	res = sc.boot("uefi-v3-upgrade", "v4", "3", stepScript("uefi-v3-upgrade",
		secureBootStep,
		"run bootc upgrade",
		"status after",
		"finish reboot"), bootOptions{})
	expectSecureBoot(res)
	sc.expectStatus(res, "after", "3", "4", "1")
	ds = sc.onDisk()
	sc.expectDiskVersions(ds, "the upgrade's finalization", "4", "3")

	// 6. The same disk on BIOS: SeaBIOS, boot.img, the core image, the same menu.
	sc.vm.uefiVars = ""
	res = sc.boot("bios-grub", "", "4", stepScript("bios-grub",
		secureBootStep,
		"finish poweroff"), bootOptions{})
	if v, _ := res.r.stepValue("E2E-SECUREBOOT"); v != "none" {
		sc.fatalf("the BIOS boot sees a SecureBoot variable %q: it did not boot on BIOS", v)
	}
}

// partitionSizes describes the partitions of a disk image: name and size of each.
func partitionSizes(t *testing.T, image string) string {
	t.Helper()
	d, err := disk.Open(image, disk.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	table, err := d.ReadTable()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, p := range table.Partitions {
		parts = append(parts, fmt.Sprintf("%d %s %d MiB", p.Number, p.Name, p.Size(table.SectorSize)>>20))
	}
	return strings.Join(parts, ", ")
}
