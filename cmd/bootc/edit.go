package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/spec"
)

// EditCmd is `bootc edit`.
type EditCmd struct {
	Filename string `short:"f" help:"Read the new host specification (YAML, as printed by bootc status) from this file instead of opening $EDITOR." type:"path"`
	Quiet    bool   `help:"Do not show progress."`
}

// Run applies a changed host specification: a new image (switch) or a flipped boot order
// (rollback), not both.
func (c *EditCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("edit"); err != nil {
		return err
	}
	h, done, err := d.openHost(g, hostOptions{quiet: c.Quiet})
	if err != nil {
		return err
	}
	defer done()
	cur, _, err := deploy.Status(d.Ctx, h.Sysroot, h.Repo)
	if err != nil {
		return err
	}
	var data []byte
	if c.Filename != "" {
		if data, err = os.ReadFile(c.Filename); err != nil {
			return err
		}
	} else if data, err = editInEditor(d, cur); err != nil {
		return err
	}
	desired, err := spec.ParseYAML(data)
	if err != nil {
		return err
	}
	tr, err := spec.ComputeTransition(cur.Spec, desired.Spec)
	if err != nil {
		return err
	}
	switch tr {
	case spec.TransitionNone:
		fmt.Fprintln(d.Out, spec.EditUnchangedMessage)
		return nil
	case spec.TransitionRollback:
		out, err := h.Rollback(d.Ctx)
		printOutcome(d.Out, out)
		return err
	}
	ref, err := ostreeRefFromSpec(*desired.Spec.Image)
	if err != nil {
		return err
	}
	out, err := h.Switch(d.Ctx, ref, deploy.SwitchOptions{})
	printOutcome(d.Out, out)
	return err
}

// ostreeRefFromSpec converts the status API's image reference to an ostree image reference.
func ostreeRefFromSpec(r spec.ImageReference) (imgref.OstreeImageReference, error) {
	t, err := imgref.ParseTransport(r.Transport)
	if err != nil {
		return imgref.OstreeImageReference{}, err
	}
	img, err := imgref.NewImageReference(t, r.Image)
	if err != nil {
		return imgref.OstreeImageReference{}, err
	}
	sig := imgref.Insecure()
	if r.Signature != nil {
		switch r.Signature.Kind {
		case spec.SignatureContainerPolicy:
			sig = imgref.ContainerPolicy()
		case spec.SignatureOstreeRemote:
			sig = imgref.OstreeRemote(r.Signature.OstreeRemote)
		}
	}
	out := imgref.OstreeImageReference{Sigverify: sig, Imgref: img}
	return out, out.Validate()
}

// editInEditor writes the current host as YAML to a temporary file, opens $EDITOR on it and
// returns what was saved.
func editInEditor(d *Deps, cur *spec.Host) ([]byte, error) {
	editor := d.env("EDITOR")
	if editor == "" {
		editor = d.env("VISUAL")
	}
	if editor == "" {
		return nil, errors.New("no editor: set $EDITOR, or give the specification with -f FILE")
	}
	dir, err := os.MkdirTemp("", "bootc-edit-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "host.yaml")
	f, err := os.Create(p)
	if err != nil {
		return nil, err
	}
	if err := spec.RenderYAML(f, cur); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	cmd := exec.Command("/bin/sh", "-c", editor+` "$1"`, "sh", p)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, d.Out, d.Err
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("editor %s: %w", editor, err)
	}
	return os.ReadFile(p)
}
