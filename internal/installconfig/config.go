package installconfig

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// enumError formats an unknown enum value the way serde does.
func enumError(value string, allowed []string) error {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "`" + a + "`"
	}
	return fmt.Errorf("unknown variant `%s`, expected one of %s", value, strings.Join(quoted, ", "))
}

func parseEnum(dst *string, text []byte, allowed []string) error {
	v := string(text)
	if !slices.Contains(allowed, v) {
		return enumError(v, allowed)
	}
	*dst = v
	return nil
}

// Filesystem is a root filesystem type upstream supports for install.
type Filesystem string

// Filesystem types.
const (
	FilesystemXFS   Filesystem = "xfs"
	FilesystemExt4  Filesystem = "ext4"
	FilesystemBtrfs Filesystem = "btrfs"
)

var filesystems = []string{"xfs", "ext4", "btrfs"}

// TOMLEnum lists the accepted values (see tomlstrict.Enum).
func (Filesystem) TOMLEnum() []string { return filesystems }

// UnmarshalText accepts xfs, ext4 and btrfs only.
func (f *Filesystem) UnmarshalText(text []byte) error {
	return parseEnum((*string)(f), text, filesystems)
}

// ParseFilesystem validates a filesystem name (for --filesystem).
func ParseFilesystem(s string) (Filesystem, error) {
	var f Filesystem
	if err := f.UnmarshalText([]byte(s)); err != nil {
		return "", fmt.Errorf("unknown filesystem %q: %w", s, err)
	}
	return f, nil
}

// BlockSetup is a `to-disk` block storage backend.
type BlockSetup string

// Block setups.
const (
	BlockDirect   BlockSetup = "direct"
	BlockTPM2LUKS BlockSetup = "tpm2-luks"
)

var blockSetups = []string{"direct", "tpm2-luks"}

// TOMLEnum lists the accepted values (see tomlstrict.Enum).
func (BlockSetup) TOMLEnum() []string { return blockSetups }

// UnmarshalText accepts direct and tpm2-luks only.
func (b *BlockSetup) UnmarshalText(text []byte) error {
	return parseEnum((*string)(b), text, blockSetups)
}

// Bootloader is the bootloader install sets up.
type Bootloader string

// Bootloaders.
const (
	BootloaderGrub    Bootloader = "grub"
	BootloaderGrubCC  Bootloader = "grub-cc"
	BootloaderSystemd Bootloader = "systemd"
	BootloaderNone    Bootloader = "none"
)

var bootloaders = []string{"grub", "grub-cc", "systemd", "none"}

// TOMLEnum lists the accepted values (see tomlstrict.Enum).
func (Bootloader) TOMLEnum() []string { return bootloaders }

// UnmarshalText accepts grub, grub-cc, systemd and none only.
func (b *Bootloader) UnmarshalText(text []byte) error {
	return parseEnum((*string)(b), text, bootloaders)
}

// RootFS is the `[install.filesystem.root]` table.
type RootFS struct {
	// Type is the root filesystem type; nil when unset.
	Type *Filesystem `toml:"type"`
}

// BasicFilesystems is the `[install.filesystem]` table.
type BasicFilesystems struct {
	// Root configures the root filesystem; nil when unset.
	Root *RootFS `toml:"root"`
}

// OstreeRepoOpts is the `[install.ostree]` table: ostree repository
// configuration. Unknown keys here are warnings, not errors.
type OstreeRepoOpts struct {
	// BLSAppendExceptDefault is appended to every BLS entry but the default
	// one (ostree config sysroot.bls-append-except-default); nil when unset.
	BLSAppendExceptDefault *string `toml:"bls-append-except-default"`
}

// ConfigTuples returns the ostree repository config keys and values to set.
func (o *OstreeRepoOpts) ConfigTuples() [][2]string {
	if o == nil || o.BLSAppendExceptDefault == nil {
		return nil
	}
	return [][2]string{{"sysroot.bls-append-except-default", *o.BLSAppendExceptDefault}}
}

// Bootupd is the `[install.bootupd]` table.
type Bootupd struct {
	// SkipBootUUID makes bootupd use --with-static-configs instead of
	// --write-uuid; nil when unset (false).
	SkipBootUUID *bool `toml:"skip-boot-uuid"`
}

// Config is the `[install]` table, and the merged result of all drop-ins.
// Pointer fields are nil when unset; slices are nil when unset and non-nil
// (possibly empty) when set.
type Config struct {
	// RootFSType is the legacy spelling of Filesystem.Root.Type.
	RootFSType *Filesystem `toml:"root-fs-type"`
	// Block lists the enabled to-disk backends; the first is the default.
	Block []BlockSetup `toml:"block"`
	// Filesystem configures the basic filesystems.
	Filesystem *BasicFilesystems `toml:"filesystem"`
	// Kargs are kernel arguments added at install time.
	Kargs []string `toml:"kargs"`
	// KargDeletes are kernel arguments removed at install time.
	KargDeletes []string `toml:"karg-deletes"`
	// MatchArchitectures restricts the file to these architectures (Rust
	// spelling). In a merged Config it is the value of the first file used.
	MatchArchitectures []string `toml:"match-architectures"`
	// Ostree configures the ostree repository.
	Ostree *OstreeRepoOpts `toml:"ostree" tomlstrict:"lenient"`
	// Stateroot is the stateroot name (default "default").
	Stateroot *string `toml:"stateroot"`
	// RootMountSpec is the root= mount spec; empty omits the root kargs.
	RootMountSpec *string `toml:"root-mount-spec"`
	// BootMountSpec is the /boot mount spec; empty omits boot= and the
	// /boot fstab entry.
	BootMountSpec *string `toml:"boot-mount-spec"`
	// Bootupd configures bootupd.
	Bootupd *Bootupd `toml:"bootupd"`
	// Bootloader selects the bootloader.
	Bootloader *Bootloader `toml:"bootloader"`
	// DiscoverablePartitions omits root= and relies on the Discoverable
	// Partitions Specification.
	DiscoverablePartitions *bool `toml:"discoverable-partitions"`
	// EnforceContainerSigpolicy refuses an insecureAcceptAnything default
	// signature policy (like --enforce-container-sigpolicy).
	EnforceContainerSigpolicy *bool `toml:"enforce-container-sigpolicy"`
}

// fileConfig is the top level of a drop-in.
type fileConfig struct {
	Install *Config `toml:"install"`
}

// DefaultStateroot is the stateroot used when none is configured.
const DefaultStateroot = "default"

// Matches reports whether the config applies to arch: true when
// MatchArchitectures is unset or contains arch.
func (c *Config) Matches(arch string) bool {
	return c.MatchArchitectures == nil || slices.Contains(c.MatchArchitectures, arch)
}

// override sets *dst to a copy of *src when src is set.
func override[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}

// Merge applies other on top of c when other matches arch (see
// [Config.Matches]), as upstream does: set values of other override those of
// c (tables field by field), `kargs` and `karg-deletes` are appended,
// `block` is replaced whole, and MatchArchitectures is left alone. A
// non-matching other changes nothing.
func (c *Config) Merge(other *Config, arch string) {
	if other == nil || !other.Matches(arch) {
		return
	}
	override(&c.RootFSType, other.RootFSType)
	if other.Block != nil {
		c.Block = slices.Clone(other.Block)
	}
	if other.Filesystem != nil {
		if c.Filesystem == nil {
			c.Filesystem = &BasicFilesystems{}
		}
		if other.Filesystem.Root != nil {
			if c.Filesystem.Root == nil {
				c.Filesystem.Root = &RootFS{}
			}
			override(&c.Filesystem.Root.Type, other.Filesystem.Root.Type)
		}
	}
	if other.Ostree != nil {
		if c.Ostree == nil {
			c.Ostree = &OstreeRepoOpts{}
		}
		override(&c.Ostree.BLSAppendExceptDefault, other.Ostree.BLSAppendExceptDefault)
	}
	override(&c.Stateroot, other.Stateroot)
	override(&c.RootMountSpec, other.RootMountSpec)
	override(&c.BootMountSpec, other.BootMountSpec)
	if other.Bootupd != nil {
		if c.Bootupd == nil {
			c.Bootupd = &Bootupd{}
		}
		override(&c.Bootupd.SkipBootUUID, other.Bootupd.SkipBootUUID)
	}
	override(&c.Bootloader, other.Bootloader)
	override(&c.DiscoverablePartitions, other.DiscoverablePartitions)
	override(&c.EnforceContainerSigpolicy, other.EnforceContainerSigpolicy)
	if other.Kargs != nil {
		c.Kargs = append(nonNil(c.Kargs), other.Kargs...)
	}
	if other.KargDeletes != nil {
		c.KargDeletes = append(nonNil(c.KargDeletes), other.KargDeletes...)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RootFilesystem returns filesystem.root.type, or nil.
func (c *Config) RootFilesystem() *Filesystem {
	if c.Filesystem == nil || c.Filesystem.Root == nil {
		return nil
	}
	return c.Filesystem.Root.Type
}

// Canonicalize synchronizes root-fs-type with filesystem.root.type (the
// latter wins when both are set) and defaults block to ["direct"].
func (c *Config) Canonicalize() {
	if t := c.RootFilesystem(); t != nil {
		v := *t
		c.RootFSType = &v
	} else if c.RootFSType != nil {
		if c.Filesystem == nil {
			c.Filesystem = &BasicFilesystems{}
		}
		if c.Filesystem.Root == nil {
			c.Filesystem.Root = &RootFS{}
		}
		v := *c.RootFSType
		c.Filesystem.Root.Type = &v
	}
	if c.Block == nil {
		c.Block = []BlockSetup{BlockDirect}
	}
}

// FilterToExternal drops what `install to-filesystem` callers handle
// themselves (kargs and karg-deletes), as `install print-configuration`
// without --all does.
func (c *Config) FilterToExternal() {
	c.Kargs = nil
	c.KargDeletes = nil
}

// BlockSetupFor picks the block setup for to-disk: requested when it is
// enabled, else the first enabled one.
func (c *Config) BlockSetupFor(requested *BlockSetup) (BlockSetup, error) {
	if len(c.Block) == 0 {
		return "", errors.New("empty block storage configuration in install configuration")
	}
	b := c.Block[0]
	if requested != nil {
		b = *requested
	}
	if !slices.Contains(c.Block, b) {
		return "", fmt.Errorf("block setup %s is not enabled in installation config", b)
	}
	return b, nil
}

// StaterootName returns the configured stateroot or [DefaultStateroot].
func (c *Config) StaterootName() string {
	if c == nil || c.Stateroot == nil {
		return DefaultStateroot
	}
	return *c.Stateroot
}
