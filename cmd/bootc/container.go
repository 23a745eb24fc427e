package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bootc-go/bootc/internal/lint"
)

// ContainerCmd is `bootc container`: operations run inside a container image build (a
// Containerfile RUN step). They read only the given root: no sysroot, no ostree
// repository, no mount namespace, no root privileges.
type ContainerCmd struct {
	Lint    ContainerLintCmd    `cmd:"" help:"Perform relatively inexpensive static analysis checks as part of a container build (RUN bootc container lint); fails if a problem is found."`
	Inspect ContainerInspectCmd `cmd:"" help:"Output information about the container image: its kernel and its kernel arguments (kargs.d)."`
}

// ContainerLintCmd is `bootc container lint`.
type ContainerLintCmd struct {
	Rootfs        string   `help:"Operate on the provided rootfs." default:"/" placeholder:"DIR"`
	FatalWarnings bool     `help:"Make warnings fatal."`
	List          bool     `help:"Instead of executing the lints, just print all available lints (YAML; the format is not stable, do not parse it)."`
	Skip          []string `help:"Skip checking the targeted lints, by name (repeatable; see --list). Example: --skip nonempty-boot --skip baseimage-root" placeholder:"NAME"`
	NoTruncate    bool     `help:"Don't truncate the output. By default, only a limited number of entries are shown for each lint, followed by a count of remaining entries."`
}

// Run lints the root, or lists the lints.
func (c *ContainerLintCmd) Run(d *Deps) error {
	if c.List {
		return lint.List(d.Out)
	}
	_, err := lint.Run(c.Rootfs, lint.Options{
		Running:       filepath.Clean(c.Rootfs) == "/",
		Skip:          c.Skip,
		FatalWarnings: c.FatalWarnings,
		NoTruncate:    c.NoTruncate,
	}, d.Out)
	return err
}

// ContainerInspectCmd is `bootc container inspect`.
type ContainerInspectCmd struct {
	Rootfs string `help:"Operate on the provided rootfs." default:"/" placeholder:"DIR"`
	JSON   bool   `help:"Output in JSON format." name:"json"`
	Format string `help:"The output format: humanreadable, yaml or json (default humanreadable)." default:""`
}

// Run prints the kernel and kernel arguments of the root.
func (c *ContainerInspectCmd) Run(d *Deps) error {
	format := c.Format
	switch {
	case c.JSON && format != "":
		return errors.New("--json conflicts with --format")
	case c.JSON:
		format = "json"
	case format == "":
		format = "humanreadable"
	case format != "humanreadable" && format != "yaml" && format != "json":
		return fmt.Errorf("unknown output format %q (humanreadable, yaml or json)", format)
	}
	in, err := lint.Inspect(c.Rootfs, "")
	if err != nil {
		return err
	}
	switch format {
	case "json":
		b, err := json.MarshalIndent(in, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the inspection of %s: %w", c.Rootfs, err)
		}
		_, err = fmt.Fprintf(d.Out, "%s\n", b)
		return err
	case "yaml":
		enc := yaml.NewEncoder(d.Out)
		enc.SetIndent(2)
		if err := enc.Encode(in); err != nil {
			return fmt.Errorf("encoding the inspection of %s: %w", c.Rootfs, err)
		}
		return enc.Close()
	}
	printInspection(d, in)
	return nil
}

// printInspection writes upstream's human-readable inspection: "Kernel", "Type" (for a
// kernel) and "Kargs" rows, labels right-aligned.
func printInspection(d *Deps, in *lint.Inspection) {
	type row struct{ label, value string }
	var rows []row
	if in.Kernel != nil {
		typ := "vmlinuz"
		if in.Kernel.Unified {
			typ = "UKI"
		}
		rows = append(rows, row{"Kernel", in.Kernel.Version}, row{"Type", typ})
	} else {
		rows = append(rows, row{"Kernel", "<none>"})
	}
	kargs := "<none>"
	if len(in.Kargs) > 0 {
		kargs = strings.Join(in.Kargs, " ")
	}
	rows = append(rows, row{"Kargs", kargs})
	width := 0
	for _, r := range rows {
		width = max(width, len(r.label))
	}
	for _, r := range rows {
		fmt.Fprintf(d.Out, "%*s: %s\n", width, r.label, r.value)
	}
}
