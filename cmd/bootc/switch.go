package main

import (
	"fmt"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
)

// SwitchCmd is `bootc switch`.
type SwitchCmd struct {
	softRebootFlag            `embed:""`
	Target                    string `arg:"" help:"Image to switch to: a name for the chosen transport (quay.io/example/os:42), or a full ostree-unverified-registry:/ostree-image-signed:... reference."`
	Transport                 string `help:"Transport of the image: registry, oci, oci-archive, containers-storage, dir, docker-archive, docker-daemon." default:"registry"`
	Apply                     bool   `help:"Reboot after staging the new deployment." xor:"download-apply,mutate-apply"`
	Retain                    bool   `help:"Keep the previous image's ref and layers (by default they are pruned once no deployment uses them)." xor:"from-retain,mutate-retain"`
	EnforceContainerSigpolicy bool   `help:"Verify the image with the containers policy (policy.json) and refuse a policy whose default is insecureAcceptAnything (ostree-image-signed:)."`
	DownloadOnly              bool   `help:"Download and stage the new image, but keep it from being applied at shutdown until bootc switch --from-downloaded with the same image." xor:"download-apply,download-from,mutate-download"`
	FromDownloaded            bool   `help:"Apply the deployment bootc switch --download-only staged for this image at the next reboot, without fetching anything." xor:"download-from,from-retain,mutate-from"`
	MutateInPlace             bool   `name:"mutate-in-place" hidden:"" help:"Change the image the booted deployment follows without fetching it or making a deployment (for installers' post-install steps); the next upgrade fetches it." xor:"mutate-apply,mutate-retain,mutate-download,mutate-from"`
	Quiet                     bool   `help:"Do not show progress."`
	ProgressFD                int    `name:"progress-fd" help:"Write progress as JSON lines to this file descriptor." hidden:""`
}

// Run switches the host to the target image.
func (c *SwitchCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("switch"); err != nil {
		return err
	}
	if err := c.checkSoftReboot(d); err != nil {
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
		dep, err := h.SwitchInPlace(d.Ctx, ref)
		if err != nil {
			return err
		}
		fmt.Fprintf(d.Out, "Updated %s to pull from %s\n", dep.Checksum, ref)
		return nil
	}
	if err := d.checkApply(h, c.Apply); err != nil {
		return err
	}
	out, err := h.Switch(d.Ctx, ref, deploy.SwitchOptions{Retain: c.Retain, DownloadOnly: c.DownloadOnly, FromDownloaded: c.FromDownloaded})
	printOutcome(d.Out, out)
	if err != nil {
		return err
	}
	// As upgrade, and as upstream (tmt 24): --apply also reboots into a deployment staged
	// before, when the spec is unchanged.
	return d.maybeReboot(c.Apply, out.Changed || d.hasStaged(h))
}
