package main

// RollbackCmd is `bootc rollback`.
type RollbackCmd struct {
	Apply          bool `help:"Reboot after changing the boot order."`
	softRebootFlag `embed:""`
}

// Run makes the rollback deployment the default. Note: /etc changes made since are not
// carried back; each deployment keeps its own /etc.
func (c *RollbackCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("rollback"); err != nil {
		return err
	}
	if err := c.checkSoftReboot(d); err != nil {
		return err
	}
	h, done, err := d.openHost(g, hostOptions{quiet: true})
	if err != nil {
		return err
	}
	defer done()
	if err := d.checkApply(h, c.Apply); err != nil {
		return err
	}
	out, err := h.Rollback(d.Ctx)
	printOutcome(d.Out, out)
	if err != nil {
		return err
	}
	return d.maybeReboot(c.Apply, out.Changed)
}
