package main

import (
	"errors"

	"github.com/bootc-go/bootc/internal/deploy"
)

// UpgradeCmd is `bootc upgrade`.
type UpgradeCmd struct {
	Check          bool   `help:"Only check whether an update is available (fetches the manifest and config); the result shows as cachedUpdate in bootc status."`
	Apply          bool   `help:"Reboot after staging the update."`
	DownloadOnly   bool   `help:"Download and stage the update, but keep it from being applied at shutdown until bootc upgrade --from-downloaded."`
	FromDownloaded bool   `help:"Apply a staged --download-only update at the next reboot, without fetching anything."`
	Tag            string `help:"Upgrade to this tag of the tracked image instead of its current tag."`
	Quiet          bool   `help:"Do not show progress."`
	ProgressFD     int    `name:"progress-fd" help:"Write progress as JSON lines to this file descriptor." hidden:""`
	Format         string `help:"Output of --check: humanreadable (upstream's lines; exit code 0 whether or not there is an update) or json (the update: version, digest, layers and the ones to fetch, with sizes). With json the exit code tells the outcome: 0 no update, 100 update available, 1 error." enum:"humanreadable,json" default:"humanreadable"`
}

// Run upgrades the host.
func (c *UpgradeCmd) Run(g *Globals, d *Deps) error {
	if c.Check && c.Apply {
		return errors.New("--check and --apply cannot be used together")
	}
	if c.DownloadOnly && (c.Check || c.Apply) {
		return errors.New("--download-only cannot be used with --check or --apply")
	}
	if c.FromDownloaded && (c.Check || c.DownloadOnly) {
		return errors.New("--from-downloaded cannot be used with --check or --download-only")
	}
	if c.Format != "humanreadable" {
		return c.checkJSON(g, d)
	}
	if err := d.requireRoot("upgrade"); err != nil {
		return err
	}
	h, done, err := d.openHost(g, hostOptions{quiet: c.Quiet, progressFD: c.ProgressFD})
	if err != nil {
		return err
	}
	defer done()
	if err := checkApply(h, c.Apply); err != nil {
		return err
	}
	out, err := h.Upgrade(d.Ctx, deploy.UpgradeOptions{Check: c.Check, DownloadOnly: c.DownloadOnly,
		FromDownloaded: c.FromDownloaded, Tag: c.Tag})
	if err != nil {
		return err
	}
	return maybeReboot(d, c.Apply, out.Changed || h.Sysroot.Staged() != nil)
}
