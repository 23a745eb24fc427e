package main

import (
	"fmt"
	"strings"

	"github.com/bootc-go/bootc/internal/shadowsync"
)

// InternalsSysusersSyncCmd is `bootc internals sysusers-sync`, which
// bootc-sysusers-shadow-sync.service runs before systemd-sysusers.
type InternalsSysusersSyncCmd struct {
	Root string `default:"/" type:"path" hidden:"" help:"The root whose /etc to fix."`
}

// Run removes the stale and duplicate entries of /etc/shadow and /etc/gshadow.
func (c *InternalsSysusersSyncCmd) Run(d *Deps) error {
	if err := d.requireRoot("internals sysusers-sync"); err != nil {
		return err
	}
	res, err := shadowsync.Sync(c.Root)
	if err != nil {
		return fmt.Errorf("fixing /etc/shadow and /etc/gshadow: %w", err)
	}
	for _, f := range []string{"etc/shadow", "etc/gshadow"} {
		if names := res.Removed[f]; len(names) > 0 {
			fmt.Fprintf(d.Out, "Removed from /%s the entries no longer in the user and group files (or repeated): %s\n", f, strings.Join(names, ", "))
		}
	}
	return nil
}
