package install

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/progress"
	"github.com/bootc-go/bootc/storage"
)

// Bootloader names a bootloader the installer can set up.
type Bootloader string

// Bootloaders.
const (
	// BootloaderAuto picks one from what the image ships: GRUB when it has GRUB with
	// libostree's menu generator, else extlinux when it has extlinux and syslinux's
	// gptmbr.bin.
	BootloaderAuto Bootloader = ""
	// BootloaderGrub installs the image's GRUB: its signed shim and GRUB on the EFI system
	// partition (removable-media path EFI/BOOT/BOOTX64.EFI) and a core image made by its
	// grub-mkimage in the BIOS boot partition, both reading boot/loader/grub.cfg, which the
	// image's grub-mkconfig (/etc/grub.d/15_ostree) writes at every deployment (repo config
	// sysroot.bootloader=grub2).
	BootloaderGrub Bootloader = "grub"
	// BootloaderExtlinux installs the image's extlinux on the /boot filesystem and
	// syslinux's gptmbr.bin as MBR boot code; libostree writes boot/loader/syslinux.cfg
	// (repo config sysroot.bootloader=syslinux).
	BootloaderExtlinux Bootloader = "extlinux"
	// BootloaderNone installs no bootloader; libostree writes BLS entries only.
	BootloaderNone Bootloader = "none"
)

// ParseBootloader parses a --bootloader value ("" is automatic).
func ParseBootloader(s string) (Bootloader, error) {
	switch b := Bootloader(s); b {
	case BootloaderAuto, BootloaderGrub, BootloaderExtlinux, BootloaderNone:
		return b, nil
	case "grub-cc", "systemd":
		return "", fmt.Errorf("bootloader %q is not supported (supported: grub, extlinux, none)", s)
	}
	return "", fmt.Errorf("unknown bootloader %q (supported: grub, extlinux, none)", s)
}

// Options are the settings both install flows share.
type Options struct {
	// Source is the image to install.
	Source imgref.OstreeImageReference
	// Target is the image reference written to the deployment's origin, which later
	// updates follow.
	Target imgref.OstreeImageReference
	// Stateroot overrides the install configuration's stateroot ("": config, else
	// "default").
	Stateroot string
	// Kargs are the --karg values (each may hold several arguments).
	Kargs []string
	// KargDeletes are the --karg-delete values.
	KargDeletes []string
	// RootSSHAuthorizedKeys is the content of an authorized_keys file for root, injected
	// through tmpfiles.d (empty: none).
	RootSSHAuthorizedKeys string
	// Bootloader is --bootloader (BootloaderAuto: the install config's, else detected).
	Bootloader Bootloader
	// Store opens the containers-storage store the image is pulled into. An image the
	// install pulled into it (it was not there before) is removed again at the end.
	Store func(ctx context.Context) (*storage.Store, error)
	// Pull holds the containers/image settings (policy, auth, registries.conf).
	Pull storage.PullOptions
	// Import holds the importer settings; zero Rules mean importer.DefaultRules().
	Import importer.Options
	// Progress receives the pulling and importing tasks (nil: none).
	Progress progress.Reporter
	// Out receives the messages for the user (nil: discarded).
	Out io.Writer
	// Log receives warnings and debug messages.
	Log zerolog.Logger
	// Arch is the architecture to install (GOARCH spelling; "": this machine's).
	Arch string
	// MountDir is the directory under which to-disk mounts the new filesystems
	// (default /run/bootc/mounts).
	MountDir string
}

// FilesystemOptions are the settings of ToFilesystem.
type FilesystemOptions struct {
	Options
	// Root is the mounted, empty root filesystem.
	Root string
	// RootMountSpec, when not nil, replaces root=UUID=<uuid of Root> (an empty value omits
	// root= and its flags from the kernel arguments).
	RootMountSpec *string
	// BootMountSpec, when not nil, replaces UUID=<uuid of Root/boot> for the /boot line of
	// /etc/fstab and the boot= argument (an empty value omits both).
	BootMountSpec *string
	// SkipFinalize leaves the filesystems mounted read-write at the end (by default they
	// are synced, trimmed and remounted read-only, as upstream does).
	SkipFinalize bool
	// Replace says what becomes of what Root already holds (ReplaceNone: Root must be
	// empty).
	Replace Replace
	// AcknowledgeDestructive skips the warning, and its wait, of an install alongside the
	// running system on its own root filesystem.
	AcknowledgeDestructive bool

	// Set by ToExistingRoot.
	existing *existingRoot
}

// ExistingRootOptions are the settings of ToExistingRoot.
type ExistingRootOptions struct {
	Options
	// Root is where the running system's root filesystem is mounted ("":
	// DefaultExistingRoot, which is bound from / when it does not exist).
	Root string
	// Replace is ReplaceAlongside (the default) or ReplaceWipe, which is refused on the
	// running system's root.
	Replace Replace
	// AcknowledgeDestructive skips the warning and its wait.
	AcknowledgeDestructive bool
	// Cleanup has the installed system remove the previous system's files at its first
	// boot (bootc-destructive-cleanup.service).
	Cleanup bool
	// Cmdline is the running kernel's command line ("": /proc/cmdline); the installed
	// system inherits its root=, rootflags= and rd.* arguments.
	Cmdline string
	// WarnDelay is how long the warning waits before the install goes on (0: 20 s).
	WarnDelay time.Duration
}

// DiskOptions are the settings of ToDisk.
type DiskOptions struct {
	Options
	// Device is the block device, or with ViaLoopback the disk image file.
	Device string
	// ViaLoopback installs into the regular file Device.
	ViaLoopback bool
	// Wipe allows overwriting a disk that has a partition table.
	Wipe bool
	// Filesystem is the root filesystem type ("": the install config's; one is required).
	Filesystem string
	// RootSize is the size of the root partition in bytes (0: the rest of the disk).
	RootSize int64
}

func (o *Options) printf(format string, args ...any) {
	if o.Out != nil {
		fmt.Fprintf(o.Out, format, args...)
	}
}
