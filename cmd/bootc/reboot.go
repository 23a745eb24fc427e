package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/godbus/dbus/v5"

	"github.com/bootc-go/bootc/internal/deploy"
)

// errApplyOffline refuses --apply on a sysroot that is not the running system.
var errApplyOffline = errors.New("--apply reboots the running system, but this sysroot is not the booted one; run without --apply (an offline sysroot boots its new default deployment the next time it is started)")

// RebootDeps are what --apply reads of the running system, and the reboot itself (in
// Deps.Reboot). A nil field is the real one; tests set them to check when a verb reboots
// without rebooting the machine.
type RebootDeps struct {
	// IsBootedSysroot reports whether the host's sysroot is the running system.
	IsBootedSysroot func(h *deploy.Host) bool
	// HasStaged reports whether the host has a staged deployment.
	HasStaged func(h *deploy.Host) bool
	// Reboot starts the reboot.
	Reboot func() error
}

func (r RebootDeps) isBootedSysroot(h *deploy.Host) bool {
	if r.IsBootedSysroot != nil {
		return r.IsBootedSysroot(h)
	}
	return h.Sysroot.IsBooted()
}

func (r RebootDeps) hasStaged(h *deploy.Host) bool {
	if r.HasStaged != nil {
		return r.HasStaged(h)
	}
	return hasStagedDeployment(h)
}

// reboot starts the reboot and, as upstream does, does not return to the script that ran
// bootc while the system goes down: systemd's StartUnit only queues the job, so it waits
// until shutdown stops this process (SIGTERM cancels ctx).
func (r RebootDeps) reboot(ctx context.Context) error {
	if r.Reboot != nil {
		return r.Reboot()
	}
	if err := startReboot(); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// checkApply is called before any work: --apply needs the booted system.
func (d *Deps) checkApply(h *deploy.Host, apply bool) error {
	if apply && !d.Reboot.isBootedSysroot(h) {
		return errApplyOffline
	}
	return nil
}

// hasStaged reports whether the host has a staged deployment (which --apply reboots into).
func (d *Deps) hasStaged(h *deploy.Host) bool { return d.Reboot.hasStaged(h) }

// maybeReboot asks systemd to reboot (--apply) when something is queued.
func (d *Deps) maybeReboot(apply, changed bool) error {
	if !apply || !changed {
		return nil
	}
	if !d.booted() {
		return errors.New("--apply only works on a booted system; the offline sysroot boots the new deployment next time it is started")
	}
	fmt.Fprintln(d.Out, "Rebooting the system")
	return d.Reboot.reboot(d.Ctx)
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
	conn, err := connectSystemd(systemdPrivateSocket)
	if err != nil {
		return fmt.Errorf("rebooting: %w", err)
	}
	defer conn.Close()
	obj := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	call := obj.Call("org.freedesktop.systemd1.Manager.StartUnit", 0, "reboot.target", "replace-irreversibly")
	if call.Err != nil {
		return fmt.Errorf("rebooting: starting reboot.target: %w", call.Err)
	}
	return nil
}

// systemdPrivateSocket is systemd's own D-Bus socket, which root's systemctl uses when no
// system bus runs.
const systemdPrivateSocket = "/run/systemd/private"

// connectSystemd connects to systemd: through the system bus, or, on a host that runs no
// D-Bus daemon (a minimal image), as systemctl does as root, directly to its private socket
// (a peer-to-peer connection: authenticated, but no Hello, since there is no bus). Found by
// the VM test: --apply failed there with "system bus not found".
func connectSystemd(private string) (*dbus.Conn, error) {
	conn, err := dbus.ConnectSystemBus()
	if err == nil {
		return conn, nil
	}
	pconn, perr := dbus.Dial("unix:path=" + private)
	if perr == nil {
		if perr = pconn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); perr == nil {
			return pconn, nil
		}
		pconn.Close()
	}
	return nil, fmt.Errorf("connecting to the system bus: %w; to systemd's private socket %s: %w", err, private, perr)
}
