package disk

import (
	"fmt"
	"io"
	"runtime"

	"github.com/bootc-go/bootc/internal/progress"
)

// Size units.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
	TiB int64 = 1 << 40
)

// Default sizes of [NewLayout].
const (
	// DefaultAlignment is where partitions start: 1 MiB boundaries.
	DefaultAlignment = MiB
	// DefaultBIOSBootSize is the size of the BIOS boot partition.
	DefaultBIOSBootSize = MiB
	// DefaultESPSize is the size of the EFI system partition (as upstream).
	DefaultESPSize = 512 * MiB
	// DefaultBootSize is the size of the /boot partition: upstream's 510
	// MiB, which stays under mke2fs's 512 MiB "small" threshold.
	DefaultBootSize = 510 * MiB
	// DefaultRootMinSize is the least a root partition that takes the rest
	// of the disk must get: mkfs.xfs refuses filesystems under 300 MiB.
	DefaultRootMinSize = 300 * MiB
)

// Role says what a partition of a [Layout] is for.
type Role string

// Partition roles.
const (
	RoleBIOSBoot Role = "bios-boot"
	RoleESP      Role = "esp"
	RoleBoot     Role = "boot"
	RoleRoot     Role = "root"
)

// PartitionSpec describes one partition the installer wants.
type PartitionSpec struct {
	// Role identifies the partition to the installer.
	Role Role
	// Name is the GPT partition name (PARTLABEL).
	Name string
	// Type is the partition type GUID.
	Type GUID
	// GUID is the unique partition GUID; zero means generate one.
	GUID GUID
	// Size in bytes, rounded up to the layout's alignment. Zero means the
	// partition takes the rest of the disk; only the last partition may.
	Size int64
	// MinSize is the least a rest-of-disk partition must get; ignored when
	// Size is set.
	MinSize int64
	// Attributes are GPT attribute bits such as [AttrLegacyBIOSBootable].
	Attributes uint64
	// Filesystem is the filesystem the installer puts on the partition
	// ("ext4", "xfs", "vfat", "btrfs"), or "" for none.
	Filesystem string
	// Label is the filesystem label.
	Label string
}

// Layout describes the partition table the installer writes. Partition
// number i+1 is Partitions[i].
type Layout struct {
	// Partitions in disk order.
	Partitions []PartitionSpec
	// Alignment of partition starts and sizes in bytes; 0 means 1 MiB.
	Alignment int64
	// DiskGUID of the table; zero means generate one.
	DiskGUID GUID
	// Rand is the source for generated GUIDs; nil means crypto/rand. Tests
	// use [SeededRand].
	Rand io.Reader
	// BootCode is copied to [Table.BootCode]: MBR boot code, at most 440
	// bytes, usually installed later with [Disk.InstallMBRBootCode].
	BootCode []byte
	// PMBRBootable is copied to [Table.PMBRBootable].
	PMBRBootable bool
}

// LayoutOptions selects the partitions of [NewLayout].
type LayoutOptions struct {
	// BIOSBoot adds a BIOS boot partition for GRUB on x86 BIOS machines.
	BIOSBoot bool
	// ESP adds an EFI system partition (vfat, label "EFI-SYSTEM").
	ESP bool
	// Boot adds a separate /boot partition (label "boot"), which extlinux
	// and LUKS-encrypted roots need.
	Boot bool
	// BootLegacyBIOSBootable sets the legacy BIOS bootable attribute on
	// /boot, so syslinux's gptmbr.bin chains to extlinux installed there.
	BootLegacyBIOSBootable bool
	// BootXBOOTLDR types /boot as XBOOTLDR instead of the generic Linux
	// filesystem type that upstream uses.
	BootXBOOTLDR bool
	// BootFilesystem defaults to RootFilesystem.
	BootFilesystem string
	// RootFilesystem defaults to "ext4".
	RootFilesystem string
	// Arch is a GOARCH; "" means runtime.GOARCH.
	Arch string
	// ESPSize, BootSize default to DefaultESPSize and DefaultBootSize.
	ESPSize, BootSize int64
	// RootSize is --root-size; 0 means the rest of the disk.
	RootSize int64
	// RootMinSize defaults to DefaultRootMinSize.
	RootMinSize int64
}

// NewLayout builds the installer's layout, partitions in this order:
// BIOS boot ("BIOS-BOOT", 1 MiB), ESP ("EFI-SYSTEM", 512 MiB, vfat),
// /boot ("boot", 510 MiB) and root ("root", the rest), each only if asked
// for (root always). Names and labels follow upstream bootc.
func NewLayout(o LayoutOptions) *Layout {
	arch := o.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	rootFS := o.RootFilesystem
	if rootFS == "" {
		rootFS = "ext4"
	}
	bootFS := o.BootFilesystem
	if bootFS == "" {
		bootFS = rootFS
	}
	l := &Layout{}
	if o.BIOSBoot {
		l.Partitions = append(l.Partitions, PartitionSpec{
			Role: RoleBIOSBoot, Name: "BIOS-BOOT", Type: TypeBIOSBoot, Size: DefaultBIOSBootSize,
		})
	}
	if o.ESP {
		l.Partitions = append(l.Partitions, PartitionSpec{
			Role: RoleESP, Name: "EFI-SYSTEM", Type: TypeEFISystem, Size: orDefault(o.ESPSize, DefaultESPSize),
			Filesystem: "vfat", Label: "EFI-SYSTEM",
		})
	}
	if o.Boot {
		p := PartitionSpec{
			Role: RoleBoot, Name: "boot", Type: TypeLinuxFilesystem, Size: orDefault(o.BootSize, DefaultBootSize),
			Filesystem: bootFS, Label: "boot",
		}
		if o.BootXBOOTLDR {
			p.Type = TypeXBOOTLDR
		}
		if o.BootLegacyBIOSBootable {
			p.Attributes |= AttrLegacyBIOSBootable
		}
		l.Partitions = append(l.Partitions, p)
	}
	// The root gets the Discoverable Partitions root type of arch, else the generic Linux
	// filesystem type.
	rootType, ok := LinuxRootType(arch)
	if !ok {
		rootType = TypeLinuxFilesystem
	}
	l.Partitions = append(l.Partitions, PartitionSpec{
		Role: RoleRoot, Name: "root", Type: rootType, Size: o.RootSize,
		MinSize: orDefault(o.RootMinSize, DefaultRootMinSize), Filesystem: rootFS, Label: "root",
	})
	return l
}

func orDefault(v, d int64) int64 {
	if v > 0 {
		return v
	}
	return d
}

// Number returns the partition number (1-based) of the first partition
// with the given role, or 0.
func (l *Layout) Number(role Role) int {
	for i, p := range l.Partitions {
		if p.Role == role {
			return i + 1
		}
	}
	return 0
}

// TooSmallError is returned when a layout does not fit the target. It is
// returned before anything is written.
type TooSmallError struct {
	// Device is the target path; empty when unknown ([Layout.Plan]).
	Device string
	// Needed and Available are in bytes.
	Needed, Available int64
}

// Error names the device and both sizes, human-readable and in bytes.
func (e *TooSmallError) Error() string {
	dev := "target"
	if e.Device != "" {
		dev = e.Device
	}
	return fmt.Sprintf("%s is too small for the partition layout: it needs at least %s (%d bytes) but has %s (%d bytes)",
		dev, progress.HumanBytes(uint64(max(e.Needed, 0))), e.Needed, progress.HumanBytes(uint64(max(e.Available, 0))), e.Available)
}

func alignUp(v, a int64) int64   { return (v + a - 1) / a * a }
func alignDown(v, a int64) int64 { return v / a * a }

// Plan places the layout's partitions on a disk of diskSize bytes with the
// given logical sector size and returns the table to write. Partitions
// start on alignment boundaries and have sizes that are multiples of it;
// the rest-of-disk partition ends on an alignment boundary too. When the
// disk is too small, Plan returns a *[TooSmallError] naming the needed and
// available sizes. Plan writes nothing.
func (l *Layout) Plan(diskSize int64, sectorSize int) (*Table, error) {
	if err := checkSectorSize(sectorSize); err != nil {
		return nil, err
	}
	if len(l.Partitions) == 0 {
		return nil, fmt.Errorf("partition layout is empty")
	}
	align := l.Alignment
	if align == 0 {
		align = DefaultAlignment
	}
	ss := int64(sectorSize)
	if align < ss || align%ss != 0 {
		return nil, fmt.Errorf("alignment %d is not a multiple of the sector size %d", align, ss)
	}
	t := &Table{SectorSize: sectorSize, DiskGUID: l.DiskGUID, BootCode: l.BootCode, PMBRBootable: l.PMBRBootable}
	if len(l.BootCode) > mbrBootCodeSize {
		return nil, fmt.Errorf("MBR boot code is %d bytes, at most %d fit", len(l.BootCode), mbrBootCodeSize)
	}
	es := int64(t.entriesSectors()) * ss
	// The first partition starts at the first aligned byte after the
	// primary header and entries; a disk must also hold the backup ones.
	start := alignUp(2*ss+es, align)
	tail := es + ss

	// Needed size: fixed partitions plus the minimum of the growing one.
	needed := start
	for i, p := range l.Partitions {
		switch {
		case p.Size < 0 || p.MinSize < 0:
			return nil, fmt.Errorf("partition %d (%s): negative size", i+1, p.Name)
		case p.Size > 0:
			needed += alignUp(p.Size, align)
		case i != len(l.Partitions)-1:
			return nil, fmt.Errorf("partition %d (%s): only the last partition may take the rest of the disk", i+1, p.Name)
		default:
			needed += alignUp(max(p.MinSize, align), align)
		}
	}
	needed += tail
	if diskSize < needed {
		return nil, &TooSmallError{Needed: needed, Available: diskSize}
	}

	lastUsableEnd := (diskSize/ss - 1 - int64(t.entriesSectors())) * ss // exclusive end of the usable area
	if l.DiskGUID.IsZero() {
		g, err := NewGUID(l.Rand)
		if err != nil {
			return nil, err
		}
		t.DiskGUID = g
	}
	off := start
	for i, p := range l.Partitions {
		size := alignUp(p.Size, align)
		if p.Size == 0 {
			size = alignDown(lastUsableEnd, align) - off
		}
		g := p.GUID
		if g.IsZero() {
			var err error
			if g, err = NewGUID(l.Rand); err != nil {
				return nil, err
			}
		}
		t.Partitions = append(t.Partitions, Partition{
			Number:     i + 1,
			Type:       p.Type,
			GUID:       g,
			FirstLBA:   uint64(off / ss),
			LastLBA:    uint64((off+size)/ss - 1),
			Attributes: p.Attributes,
			Name:       p.Name,
		})
		off += size
	}
	if err := t.Validate(diskSize); err != nil {
		return nil, fmt.Errorf("planned partition table: %w", err)
	}
	first, last, err := t.usableRange(uint64(diskSize / ss))
	if err != nil {
		return nil, err
	}
	t.FirstUsableLBA, t.LastUsableLBA = first, last
	return t, nil
}
