package main

import (
	"github.com/bootc-go/bootc/internal/deploy"
)

// UpgradeCmd is `bootc upgrade`.
type UpgradeCmd struct {
	Check          bool   `help:"Only check whether an update is available (fetches the manifest and config); the result shows as cachedUpdate in bootc status." xor:"check-apply,check-download,check-from"`
	Apply          bool   `help:"Reboot after staging the update." xor:"check-apply,download-apply"`
	DownloadOnly   bool   `help:"Download and stage the update, but keep it from being applied at shutdown until bootc upgrade --from-downloaded." xor:"check-download,download-apply,download-from"`
	FromDownloaded bool   `help:"Apply a staged --download-only update at the next reboot, without fetching anything." xor:"check-from,download-from"`
	Tag            string `help:"Upgrade to this tag of the tracked image instead of its current tag."`
	softRebootFlag `embed:""`
	Quiet          bool   `help:"Do not show progress."`
	ProgressFD     int    `name:"progress-fd" help:"Write progress as JSON lines to this file descriptor." hidden:""`
	Format         string `help:"Output of --check: humanreadable (upstream's lines; exit code 0 whether or not there is an update) or json (the update: version, digest, layers and the ones to fetch, with sizes). With json the exit code tells the outcome: 0 no update, 100 update available, 1 error." enum:"humanreadable,json" default:"humanreadable"`
}

// Run upgrades the host.
func (c *UpgradeCmd) Run(g *Globals, d *Deps) error {
	if c.Format != "humanreadable" {
		return c.checkJSON(g, d)
	}
	if err := d.requireRoot("upgrade"); err != nil {
		return err
	}
	if err := c.checkSoftReboot(d); err != nil {
		return err
	}
	h, done, err := d.openHost(g, hostOptions{quiet: c.Quiet, progressFD: c.ProgressFD})
	if err != nil {
		return err
	}
	defer done()
	if err := d.checkApply(h, c.Apply); err != nil {
		return err
	}
	out, err := h.Upgrade(d.Ctx, deploy.UpgradeOptions{Check: c.Check, DownloadOnly: c.DownloadOnly,
		FromDownloaded: c.FromDownloaded, Tag: c.Tag})
	printOutcome(d.Out, out)
	if err != nil {
		return err
	}
	return d.maybeReboot(c.Apply, out.Changed || d.hasStaged(h))
}
