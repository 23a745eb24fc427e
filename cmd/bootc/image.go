package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/bootc-go/bootc/internal/boundimage"
	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
)

// ImageCmd is `bootc image`: the images of bootc's storage.
type ImageCmd struct {
	List          ImageListCmd          `cmd:"" help:"List the host's images (those of its ostree repository) and its logically bound images."`
	CopyToStorage ImageCopyToStorageCmd `cmd:"" name:"copy-to-storage" help:"Copy the booted image (or --source) into containers-storage, for podman build FROM localhost/bootc."`
}

// ImageListCmd is `bootc image list`.
type ImageListCmd struct {
	Type   string `help:"Which images: all, logical (bound images of the booted deployment) or host (the repository's)." default:"all" enum:"all,logical,host"`
	Format string `help:"Output format: table or json." default:"table" enum:"table,json"`
}

// listedImage is one row of `bootc image list`, in upstream's JSON form.
type listedImage struct {
	ImageType string `json:"image_type"`
	Image     string `json:"image"`
}

// Run lists the images.
func (c *ImageListCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("image list"); err != nil {
		return err
	}
	h, done, err := d.openHost(g, hostOptions{quiet: true})
	if err != nil {
		return err
	}
	defer done()
	var rows []listedImage
	if c.Type != "logical" {
		imgs, err := h.HostImages(d.Ctx)
		if err != nil {
			return err
		}
		for _, i := range imgs {
			rows = append(rows, listedImage{ImageType: "host", Image: i.Ref.String()})
		}
	}
	if c.Type != "host" {
		root, err := bootedRoot(g, h)
		if err != nil {
			return err
		}
		if root != "" {
			bound, err := boundimage.List(os.DirFS(root))
			if err != nil {
				return err
			}
			for _, b := range bound {
				rows = append(rows, listedImage{ImageType: "logical", Image: b.Name})
			}
		}
	}
	if c.Format == "json" {
		if rows == nil {
			rows = []listedImage{}
		}
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(d.Out, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(d.Out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTYPE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r.Image, r.ImageType)
	}
	return tw.Flush()
}

// bootedRoot is the root filesystem whose bound images are listed: / on a booted host, the
// directory of the deployment that boots next with --sysroot ("" when there is none).
func bootedRoot(g *Globals, h *deploy.Host) (string, error) {
	if g.Sysroot == "" {
		return "/", nil
	}
	ds, err := deploy.Classify(h.Sysroot)
	if err != nil {
		return "", err
	}
	if ds.Booted == nil {
		return "", nil
	}
	return h.Sysroot.DeploymentPath(ds.Booted), nil
}

// ImageCopyToStorageCmd is `bootc image copy-to-storage`.
type ImageCopyToStorageCmd struct {
	Source string `help:"Image of the repository to copy (as bootc image list shows it, e.g. docker://quay.io/x/os:1; default: the booted image)." placeholder:"IMAGE"`
	Target string `help:"Where to copy it: containers-storage:NAME, or NAME." default:"containers-storage:localhost/bootc" placeholder:"REF"`
}

// Run copies the image into containers-storage.
func (c *ImageCopyToStorageCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("image copy-to-storage"); err != nil {
		return err
	}
	target, ok := strings.CutPrefix(c.Target, "containers-storage:")
	if r, err := imgref.ParseImageReference(c.Target); !ok && err == nil {
		return fmt.Errorf("--target %s: only containers-storage: targets are supported, not %s", c.Target, r.Transport)
	}
	if target == "" {
		return errors.New("--target: empty image name")
	}
	var source *imgref.ImageReference
	if c.Source != "" {
		r, err := imgref.ParseImageReference(c.Source)
		if err != nil {
			return fmt.Errorf("--source: %w", err)
		}
		source = &r
	}
	h, done, err := d.openHost(g, hostOptions{quiet: true})
	if err != nil {
		return err
	}
	defer done()
	shown := c.Source
	if shown == "" {
		shown = "the booted image"
	}
	fmt.Fprintf(d.Out, "Copying local image %s to containers-storage:%s ...\n", shown, target)
	out, err := h.CopyToStorage(d.Ctx, source, target)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "Pushed: containers-storage:%s %s\n", out.Name, out.ManifestDigest)
	return nil
}
