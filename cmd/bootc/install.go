package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/install"
	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/progress"
	"github.com/bootc-go/bootc/storage"
)

// InstallCmd is `bootc install`.
type InstallCmd struct {
	ToDisk             InstallToDiskCmd             `cmd:"" name:"to-disk" help:"Install an image to a whole disk (or a disk image file with --via-loopback): partition, make filesystems, then install as to-filesystem does."`
	ToFilesystem       InstallToFilesystemCmd       `cmd:"" name:"to-filesystem" help:"Install an image into a mounted, empty root filesystem (a separate /boot may be mounted at ROOT/boot)."`
	ToExistingRoot     InstallToExistingRootCmd     `cmd:"" name:"to-existing-root" help:"Install an image alongside the running system, on its root filesystem: /boot is emptied and gets the image's bootloader; the previous system's files stay and are found under /sysroot after the reboot."`
	Reset              InstallResetCmd              `cmd:"" hidden:"" help:"Factory reset (experimental): a fresh deployment of the booted image in a new stateroot, with the image's /etc and an empty /var; the old stateroot stays on disk."`
	PrintConfiguration InstallPrintConfigurationCmd `cmd:"" name:"print-configuration" help:"Print the image's install configuration (bootc/install/*.toml drop-ins) as JSON, for installers that run inside the image."`
	Finalize           InstallFinalizeCmd           `cmd:"" help:"Execute this as the penultimate step of an installation using install to-filesystem: check the installed sysroot's deployments and boot entries, sync its filesystems and remount them read-only."`
	EnsureCompletion   InstallEnsureCompletionCmd   `cmd:"" name:"ensure-completion" help:"Complete an ostree-based installation not made by bootc (Anaconda ostreecontainer): bound images, kernel arguments of the image's install configuration and kargs.d, install provenance."`
}

// installFlags are the flags both install verbs share (upstream's names).
type installFlags struct {
	SourceImgref              string   `name:"source-imgref" required:"" placeholder:"IMAGE" help:"The image to install, with its transport: docker://quay.io/x/os:1, oci:/path:tag, oci-archive:/p.tar, containers-storage:localhost/x, dir:/p, or an ostree-unverified-image:/ostree-unverified-registry: reference."`
	TargetImgref              string   `name:"target-imgref" placeholder:"NAME" help:"The image the installed system follows for updates (default: the source image)."`
	TargetTransport           string   `name:"target-transport" default:"registry" help:"Transport of --target-imgref: registry, oci, oci-archive, containers-storage, dir, docker-archive."`
	EnforceContainerSigpolicy bool     `help:"Make the installed system verify updates with the containers policy (ostree-image-signed:)."`
	Karg                      []string `name:"karg" sep:"none" placeholder:"ARG" help:"Add a kernel argument (repeatable), e.g. --karg=console=ttyS0,115200n8."`
	KargDelete                []string `name:"karg-delete" sep:"none" placeholder:"ARG" help:"Remove a kernel argument the image or its install configuration adds (repeatable)."`
	RootSSHAuthorizedKeys     string   `name:"root-ssh-authorized-keys" type:"path" placeholder:"FILE" help:"Install FILE as root's authorized_keys, through /etc/tmpfiles.d/bootc-root-ssh.conf in the new system."`
	Stateroot                 string   `placeholder:"NAME" help:"The stateroot (ostree osname) to install into (default: the image's install configuration, else \"default\")."`
	Bootloader                string   `placeholder:"NAME" help:"Bootloader: grub, extlinux or none (default: the one the image ships, GRUB first)."`
	GenericImage              bool     `help:"Accepted for compatibility: the installer never changes firmware settings."`
	Quiet                     bool     `help:"Do not show progress."`
	ProgressFD                int      `name:"progress-fd" hidden:"" help:"Write progress as JSON lines to this file descriptor."`
}

// InstallToDiskCmd is `bootc install to-disk`.
type InstallToDiskCmd struct {
	installFlags `embed:""`
	Device       string `arg:"" placeholder:"DEVICE" help:"The disk to install to (all its data is lost), or with --via-loopback a disk image file."`
	Wipe         bool   `help:"Overwrite a disk that has a partition table."`
	ViaLoopback  bool   `name:"via-loopback" help:"DEVICE is a regular file used as a disk image."`
	Filesystem   string `placeholder:"TYPE" help:"Root filesystem type: ext4 or xfs (default: the image's install configuration)."`
	RootSize     string `name:"root-size" placeholder:"SIZE" help:"Size of the root partition (M, G or T; default: the rest of the disk)."`
	BlockSetup   string `name:"block-setup" placeholder:"SETUP" help:"Block setup: direct (the only one supported)."`
}

// InstallToFilesystemCmd is `bootc install to-filesystem`.
type InstallToFilesystemCmd struct {
	installFlags  `embed:""`
	RootPath      string  `arg:"" name:"root" type:"path" placeholder:"ROOT" help:"The mounted, empty root filesystem."`
	RootMountSpec *string `name:"root-mount-spec" placeholder:"SPEC" help:"Root filesystem for root= (default: UUID=<uuid of ROOT>; empty: no root= argument)."`
	BootMountSpec *string `name:"boot-mount-spec" placeholder:"SPEC" help:"/boot filesystem for /etc/fstab and boot= (default: UUID=<uuid of ROOT/boot> when it is a separate filesystem; empty: none)."`
	SkipFinalize  bool    `help:"Leave the filesystems mounted read-write (by default they are synced and remounted read-only)."`
	Replace       string  `enum:",wipe,alongside" default:"" placeholder:"MODE" help:"Install into a root that is not empty: wipe removes its files (and /boot's) first; alongside keeps them and empties only /boot (default: the root must be empty)."`
	// AcknowledgeDestructive skips the warning of an install onto the running root.
	AcknowledgeDestructive bool `name:"acknowledge-destructive" help:"If ROOT is the running system's root filesystem, skip the warning and its 20 s wait."`
}

// installUnsharedEnv marks a bootc re-executed by install to-disk in a private mount namespace.
const installUnsharedEnv = "_bootc_install_unshared"

// installSkipUnshareEnv disables the private mount namespace (upstream's name).
const installSkipUnshareEnv = "BOOTC_SKIP_UNSHARE"

// installReexec enables the private mount namespace of install to-disk; tests that run
// verbs in-process turn it off.
var installReexec = true

// options builds the install options shared by both verbs.
func (f *installFlags) options(g *Globals, d *Deps) (install.Options, func(), error) {
	var o install.Options
	if g.Sysroot != "" {
		return o, nil, errors.New("--sysroot does not apply to install: give the target to install to")
	}
	src, err := parseSourceImgref(f.SourceImgref)
	if err != nil {
		return o, nil, err
	}
	target := src
	if f.TargetImgref != "" {
		if target, err = imgref.FromCLI(f.TargetImgref, f.TargetTransport, f.EnforceContainerSigpolicy); err != nil {
			return o, nil, fmt.Errorf("--target-imgref: %w", err)
		}
	} else if f.EnforceContainerSigpolicy {
		target.Sigverify = imgref.ContainerPolicy()
	}
	bl, err := install.ParseBootloader(f.Bootloader)
	if err != nil {
		return o, nil, fmt.Errorf("--bootloader: %w", err)
	}
	var keys string
	if f.RootSSHAuthorizedKeys != "" {
		b, err := os.ReadFile(f.RootSSHAuthorizedKeys)
		if err != nil {
			return o, nil, fmt.Errorf("--root-ssh-authorized-keys: %w", err)
		}
		keys = string(b)
	}
	sinks, err := progress.Setup(d.Err, f.Quiet, f.ProgressFD)
	if err != nil {
		return o, nil, err
	}
	storageRoot := g.StorageRoot
	o = install.Options{
		Source: src, Target: target, Stateroot: f.Stateroot, Kargs: f.Karg, KargDeletes: f.KargDelete,
		RootSSHAuthorizedKeys: keys, Bootloader: bl, Progress: sinks.Reporter, Out: d.Out, Log: d.Log,
		Store: func(ctx context.Context) (*storage.Store, error) {
			return storage.Open(ctx, storage.Options{Root: storageRoot, Log: d.Log})
		},
	}
	done := func() {
		if err := sinks.Close(); err != nil {
			d.Log.Warn().Err(err).Msg("writing progress")
		}
	}
	return o, done, nil
}

// parseSourceImgref parses --source-imgref: a containers-image reference with its transport,
// or a full ostree image reference.
func parseSourceImgref(s string) (imgref.OstreeImageReference, error) {
	if imgref.IsOstreeImageReference(s) {
		r, err := imgref.Parse(s)
		if err != nil {
			return r, fmt.Errorf("--source-imgref: %w", err)
		}
		return r, nil
	}
	r, err := imgref.ParseImageReference(s)
	if err != nil {
		return imgref.OstreeImageReference{}, fmt.Errorf("--source-imgref: %w (give the transport, e.g. docker://%s or oci:PATH:TAG)", err, s)
	}
	return imgref.OstreeImageReference{Sigverify: imgref.Insecure(), Imgref: r}, nil
}

// Run installs to a disk.
func (c *InstallToDiskCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("install"); err != nil {
		return err
	}
	if c.BlockSetup != "" && c.BlockSetup != "direct" {
		return fmt.Errorf("--block-setup %s is not supported (only direct)", c.BlockSetup)
	}
	var rootSize int64
	if c.RootSize != "" {
		var err error
		if rootSize, err = disk.ParseSize(c.RootSize); err != nil {
			return fmt.Errorf("--root-size: %w", err)
		}
	}
	o, done, err := c.options(g, d)
	if err != nil {
		return err
	}
	defer done()
	return install.ToDisk(d.Ctx, install.DiskOptions{Options: o, Device: c.Device, ViaLoopback: c.ViaLoopback,
		Wipe: c.Wipe, Filesystem: c.Filesystem, RootSize: rootSize})
}

// Run installs to a mounted filesystem.
func (c *InstallToFilesystemCmd) Run(g *Globals, d *Deps) error {
	if err := d.requireRoot("install"); err != nil {
		return err
	}
	o, done, err := c.options(g, d)
	if err != nil {
		return err
	}
	defer done()
	replace, err := install.ParseReplace(c.Replace)
	if err != nil {
		return err
	}
	return install.ToFilesystem(d.Ctx, install.FilesystemOptions{Options: o, Root: c.RootPath,
		RootMountSpec: c.RootMountSpec, BootMountSpec: c.BootMountSpec, SkipFinalize: c.SkipFinalize,
		Replace: replace, AcknowledgeDestructive: c.AcknowledgeDestructive})
}
