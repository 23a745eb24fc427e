package main

import (
	"strings"
	"testing"
)

// TestSoftRebootRefused: soft reboots need libostree support that 2022.7 lacks, so
// --soft-reboot=required is refused before the verb touches anything (an empty --sysroot
// is never opened), auto is accepted with a note, and every verb's --help says why.
func TestSoftRebootRefused(t *testing.T) {
	for _, verb := range [][]string{{"switch", "quay.io/x/y:1"}, {"upgrade"}, {"rollback"}} {
		sysroot := t.TempDir()
		args := append([]string{"--sysroot", sysroot, verb[0], "--soft-reboot=required"}, verb[1:]...)
		code, _, errs := bootc(t, args...)
		if code == 0 || !strings.Contains(errs, "--soft-reboot=required: soft reboots are not available") || !strings.Contains(errs, "libostree 2022.7 lacks") {
			t.Errorf("%v: exit %d, stderr %q; want the refusal naming libostree 2022.7", args, code, errs)
		}
		args = append([]string{"--sysroot", sysroot, verb[0], "--soft-reboot=auto"}, verb[1:]...)
		_, _, errs = bootc(t, args...)
		if !strings.Contains(errs, "Note: --soft-reboot=auto") || strings.Contains(errs, "soft reboots are not available") {
			t.Errorf("%v: stderr %q; want the note, then the verb's own work", args, errs)
		}
		code, out, _ := bootc(t, verb[0], "--help")
		if code != 0 || !strings.Contains(out, "--soft-reboot=MODE") || !strings.Contains(strings.Join(strings.Fields(out), " "), "libostree 2022.7 lacks") {
			t.Errorf("%s --help does not say why soft reboots are unavailable:\n%s", verb[0], out)
		}
	}
}
