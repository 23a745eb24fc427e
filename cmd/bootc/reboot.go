package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/godbus/dbus/v5"
)

// maybeReboot asks systemd to reboot (--apply) when something is queued.
func maybeReboot(d *Deps, apply, changed bool) error {
	if !apply || !changed {
		return nil
	}
	if _, err := os.Stat(BootedMarker); err != nil {
		return errors.New("--apply only works on a booted system; the offline sysroot boots the new deployment next time it is started")
	}
	fmt.Fprintln(d.Out, "Rebooting the system")
	return rebootSystem()
}

// rebootSystem asks systemd (over D-Bus, as `systemctl reboot` does) to start reboot.target.
func rebootSystem() error {
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
