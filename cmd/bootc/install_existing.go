package main

import (
	"github.com/bootc-go/bootc/internal/install"
)

// InstallToExistingRootCmd is `bootc install to-existing-root`.
type InstallToExistingRootCmd struct {
	installFlags           `embed:""`
	Replace                string `default:"alongside" enum:"alongside,wipe" help:"What becomes of the existing root's files: alongside keeps them (the installed system finds them under /sysroot); wipe, which would delete the running system, is refused on its root."`
	AcknowledgeDestructive bool   `name:"acknowledge-destructive" help:"Accept that this is a destructive action and skip the 20 s warning."`
	Cleanup                bool   `help:"Have the installed system remove the previous system's package files at its first boot (bootc-destructive-cleanup.service); its /etc and /var stay under /sysroot."`
	RootPath               string `arg:"" optional:"" name:"root" type:"path" placeholder:"ROOT" help:"Where the running system's root is mounted (default /target; when missing, / is bound there)."`
}

// Run installs next to the running system, on its root filesystem; /boot is emptied and
// gets the new bootloader, everything else stays until the reboot.
func (c *InstallToExistingRootCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("install"); err != nil {
		return err
	}
	replace, err := install.ParseReplace(c.Replace)
	if err != nil {
		return err
	}
	o, done, err := c.options(g, d)
	if err != nil {
		return err
	}
	defer done()
	return install.ToExistingRoot(d.Ctx, install.ExistingRootOptions{Options: o, Root: c.RootPath,
		Replace: replace, AcknowledgeDestructive: c.AcknowledgeDestructive, Cleanup: c.Cleanup})
}
