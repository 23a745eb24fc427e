package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/deploy"
)

// fakeApply makes --apply, in the commands run against h from now on, see the test host as
// the booted system, with a staged deployment when *staged is true, and count reboots
// instead of rebooting (through Deps.Reboot).
func fakeApply(t *testing.T, h *testHost, staged *bool) *int {
	reboots := 0
	marker := existingFile(t)
	h.adjust = func(d *Deps) {
		d.BootedMarker = marker
		d.Reboot = RebootDeps{
			IsBootedSysroot: func(*deploy.Host) bool { return true },
			HasStaged:       func(*deploy.Host) bool { return *staged },
			Reboot:          func() error { reboots++; return nil },
		}
	}
	return &reboots
}

// TestApplyRebootsIntoStaged (upstream tmt 24, without the reboot): `switch --apply` to the
// image the host already tracks prints "Image specification is unchanged." and still
// reboots when a deployment is staged (upstream stages with `bootc switch IMG`, then runs
// `bootc switch --apply IMG` and checks that the new image booted); `upgrade --apply` with
// no new image does the same; neither reboots when nothing is staged, nor without --apply;
// a switch to a new image with --apply reboots.
func TestApplyRebootsIntoStaged(t *testing.T) {
	h := newTestHost(t)
	layout := filepath.Join(t.TempDir(), "oci")
	v1 := writeOCI(t, layout, "v1", bootableImage("1"))
	v2 := writeOCI(t, layout, "v2", bootableImage("2"))
	h.bootc(t, "switch", "--quiet", "--transport", "oci", v1)

	staged := false
	reboots := fakeApply(t, h, &staged)
	for _, tc := range []struct {
		name        string
		args        []string
		staged      bool
		wantReboots int
		wantOut     string
	}{
		{"switch --apply, spec unchanged, staged", []string{"switch", "--quiet", "--apply", "--transport", "oci", v1}, true, 1, "Image specification is unchanged."},
		{"switch --apply, spec unchanged, nothing staged", []string{"switch", "--quiet", "--apply", "--transport", "oci", v1}, false, 0, "Image specification is unchanged."},
		{"switch, spec unchanged, staged, no --apply", []string{"switch", "--quiet", "--transport", "oci", v1}, true, 0, "Image specification is unchanged."},
		{"upgrade --apply, no update, staged", []string{"upgrade", "--quiet", "--apply"}, true, 1, ""},
		{"upgrade --apply, no update, nothing staged", []string{"upgrade", "--quiet", "--apply"}, false, 0, ""},
		{"switch --apply to a new image", []string{"switch", "--quiet", "--apply", "--transport", "oci", v2}, false, 1, "Queued for next boot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			staged, *reboots = tc.staged, 0
			code, out, errs := h.try(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
			if *reboots != tc.wantReboots {
				t.Errorf("%d reboots, want %d\nstdout:\n%s", *reboots, tc.wantReboots, out)
			}
			if said := strings.Contains(out, "Rebooting the system"); said != (tc.wantReboots > 0) {
				t.Errorf("\"Rebooting the system\" printed: %v, want %v\n%s", said, tc.wantReboots > 0, out)
			}
		})
	}
}

// TestMaybeReboot: --apply reboots only when something is queued and the booted marker
// exists, and says so first; the outside world comes from Deps.Reboot.
func TestMaybeReboot(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		apply, changed, booted bool
		wantReboots            int
		wantErr                bool
	}{
		{"no --apply", false, true, true, 0, false},
		{"nothing queued", true, false, true, 0, false},
		{"queued", true, true, true, 1, false},
		{"queued, not booted", true, true, false, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			reboots := 0
			d := &Deps{Out: &out, BootedMarker: existingFile(t), Reboot: RebootDeps{
				Reboot: func() error { reboots++; return nil },
			}}
			if !tc.booted {
				d.BootedMarker += ".missing"
			}
			err := d.maybeReboot(tc.apply, tc.changed)
			if (err != nil) != tc.wantErr || reboots != tc.wantReboots {
				t.Fatalf("maybeReboot: err %v, %d reboots; want error %v, %d reboots", err, reboots, tc.wantErr, tc.wantReboots)
			}
			if said := out.String() == "Rebooting the system\n"; said != (tc.wantReboots > 0) {
				t.Errorf("output %q", out.String())
			}
		})
	}
	d := &Deps{Reboot: RebootDeps{IsBootedSysroot: func(*deploy.Host) bool { return false }}}
	if err := d.checkApply(nil, true); !errors.Is(err, errApplyOffline) {
		t.Errorf("checkApply on an offline sysroot: %v", err)
	}
	if err := d.checkApply(nil, false); err != nil {
		t.Errorf("checkApply without --apply: %v", err)
	}
}

// existingFile is a file that exists, to stand in for the booted marker.
func existingFile(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "ostree-booted")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConnectSystemdNoBus: without a system bus and without systemd's private socket, the
// error names both (the private socket is how --apply reboots a host without D-Bus; the VM
// test's guest runs none).
func TestConnectSystemdNoBus(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(dir, "no-bus"))
	_, err := connectSystemd(filepath.Join(dir, "no-private"))
	if err == nil || !strings.Contains(err.Error(), "connecting to the system bus") || !strings.Contains(err.Error(), "private socket "+filepath.Join(dir, "no-private")) {
		t.Fatalf("err = %v", err)
	}
}
