package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	mbrBootCodeSize = 440
	mbrSignature    = 0xAA55
	mbrTypeGPT      = 0xEE
)

// protectiveMBR returns the 512-byte protective MBR of a GPT disk with the
// given number of logical sectors: one partition of type 0xEE covering the
// disk from LBA 1 (capped at 2^32-1 sectors), an optional 440-byte boot
// code and an optional boot indicator.
func protectiveMBR(totalSectors uint64, bootCode []byte, bootable bool) []byte {
	b := make([]byte, 512)
	copy(b[:mbrBootCodeSize], bootCode)
	e := b[446:462]
	if bootable {
		e[0] = 0x80
	}
	// CHS of LBA 1 is cylinder 0, head 0, sector 2; the end CHS is the
	// "too large" marker, as the UEFI specification asks.
	e[1], e[2], e[3] = 0x00, 0x02, 0x00
	e[4] = mbrTypeGPT
	e[5], e[6], e[7] = 0xFF, 0xFF, 0xFF
	binary.LittleEndian.PutUint32(e[8:], 1)
	size := totalSectors - 1
	if size > 0xFFFFFFFF {
		size = 0xFFFFFFFF
	}
	binary.LittleEndian.PutUint32(e[12:], uint32(size))
	binary.LittleEndian.PutUint16(b[510:], mbrSignature)
	return b
}

// WriteMBRBootCode writes code (at most 440 bytes, normally exactly 440,
// such as syslinux's gptmbr.bin) over the boot code area of the MBR at the
// start of w, leaving the disk signature, the partition entries and the
// 0x55AA signature alone. A code shorter than 440 bytes is padded with
// zeros.
func WriteMBRBootCode(w io.WriterAt, code []byte) error {
	if len(code) > mbrBootCodeSize {
		return fmt.Errorf("MBR boot code is %d bytes, at most %d fit", len(code), mbrBootCodeSize)
	}
	buf := make([]byte, mbrBootCodeSize)
	copy(buf, code)
	if _, err := w.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("writing MBR boot code: %w", err)
	}
	return nil
}

// TableKind names the kind of partition table [DetectPartitionTable] found.
type TableKind string

// Partition table kinds, named as blkid's PTTYPE.
const (
	TableNone TableKind = ""
	TableGPT  TableKind = "gpt"
	TableDOS  TableKind = "dos"
)

// DetectPartitionTable looks for a partition table on a disk of diskSize
// bytes: a GPT header signature at LBA 1 or at the last LBA (512- or
// 4096-byte sectors, so a table whose primary header was damaged still
// counts), or a DOS MBR holding at least one partition. A FAT boot sector
// (a whole-disk FAT filesystem) is not mistaken for an MBR. It does not
// verify CRCs; use [ReadTable] for that.
func DetectPartitionTable(r io.ReaderAt, diskSize int64) (TableKind, error) {
	for _, ss := range []int64{512, 4096} {
		total := diskSize / ss
		if total < 2 {
			continue
		}
		for _, lba := range []int64{1, total - 1} {
			sig := make([]byte, 8)
			if _, err := r.ReadAt(sig, lba*ss); err != nil && !errors.Is(err, io.EOF) {
				return TableNone, fmt.Errorf("reading LBA %d: %w", lba, err)
			}
			if string(sig) == gptSignature {
				return TableGPT, nil
			}
		}
	}
	if diskSize < 512 {
		return TableNone, nil
	}
	b := make([]byte, 512)
	if _, err := r.ReadAt(b, 0); err != nil {
		return TableNone, fmt.Errorf("reading MBR: %w", err)
	}
	if binary.LittleEndian.Uint16(b[510:]) != mbrSignature || looksLikeFATBootSector(b) {
		return TableNone, nil
	}
	used := 0
	for i := range 4 {
		e := b[446+16*i : 446+16*(i+1)]
		if e[0] != 0 && e[0] != 0x80 {
			return TableNone, nil // not a partition entry: boot code of something else
		}
		if e[4] == mbrTypeGPT {
			return TableGPT, nil // protective MBR of a GPT we could not see
		}
		if e[4] != 0 && binary.LittleEndian.Uint32(e[12:]) != 0 {
			used++
		}
	}
	if used > 0 {
		return TableDOS, nil
	}
	return TableNone, nil
}

func looksLikeFATBootSector(b []byte) bool {
	if b[0] != 0xEB && b[0] != 0xE9 {
		return false
	}
	return bytes.HasPrefix(b[0x36:], []byte("FAT")) || bytes.HasPrefix(b[0x52:], []byte("FAT32"))
}
