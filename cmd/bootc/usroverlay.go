package main

import (
	"errors"
	"fmt"

	"github.com/bootc-go/bootc/ostree"
)

// UsrOverlayCmd is `bootc usr-overlay`.
type UsrOverlayCmd struct {
	ReadOnly bool `help:"Mount the transient overlay read-only (ostree admin unlock --transient)."`
}

// Run adds a writable (or read-only) transient overlay on /usr of the booted deployment.
func (c *UsrOverlayCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("usr-overlay"); err != nil {
		return err
	}
	if g.Sysroot != "" {
		return errors.New("usr-overlay applies to the running system; it cannot be used with --sysroot")
	}
	h, done, err := d.openHost(g, hostOptions{quiet: true})
	if err != nil {
		return err
	}
	defer done()
	// As ostree admin unlock does: take the sysroot lock (waiting for a running upgrade)
	// and reload, so the state checked below is current.
	if err := h.Sysroot.Lock(d.Ctx, h.OnLockWait); err != nil {
		return err
	}
	defer h.Sysroot.Unlock()
	if err := h.Sysroot.Load(d.Ctx); err != nil {
		return err
	}
	booted := h.Sysroot.Booted()
	if booted == nil {
		return errors.New("no booted deployment")
	}
	state := ostree.UnlockedDevelopment
	if c.ReadOnly {
		state = ostree.UnlockedTransient
	}
	if booted.Unlocked != ostree.UnlockedNone {
		return fmt.Errorf("/usr is already unlocked (%s)", booted.Unlocked)
	}
	if err := h.Sysroot.UnlockDeployment(d.Ctx, booted, state); err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "A %s overlay is now on /usr; changes are discarded at reboot.\n", map[bool]string{true: "read-only", false: "writable"}[c.ReadOnly])
	return nil
}
