package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/install"
)

// InternalsDestructiveCleanupCmd is `bootc internals destructive-cleanup`, which
// bootc-destructive-cleanup.service runs at the first boot after `install to-existing-root
// --cleanup`.
type InternalsDestructiveCleanupCmd struct{}

// Run removes the previous system's package files from the physical root (/sysroot, or
// --sysroot), when its stamp asks for it.
func (c *InternalsDestructiveCleanupCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("internals destructive-cleanup"); err != nil {
		return err
	}
	phys := g.Sysroot
	if phys == "" {
		phys = "/sysroot"
	}
	stamp := filepath.Join(phys, install.DestructiveCleanupStamp)
	if _, err := os.Stat(stamp); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(d.Out, "Nothing to clean up: %s does not exist\n", stamp)
		return nil
	}
	if g.Sysroot == "" {
		// /sysroot is mounted read-only; this runs in a mount namespace of its own
		// (re-executed, and PrivateMounts= in the unit), so only this process sees it
		// writable.
		if err := unix.Mount("", phys, "", unix.MS_REMOUNT|unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("remounting %s read-write: %w", phys, err)
		}
	}
	res, err := install.RemovePreviousSystem(phys)
	if err != nil {
		return fmt.Errorf("removing the previous system from %s: %w", phys, err)
	}
	if res.Database == "" {
		fmt.Fprintf(d.Out, "No package database of the previous system in %s (only dpkg's is known); nothing removed\n", phys)
		return nil
	}
	fmt.Fprintf(d.Out, "Removed %d files and directories of %d packages of the previous system (%s) from %s; its /etc, /var and files no package owns are kept\n",
		res.Removed, res.Packages, res.Database, phys)
	return nil
}
