package main

import (
	"errors"
	"fmt"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/spec"
)

// StatusCmd is `bootc status`.
type StatusCmd struct {
	Format        string `help:"Output format: humanreadable, yaml or json (default: humanreadable on a terminal, else yaml)." default:""`
	FormatVersion int    `help:"Version of the output format (0 and 1 both mean v1)." default:"0"`
	Booted        bool   `help:"Only show the booted deployment (drop staged and rollback)."`
	Verbose       bool   `short:"v" help:"Show more detail in human-readable output."`
	JSON          bool   `hidden:"" help:"Same as --format json."`
}

// Run prints the host's status.
func (c *StatusCmd) Run(g *Globals, d *Deps) error {
	if err := spec.CheckFormatVersion(c.FormatVersion); err != nil {
		return err
	}
	format := spec.DefaultFormat(d.IsTerminal)
	switch {
	case c.JSON && c.Format != "" && c.Format != "json":
		return errors.New("--json conflicts with --format " + c.Format)
	case c.JSON:
		format = spec.FormatJSON
	case c.Format != "":
		f, err := spec.ParseFormat(c.Format)
		if err != nil {
			return err
		}
		format = f
	}
	h, done, err := d.openHost(g, hostOptions{quiet: true})
	if err != nil {
		return d.statusError(err)
	}
	defer done()
	host, _, err := deploy.Status(d.Ctx, h.Sysroot, h.Repo)
	if err != nil {
		return d.statusError(err)
	}
	if err := spec.Render(d.Out, host, format, spec.RenderOptions{FormatVersion: c.FormatVersion, Booted: c.Booted, Verbose: c.Verbose}); err != nil {
		return err
	}
	if format == spec.FormatJSON {
		fmt.Fprintln(d.Out)
	}
	return nil
}
