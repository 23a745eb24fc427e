package main

import (
	"errors"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
)

// InstallResetCmd is `bootc install reset --experimental` (upstream's factory reset).
type InstallResetCmd struct {
	Experimental    bool     `help:"Acknowledge that this command is experimental (required)."`
	TargetImgref    string   `name:"target-imgref" placeholder:"IMAGE" help:"Image of the new deployment (default: the booted image)."`
	TargetTransport string   `name:"target-transport" default:"registry" help:"Transport of --target-imgref: registry, oci, oci-archive, containers-storage, dir, docker-archive."`
	Stateroot       string   `placeholder:"NAME" help:"Name of the new stateroot (default: s<year>-<n>)."`
	Karg            []string `name:"karg" sep:"none" placeholder:"ARG" help:"Add a kernel argument (repeatable)."`
	NoRootKargs     bool     `name:"no-root-kargs" help:"Do not inherit the booted deployment's root filesystem arguments (root=, rootflags=, rd.*, rw)."`
	Apply           bool     `help:"Reboot into the new deployment."`
	Quiet           bool     `help:"Do not show progress."`
}

// Run makes the new stateroot's deployment the default.
func (c *InstallResetCmd) Run(g *Globals, d *Deps) error {
	if !c.Experimental {
		return errors.New("bootc install reset is experimental: pass --experimental to acknowledge")
	}
	if err := d.requireRoot("install reset"); err != nil {
		return err
	}
	opts := deploy.ResetOptions{Stateroot: c.Stateroot, Kargs: c.Karg, NoRootKargs: c.NoRootKargs}
	if c.TargetImgref != "" {
		ref, err := imgref.FromCLI(c.TargetImgref, c.TargetTransport, false)
		if err != nil {
			return err
		}
		opts.Target = &ref
	}
	h, done, err := d.openHost(g, hostOptions{quiet: c.Quiet})
	if err != nil {
		return err
	}
	defer done()
	if err := d.checkApply(h, c.Apply); err != nil {
		return err
	}
	out, err := h.Reset(d.Ctx, opts)
	printOutcome(d.Out, out)
	if err != nil {
		return err
	}
	return d.maybeReboot(c.Apply, out.Changed)
}
