package main

import (
	"fmt"
	"strings"

	"github.com/bootc-go/bootc/internal/install"
)

// InstallFinalizeCmd is `bootc install finalize ROOT_PATH`, the penultimate step of an
// install split into phases (install to-filesystem --skip-finalize, the caller's changes,
// then this, then unmounting).
type InstallFinalizeCmd struct {
	RootPath string `arg:"" name:"root-path" type:"path" placeholder:"ROOT_PATH" help:"Path to the mounted root filesystem."`
}

// Run checks the installed sysroot (a deployment, its boot entry, kernel and initramfs),
// then syncs its filesystems and remounts them read-only.
func (c *InstallFinalizeCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("install finalize"); err != nil {
		return err
	}
	if g.Sysroot != "" {
		return fmt.Errorf("--sysroot does not apply to install finalize: give the mounted root as ROOT_PATH")
	}
	res, err := install.Finalize(d.Ctx, c.RootPath, true, d.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "Checked %d deployments and their boot entries\n", res.Deployments)
	if len(res.ReadOnly) > 0 {
		fmt.Fprintf(d.Out, "Synced and remounted read-only: %s\n", strings.Join(res.ReadOnly, ", "))
	} else {
		fmt.Fprintf(d.Out, "Synced: %s (not a mount point: left read-write)\n", strings.Join(res.Synced, ", "))
	}
	fmt.Fprintln(d.Out, "Installation finalized.")
	return nil
}
