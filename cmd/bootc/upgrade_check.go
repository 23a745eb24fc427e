package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bootc-go/bootc/internal/deploy"
)

// Exit codes of `bootc upgrade --check --format json` (dnf check-update's convention):
// no update, an update available; any failure exits 1 as every verb does.
const (
	exitNoUpdate        = 0
	exitUpdateAvailable = 100
)

// exitStatusError makes run exit with Code without printing anything more: the verb has
// already reported the outcome.
type exitStatusError struct {
	// Code is the process exit code.
	Code int
}

// Error implements error.
func (e *exitStatusError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// checkJSON is `bootc upgrade --check --format json`: it prints the deploy.UpdateCheck as
// one JSON document (nothing else on stdout) and returns an exitStatusError with
// exitUpdateAvailable when there is an update.
func (c *UpgradeCmd) checkJSON(g *Globals, d *Deps) error {
	if !c.Check {
		return fmt.Errorf("--format %s applies to --check only", c.Format)
	}
	if err := d.requireRoot("upgrade"); err != nil {
		return err
	}
	h, done, err := d.openHost(g, hostOptions{quiet: true})
	if err != nil {
		return err
	}
	defer done()
	out, err := h.Upgrade(d.Ctx, deploy.UpgradeOptions{Check: true, Tag: c.Tag})
	if err != nil {
		return err
	}
	if out.Check == nil {
		return errors.New("upgrade --check found no image to compare with")
	}
	b, err := json.Marshal(out.Check)
	if err != nil {
		return fmt.Errorf("encoding the update check of %s: %w", out.Check.Image, err)
	}
	if _, err := fmt.Fprintf(d.Out, "%s\n", b); err != nil {
		return err
	}
	if out.Check.UpdateAvailable {
		return &exitStatusError{Code: exitUpdateAvailable}
	}
	return nil
}
