package main

import (
	"errors"
	"fmt"
)

// InternalsCmd is `bootc internals`: commands for CI and debugging (hidden, as upstream's).
type InternalsCmd struct {
	Fsck               InternalsFsckCmd               `cmd:"" help:"Check the host's consistency: the repository's objects, the booted /usr/etc, containers-storage."`
	SysusersSync       InternalsSysusersSyncCmd       `cmd:"" name:"sysusers-sync" help:"Remove /etc/shadow and /etc/gshadow entries of users and groups the passwd and group files no longer name, before systemd-sysusers runs (bootc-sysusers-shadow-sync.service)."`
	DestructiveCleanup InternalsDestructiveCleanupCmd `cmd:"" name:"destructive-cleanup" help:"Remove the previous system's package files from /sysroot after install to-existing-root --cleanup (run by bootc-destructive-cleanup.service at the first boot)."`
}

// InternalsFsckCmd is `bootc internals fsck`.
type InternalsFsckCmd struct{}

// maxFindings is how many findings of one check are printed; the rest are counted.
const maxFindings = 5

// Run runs the checks, printing "ok: NAME" or up to maxFindings "fsck error: NAME: ..." lines
// per check, as upstream does; it fails if any check did not pass.
func (c *InternalsFsckCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("internals fsck"); err != nil {
		return err
	}
	h, done, err := d.openHost(g, hostOptions{quiet: true})
	if err != nil {
		return err
	}
	defer done()
	failed := false
	for _, ch := range h.Fsck(d.Ctx) {
		switch {
		case ch.Err != nil:
			fmt.Fprintf(d.Out, "Unexpected runtime error in check %s: %s\n", ch.Name, oneLine(ch.Err))
		case len(ch.Findings) == 0:
			fmt.Fprintf(d.Out, "ok: %s\n", ch.Name)
			continue
		default:
			for _, f := range ch.Findings[:min(len(ch.Findings), maxFindings)] {
				fmt.Fprintf(d.Out, "fsck error: %s: %s\n", ch.Name, f)
			}
			if n := len(ch.Findings) - maxFindings; n > 0 {
				fmt.Fprintf(d.Out, "fsck error: %s: ...and %d more\n", ch.Name, n)
			}
		}
		failed = true
	}
	if failed {
		return errors.New("Encountered errors")
	}
	return nil
}
