package disk

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrUnknownFilesystem is returned by [Probe] when no supported
// filesystem superblock is found.
var ErrUnknownFilesystem = errors.New("no ext2/3/4, xfs, vfat or btrfs filesystem found")

// FilesystemInfo is what [Probe] reads from a superblock.
type FilesystemInfo struct {
	// Type is the blkid TYPE: ext2, ext3, ext4, xfs, vfat or btrfs.
	Type string
	// UUID is formatted as blkid prints it: lower-case RFC 4122 form for
	// ext*, xfs and btrfs, "ABCD-1234" for vfat.
	UUID string
	// Label is the filesystem label.
	Label string
}

// FilesystemUUID returns the UUID of the filesystem on device, as
// `blkid -o value -s UUID` prints it, for kernel arguments such as
// root=UUID=... It reads the superblock directly; no blkid is needed.
func FilesystemUUID(device string) (string, error) {
	info, err := Probe(device)
	if err != nil {
		return "", err
	}
	if info.UUID == "" {
		return "", fmt.Errorf("filesystem %s on %s has no UUID", info.Type, device)
	}
	return info.UUID, nil
}

// Probe identifies the filesystem on device (a block device or an image
// file) from its superblock.
func Probe(device string) (*FilesystemInfo, error) {
	f, err := os.Open(device)
	if err != nil {
		return nil, fmt.Errorf("probing filesystem: %w", err)
	}
	defer f.Close()
	info, err := ProbeReader(f)
	if err != nil {
		return nil, fmt.Errorf("probing filesystem on %s: %w", device, err)
	}
	return info, nil
}

// ProbeReader is [Probe] on an io.ReaderAt positioned at the start of the
// filesystem.
func ProbeReader(r io.ReaderAt) (*FilesystemInfo, error) {
	for _, probe := range []func(io.ReaderAt) (*FilesystemInfo, error){probeExt, probeXFS, probeBtrfs, probeFAT} {
		info, err := probe(r)
		if err != nil {
			return nil, err
		}
		if info != nil {
			return info, nil
		}
	}
	return nil, ErrUnknownFilesystem
}

// readAt reads len(b) bytes at off; a short device is not an error, the
// probe just finds nothing.
func readAt(r io.ReaderAt, b []byte, off int64) (bool, error) {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return true, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return false, nil
	}
	return false, fmt.Errorf("reading %d bytes at offset %d: %w", len(b), off, err)
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// ext2/3/4: superblock at 1024, magic 0xEF53 at 0x38, UUID at 0x68, volume
// name at 0x78.
func probeExt(r io.ReaderAt) (*FilesystemInfo, error) {
	sb := make([]byte, 1024)
	if ok, err := readAt(r, sb, 1024); !ok {
		return nil, err
	}
	if binary.LittleEndian.Uint16(sb[0x38:]) != 0xEF53 {
		return nil, nil
	}
	compat := binary.LittleEndian.Uint32(sb[0x5C:])
	incompat := binary.LittleEndian.Uint32(sb[0x60:])
	roCompat := binary.LittleEndian.Uint32(sb[0x64:])
	const (
		compatHasJournal   = 0x4
		incompatJournalDev = 0x8
		ext3Incompat       = 0x2 | 0x4 | 0x10 // filetype, recover, meta_bg
		ext3ROCompat       = 0x1 | 0x2 | 0x4  // sparse_super, large_file, btree_dir
	)
	if incompat&incompatJournalDev != 0 {
		return nil, nil // an external journal device, not a filesystem
	}
	// As blkid: features beyond ext3's make it ext4; else a journal makes
	// it ext3.
	typ := "ext2"
	switch {
	case incompat&^ext3Incompat != 0 || roCompat&^ext3ROCompat != 0:
		typ = "ext4"
	case compat&compatHasJournal != 0:
		typ = "ext3"
	}
	return &FilesystemInfo{Type: typ, UUID: formatUUID(sb[0x68:0x78]), Label: cString(sb[0x78:0x88])}, nil
}

// xfs: superblock at 0, big-endian, magic "XFSB", UUID at 32, name at 108.
func probeXFS(r io.ReaderAt) (*FilesystemInfo, error) {
	sb := make([]byte, 120)
	if ok, err := readAt(r, sb, 0); !ok {
		return nil, err
	}
	if string(sb[0:4]) != "XFSB" {
		return nil, nil
	}
	return &FilesystemInfo{Type: "xfs", UUID: formatUUID(sb[32:48]), Label: cString(sb[108:120])}, nil
}

// btrfs: superblock at 64 KiB, magic "_BHRfS_M" at 0x40, fsid at 0x20,
// label at 0x12b.
func probeBtrfs(r io.ReaderAt) (*FilesystemInfo, error) {
	sb := make([]byte, 0x12b+256)
	if ok, err := readAt(r, sb, 64*KiB); !ok {
		return nil, err
	}
	if string(sb[0x40:0x48]) != "_BHRfS_M" {
		return nil, nil
	}
	return &FilesystemInfo{Type: "btrfs", UUID: formatUUID(sb[0x20:0x30]), Label: cString(sb[0x12b:])}, nil
}

// vfat: a boot sector with a BIOS parameter block. FAT12/16 keep the
// extended boot signature at 0x26, serial at 0x27 and label at 0x2B;
// FAT32 (sectors per FAT at 0x16 is 0) at 0x42, 0x43 and 0x47.
func probeFAT(r io.ReaderAt) (*FilesystemInfo, error) {
	b := make([]byte, 512)
	if ok, err := readAt(r, b, 0); !ok {
		return nil, err
	}
	if binary.LittleEndian.Uint16(b[510:]) != mbrSignature || (b[0] != 0xEB && b[0] != 0xE9) {
		return nil, nil
	}
	bytesPerSector := binary.LittleEndian.Uint16(b[0x0B:])
	sectorsPerCluster := b[0x0D]
	if bytesPerSector < 512 || bytesPerSector > 4096 || bytesPerSector&(bytesPerSector-1) != 0 ||
		sectorsPerCluster == 0 || sectorsPerCluster&(sectorsPerCluster-1) != 0 || b[0x10] == 0 {
		return nil, nil
	}
	sigOff, serialOff, labelOff := 0x26, 0x27, 0x2B
	if binary.LittleEndian.Uint16(b[0x16:]) == 0 {
		sigOff, serialOff, labelOff = 0x42, 0x43, 0x47
	}
	info := &FilesystemInfo{Type: "vfat"}
	if b[sigOff] == 0x29 || b[sigOff] == 0x28 {
		s := b[serialOff : serialOff+4]
		info.UUID = fmt.Sprintf("%02X%02X-%02X%02X", s[3], s[2], s[1], s[0])
	}
	if b[sigOff] == 0x29 {
		if l := strings.TrimRight(string(b[labelOff:labelOff+11]), " "); l != "NO NAME" {
			info.Label = l
		}
	}
	return info, nil
}
