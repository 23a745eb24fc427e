package main

import (
	"errors"
	"fmt"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
)

// SwitchCmd is `bootc switch`.
type SwitchCmd struct {
	Target                    string `arg:"" help:"Image to switch to: a name for the chosen transport (quay.io/example/os:42), or a full ostree-unverified-registry:/ostree-image-signed:... reference."`
	Transport                 string `help:"Transport of the image: registry, oci, oci-archive, containers-storage, dir, docker-archive, docker-daemon." default:"registry"`
	Apply                     bool   `help:"Reboot after staging the new deployment."`
	Retain                    bool   `help:"Keep the previous image's ref and layers (by default they are pruned once no deployment uses them)."`
	EnforceContainerSigpolicy bool   `help:"Verify the image with the containers policy (policy.json) and refuse a policy whose default is insecureAcceptAnything (ostree-image-signed:)."`
	MutateInPlace             bool   `name:"mutate-in-place" hidden:"" help:"Change the image the booted deployment follows without fetching it or making a deployment (for installers' post-install steps); the next upgrade fetches it."`
	Quiet                     bool   `help:"Do not show progress."`
	ProgressFD                int    `name:"progress-fd" help:"Write progress as JSON lines to this file descriptor." hidden:""`
}

// Run switches the host to the target image.
func (c *SwitchCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("switch"); err != nil {
		return err
	}
	ref, err := imgref.FromCLI(c.Target, c.Transport, c.EnforceContainerSigpolicy)
	if err != nil {
		return err
	}
	h, done, err := d.openHost(g, hostOptions{quiet: c.Quiet, progressFD: c.ProgressFD})
	if err != nil {
		return err
	}
	defer done()
	if c.MutateInPlace {
		if c.Apply || c.Retain {
			return errors.New("--mutate-in-place cannot be combined with --apply or --retain")
		}
		dep, err := h.SwitchInPlace(d.Ctx, ref)
		if err != nil {
			return err
		}
		fmt.Fprintf(d.Out, "Updated %s to pull from %s\n", dep.Checksum, ref)
		return nil
	}
	if err := checkApply(h, c.Apply); err != nil {
		return err
	}
	out, err := h.Switch(d.Ctx, ref, deploy.SwitchOptions{Retain: c.Retain})
	if err != nil {
		return err
	}
	return maybeReboot(d, c.Apply, out.Changed)
}
