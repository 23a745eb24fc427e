package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/godbus/dbus/v5"

	"github.com/bootc-go/bootc/internal/deploy"
)

// errApplyOffline refuses --apply on a sysroot that is not the running system.
var errApplyOffline = errors.New("--apply reboots the running system, but this sysroot is not the booted one; run without --apply (an offline sysroot boots its new default deployment the next time it is started)")

// What --apply reads of the running system, and the reboot itself; tests replace them (as
// geteuid) to check when a verb reboots without rebooting the machine.
var (
	isBootedSysroot    = func(h *deploy.Host) bool { return h.Sysroot.IsBooted() }
	bootedMarkerExists = func() bool { _, err := os.Stat(BootedMarker); return err == nil }
	hasStaged          = hasStagedDeployment
	rebootSystem       = startReboot
)

// checkApply is called before any work: --apply needs the booted system.
func checkApply(h *deploy.Host, apply bool) error {
	if apply && !isBootedSysroot(h) {
		return errApplyOffline
	}
	return nil
}

// maybeReboot asks systemd to reboot (--apply) when something is queued.
func maybeReboot(d *Deps, apply, changed bool) error {
	if !apply || !changed {
		return nil
	}
	if !bootedMarkerExists() {
		return errors.New("--apply only works on a booted system; the offline sysroot boots the new deployment next time it is started")
	}
	fmt.Fprintln(d.Out, "Rebooting the system")
	return rebootSystem()
}

// hasStagedDeployment reports whether the host has a staged deployment (which --apply
// reboots into).
func hasStagedDeployment(h *deploy.Host) bool {
	s := h.Sysroot.Staged()
	if s == nil {
		return false
	}
	s.Close()
	return true
}

// startReboot asks systemd (over D-Bus, as `systemctl reboot` does) to start reboot.target.
func startReboot() error {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return fmt.Errorf("rebooting: connecting to the system bus: %w", err)
	}
	defer conn.Close()
	obj := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	call := obj.Call("org.freedesktop.systemd1.Manager.StartUnit", 0, "reboot.target", "replace-irreversibly")
	if call.Err != nil {
		return fmt.Errorf("rebooting: starting reboot.target: %w", call.Err)
	}
	return nil
}
