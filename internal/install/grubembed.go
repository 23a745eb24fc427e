package install

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Fields of GRUB 2's i386-pc boot.img and of the first sector of its core image
// (diskboot.img), as grub-bios-setup patches them (include/grub/i386/pc/boot.h).
const (
	grubSector = 512
	// grubKernelSector is where boot.img holds the LBA of the core image's first sector.
	grubKernelSector = 0x5c
	// grubDriveCheck is the jump boot.img skips its hard-disk drive check with; the
	// setup replaces it with two NOPs on hard disks, for BIOSes that pass a floppy drive
	// number.
	grubDriveCheck = 0x66
	// grubBlocklist is the first blocklist entry of diskboot.img, at the end of its sector:
	// start LBA (8 bytes), sector count (2), load segment (2); entries below it follow down
	// to one with count 0.
	grubBlocklist = grubSector - 12
	// grubCoreSegment is where diskboot.img loads the rest of the core image.
	grubCoreSegment = 0x820
)

// embedGrub returns the MBR boot code (the 440 bytes of boot.img before the partition
// table) and the core image to write at sector lba of the disk, with the core image
// placed in a BIOS boot partition of partBytes bytes starting there: boot.img points at the
// core image's first sector, and that sector's blocklist at the rest. These are the
// patches grub-bios-setup makes when it embeds a core image; here they are made without
// the disk's partitions being visible to GRUB's tools (a loop device per partition).
func embedGrub(bootImg, core []byte, lba uint64, partBytes int64) (mbr, sectors []byte, err error) {
	if len(bootImg) != grubSector || bootImg[510] != 0x55 || bootImg[511] != 0xaa {
		return nil, nil, fmt.Errorf("boot.img is %d bytes without the 0x55AA signature, not GRUB's i386-pc boot sector", len(bootImg))
	}
	if bootImg[grubDriveCheck] != 0xeb && bootImg[grubDriveCheck] != 0x90 {
		return nil, nil, errors.New("boot.img has no drive check jump where GRUB 2's has it")
	}
	if len(core) <= grubSector {
		return nil, nil, fmt.Errorf("the core image is %d bytes, too small", len(core))
	}
	nsec := (len(core) + grubSector - 1) / grubSector
	if int64(nsec)*grubSector > partBytes {
		return nil, nil, fmt.Errorf("the core image (%d bytes) does not fit the BIOS boot partition (%d bytes)", len(core), partBytes)
	}
	if nsec-1 > 0xffff {
		return nil, nil, fmt.Errorf("the core image (%d bytes) is too large for one blocklist entry", len(core))
	}
	for _, b := range core[grubBlocklist-12 : grubBlocklist] {
		if b != 0 {
			return nil, nil, errors.New("the core image's first sector has no free blocklist below its first entry: not GRUB 2's diskboot.img")
		}
	}
	mbr = append([]byte(nil), bootImg[:440]...)
	binary.LittleEndian.PutUint64(mbr[grubKernelSector:], lba)
	mbr[grubDriveCheck], mbr[grubDriveCheck+1] = 0x90, 0x90

	sectors = make([]byte, nsec*grubSector)
	copy(sectors, core)
	bl := sectors[grubBlocklist:grubSector]
	binary.LittleEndian.PutUint64(bl[0:], lba+1)
	binary.LittleEndian.PutUint16(bl[8:], uint16(nsec-1))
	binary.LittleEndian.PutUint16(bl[10:], grubCoreSegment)
	return mbr, sectors, nil
}
