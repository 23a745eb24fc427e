package main

import (
	"fmt"
	"os"

	"github.com/bootc-go/bootc/internal/installconfig"
	"github.com/bootc-go/bootc/internal/kargs"
)

// InstallPrintConfigurationCmd is `bootc install print-configuration`, run inside the image
// (podman run --rm IMAGE bootc install print-configuration) by tools that install it
// themselves, such as Anaconda or osbuild.
type InstallPrintConfigurationCmd struct {
	All    bool   `help:"Print every setting, including those bootc install applies itself (kargs, karg-deletes)."`
	Rootfs string `help:"Root filesystem to read the configuration of." default:"/" type:"path" hidden:""`
}

// Run prints the merged install configuration of /usr/lib/bootc/install, /etc/bootc/install
// (and the other drop-in directories) as one line of JSON, with upstream's keys.
func (c *InstallPrintConfigurationCmd) Run(d *Deps) error {
	cfg, warnings, err := installconfig.Load(os.DirFS(c.Rootfs), kargs.Arch)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		d.Log.Warn().Msg(w)
	}
	if cfg == nil {
		cfg = &installconfig.Config{}
	}
	if !c.All {
		cfg.FilterToExternal()
	}
	b, err := cfg.CanonicalJSON()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(d.Out, "%s\n", b)
	return err
}
