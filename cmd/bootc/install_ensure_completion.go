package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/bootc-go/bootc/internal/install"
)

// anacondaEnvHint is set by Anaconda in its %post scripts (upstream's check).
const anacondaEnvHint = "ANA_INSTALL_PATH"

// InstallEnsureCompletionCmd is `bootc install ensure-completion`: run after an ostree-based
// install that did not go through bootc (Anaconda's ostreecontainer, ostree container image
// deploy), in the installed system (Anaconda %post) or on it offline with --sysroot.
type InstallEnsureCompletionCmd struct{}

// Run completes the installed deployment as bootc install would have made it: its bound
// images pulled into the installed system's store, the kernel arguments of the image's
// install configuration and kargs.d, and the install provenance (.bootc-aleph.json), which
// also marks the install complete: a second run does nothing.
func (c *InstallEnsureCompletionCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("install ensure-completion"); err != nil {
		return err
	}
	hg := *g
	if hg.Sysroot == "" {
		if d.env(anacondaEnvHint) == "" {
			return fmt.Errorf("install ensure-completion: %s is not set: this runs in Anaconda's %%post; give --sysroot DIR to complete an installed sysroot offline", anacondaEnvHint)
		}
		// In Anaconda's %post, / is the installed deployment, which reaches the sysroot
		// through its /ostree and /boot.
		hg.Sysroot = "/"
	}
	h, done, err := d.openHost(&hg, hostOptions{quiet: true})
	if err != nil {
		return err
	}
	defer done()
	physical := physicalRoot(h.Sysroot.Path())
	aleph := filepath.Join(physical, install.AlephFile)
	if _, err := os.Stat(aleph); err == nil {
		fmt.Fprintf(d.Out, "Installation already complete: %s exists (written by bootc install or an earlier ensure-completion); nothing to do.\n", aleph)
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := h.Complete(d.Ctx)
	if err != nil {
		return fmt.Errorf("install ensure-completion: %w", err)
	}
	fmt.Fprintf(d.Out, "Completed deployment %s.%d (stateroot %s) of %s\n", out.Checksum, out.Serial, out.Stateroot, out.Target)
	switch {
	case len(out.AddedKargs) > 0 || len(out.DeletedKargs) > 0:
		if len(out.AddedKargs) > 0 {
			fmt.Fprintf(d.Out, "Kernel arguments added: %s\n", strings.Join(out.AddedKargs, " "))
		}
		if len(out.DeletedKargs) > 0 {
			fmt.Fprintf(d.Out, "Kernel arguments removed: %s\n", strings.Join(out.DeletedKargs, " "))
		}
	default:
		fmt.Fprintln(d.Out, "Kernel arguments: already complete")
	}
	if out.Bound > 0 {
		fmt.Fprintf(d.Out, "Bound images: %d (%d fetched)\n", out.Bound, out.BoundFetched)
	}
	al := install.Aleph{Digest: out.ManifestDigest, Image: out.Target.Imgref.Name, TargetImage: out.Target.Imgref.Name}
	if len(out.Config) > 0 {
		var cfg imgspecv1.Image
		if json.Unmarshal(out.Config, &cfg) == nil {
			al.Config = &cfg
		}
	}
	if err := install.WriteAleph(physical, al); err != nil {
		return fmt.Errorf("install ensure-completion: writing %s: %w", aleph, err)
	}
	fmt.Fprintf(d.Out, "Wrote %s\nInstallation complete.\n", aleph)
	return nil
}

// physicalRoot is the physical root filesystem of the sysroot at path: path itself, except
// for "/" inside a deployment, whose physical root is mounted at /sysroot.
func physicalRoot(path string) string {
	if path == "/" {
		if _, err := os.Stat("/sysroot/ostree/repo"); err == nil {
			return "/sysroot"
		}
	}
	return path
}
