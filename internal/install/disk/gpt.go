package disk

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"unicode/utf16"
)

// GPT partition attribute bits (UEFI specification, table "Defined GPT
// Partition Entry - Attributes").
const (
	// AttrRequired marks a partition the platform needs to function.
	AttrRequired uint64 = 1 << 0
	// AttrNoBlockIOProtocol asks firmware not to produce an EFI_BLOCK_IO
	// protocol for the partition.
	AttrNoBlockIOProtocol uint64 = 1 << 1
	// AttrLegacyBIOSBootable marks the partition that legacy BIOS boot code
	// chains to: syslinux's gptmbr.bin boots the first partition with this
	// bit set (sfdisk calls it "LegacyBIOSBootable", its "bootable" keyword).
	AttrLegacyBIOSBootable uint64 = 1 << 2
)

const (
	gptSignature       = "EFI PART"
	gptRevision        = 0x00010000
	gptHeaderSize      = 92
	gptEntrySize       = 128
	gptDefaultEntries  = 128
	gptNameUnits       = 36 // UTF-16 code units in a partition name
	minGPTEntriesBytes = 16384
)

// ErrNoGPT is returned by [ReadTable] when the device has no GPT header
// signature at LBA 1.
var ErrNoGPT = errors.New("no GPT partition table")

// Partition is one used GPT partition entry.
type Partition struct {
	// Number is the 1-based index of the entry in the partition entry
	// array: the N in /dev/sdaN.
	Number int
	// Type is the partition type GUID.
	Type GUID
	// GUID is the unique partition GUID (PARTUUID).
	GUID GUID
	// FirstLBA and LastLBA delimit the partition, both inclusive, in
	// logical sectors of the table's sector size.
	FirstLBA, LastLBA uint64
	// Attributes holds the attribute bits, e.g. [AttrLegacyBIOSBootable].
	Attributes uint64
	// Name is the partition name (PARTLABEL), at most 36 UTF-16 code units.
	Name string
}

// Offset returns the byte offset of the partition on a disk with the given
// logical sector size.
func (p Partition) Offset(sectorSize int) int64 { return int64(p.FirstLBA) * int64(sectorSize) }

// Size returns the partition's size in bytes for the given sector size.
func (p Partition) Size(sectorSize int) int64 {
	return int64(p.LastLBA-p.FirstLBA+1) * int64(sectorSize)
}

// Table is a GPT partition table together with the protective MBR written
// in front of it.
type Table struct {
	// SectorSize is the logical sector size (512 or 4096).
	SectorSize int
	// DiskGUID identifies the disk (sfdisk's label-id).
	DiskGUID GUID
	// FirstUsableLBA and LastUsableLBA bound where partitions may lie. Write
	// recomputes them from the disk size; ReadTable reports what is on disk.
	FirstUsableLBA, LastUsableLBA uint64
	// NumEntries is the size of the partition entry array; 0 means 128.
	NumEntries int
	// Partitions are the used entries, in increasing Number order.
	Partitions []Partition
	// BootCode, when non-nil, is written to the first 440 bytes of the
	// protective MBR (for example syslinux's gptmbr.bin). At most 440 bytes.
	BootCode []byte
	// PMBRBootable sets the boot indicator (0x80) on the protective MBR's
	// partition entry. The UEFI specification says 0, but some BIOSes only
	// run MBR boot code on a disk with an active partition; parted calls
	// this "pmbr_boot".
	PMBRBootable bool
}

// Partition returns the entry with the given number, or nil.
func (t *Table) Partition(number int) *Partition {
	for i := range t.Partitions {
		if t.Partitions[i].Number == number {
			return &t.Partitions[i]
		}
	}
	return nil
}

func (t *Table) numEntries() int {
	if t.NumEntries > 0 {
		return t.NumEntries
	}
	return gptDefaultEntries
}

// entriesSectors is the number of sectors the entry array occupies; the
// UEFI specification reserves at least 16 KiB for it.
func (t *Table) entriesSectors() uint64 {
	n := max(t.numEntries()*gptEntrySize, minGPTEntriesBytes)
	ss := t.SectorSize
	return uint64((n + ss - 1) / ss)
}

// usableRange returns the first and last usable LBA of a disk with the
// given number of sectors.
func (t *Table) usableRange(totalSectors uint64) (first, last uint64, err error) {
	es := t.entriesSectors()
	first = 2 + es
	if totalSectors < first+es+2 {
		return 0, 0, fmt.Errorf("disk of %d sectors is too small for a GPT", totalSectors)
	}
	last = totalSectors - 2 - es
	return first, last, nil
}

func checkSectorSize(ss int) error {
	if ss < 512 || ss > 65536 || ss&(ss-1) != 0 {
		return fmt.Errorf("unsupported sector size %d", ss)
	}
	return nil
}

// Validate checks that the table can be written to a disk of diskSize
// bytes: sector size, entry count, partitions inside the usable area, no
// overlaps, unique numbers, names that fit and a boot code of at most 440
// bytes.
func (t *Table) Validate(diskSize int64) error {
	if err := checkSectorSize(t.SectorSize); err != nil {
		return err
	}
	if t.numEntries() > 4096 {
		return fmt.Errorf("partition entry array of %d entries is too large", t.numEntries())
	}
	if len(t.BootCode) > mbrBootCodeSize {
		return fmt.Errorf("MBR boot code is %d bytes, at most %d fit", len(t.BootCode), mbrBootCodeSize)
	}
	first, last, err := t.usableRange(uint64(diskSize / int64(t.SectorSize)))
	if err != nil {
		return err
	}
	parts := slices.Clone(t.Partitions)
	slices.SortFunc(parts, func(a, b Partition) int { return cmp.Compare(a.FirstLBA, b.FirstLBA) })
	seen := map[int]bool{}
	for i, p := range parts {
		if p.Number < 1 || p.Number > t.numEntries() {
			return fmt.Errorf("partition %d: number out of range 1..%d", p.Number, t.numEntries())
		}
		if seen[p.Number] {
			return fmt.Errorf("partition %d: number used twice", p.Number)
		}
		seen[p.Number] = true
		if p.Type.IsZero() {
			return fmt.Errorf("partition %d: zero type GUID marks an unused entry", p.Number)
		}
		if p.LastLBA < p.FirstLBA {
			return fmt.Errorf("partition %d: last LBA %d before first LBA %d", p.Number, p.LastLBA, p.FirstLBA)
		}
		if p.FirstLBA < first || p.LastLBA > last {
			return fmt.Errorf("partition %d: sectors %d-%d outside the usable area %d-%d", p.Number, p.FirstLBA, p.LastLBA, first, last)
		}
		if i > 0 && parts[i-1].LastLBA >= p.FirstLBA {
			return fmt.Errorf("partition %d overlaps partition %d", p.Number, parts[i-1].Number)
		}
		if _, err := encodeName(p.Name); err != nil {
			return fmt.Errorf("partition %d: %w", p.Number, err)
		}
	}
	return nil
}

func encodeName(name string) ([]byte, error) {
	u := utf16.Encode([]rune(name))
	if len(u) > gptNameUnits {
		return nil, fmt.Errorf("name %q is longer than %d UTF-16 code units", name, gptNameUnits)
	}
	b := make([]byte, gptNameUnits*2)
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b, nil
}

func decodeName(b []byte) string {
	u := make([]uint16, 0, gptNameUnits)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// encodeEntries returns the partition entry array.
func (t *Table) encodeEntries() ([]byte, error) {
	buf := make([]byte, t.entriesSectors()*uint64(t.SectorSize))
	for _, p := range t.Partitions {
		e := buf[(p.Number-1)*gptEntrySize : p.Number*gptEntrySize]
		tg := p.Type.MarshalGPT()
		ug := p.GUID.MarshalGPT()
		copy(e[0:16], tg[:])
		copy(e[16:32], ug[:])
		binary.LittleEndian.PutUint64(e[32:], p.FirstLBA)
		binary.LittleEndian.PutUint64(e[40:], p.LastLBA)
		binary.LittleEndian.PutUint64(e[48:], p.Attributes)
		name, err := encodeName(p.Name)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Number, err)
		}
		copy(e[56:128], name)
	}
	return buf, nil
}

// encodeHeader returns one sector holding a GPT header.
func (t *Table) encodeHeader(myLBA, altLBA, entriesLBA uint64, entriesCRC uint32) []byte {
	h := make([]byte, t.SectorSize)
	copy(h[0:8], gptSignature)
	binary.LittleEndian.PutUint32(h[8:], gptRevision)
	binary.LittleEndian.PutUint32(h[12:], gptHeaderSize)
	binary.LittleEndian.PutUint64(h[24:], myLBA)
	binary.LittleEndian.PutUint64(h[32:], altLBA)
	binary.LittleEndian.PutUint64(h[40:], t.FirstUsableLBA)
	binary.LittleEndian.PutUint64(h[48:], t.LastUsableLBA)
	dg := t.DiskGUID.MarshalGPT()
	copy(h[56:72], dg[:])
	binary.LittleEndian.PutUint64(h[72:], entriesLBA)
	binary.LittleEndian.PutUint32(h[80:], uint32(t.numEntries()))
	binary.LittleEndian.PutUint32(h[84:], gptEntrySize)
	binary.LittleEndian.PutUint32(h[88:], entriesCRC)
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:gptHeaderSize]))
	return h
}

// Write writes the protective MBR, the primary header and entry array at
// the start of the disk and the backup entry array and header at its end.
// diskSize is the size of the whole disk in bytes; FirstUsableLBA and
// LastUsableLBA are set from it. Write does not sync; see [Disk.WriteTable].
func (t *Table) Write(w io.WriterAt, diskSize int64) error {
	if err := t.Validate(diskSize); err != nil {
		return err
	}
	total := uint64(diskSize / int64(t.SectorSize))
	first, last, err := t.usableRange(total)
	if err != nil {
		return err
	}
	t.FirstUsableLBA, t.LastUsableLBA = first, last
	slices.SortFunc(t.Partitions, func(a, b Partition) int { return a.Number - b.Number })
	entries, err := t.encodeEntries()
	if err != nil {
		return err
	}
	crc := crc32.ChecksumIEEE(entries[:t.numEntries()*gptEntrySize])
	ss := int64(t.SectorSize)
	lastLBA := total - 1
	backupEntriesLBA := lastLBA - t.entriesSectors()

	pmbr := make([]byte, t.SectorSize)
	copy(pmbr, protectiveMBR(total, t.BootCode, t.PMBRBootable))
	writes := []struct {
		what string
		lba  uint64
		data []byte
	}{
		{"backup partition entries", backupEntriesLBA, entries},
		{"backup GPT header", lastLBA, t.encodeHeader(lastLBA, 1, backupEntriesLBA, crc)},
		{"primary partition entries", 2, entries},
		{"primary GPT header", 1, t.encodeHeader(1, lastLBA, 2, crc)},
		{"protective MBR", 0, pmbr},
	}
	for _, wr := range writes {
		if _, err := w.WriteAt(wr.data, int64(wr.lba)*ss); err != nil {
			return fmt.Errorf("writing %s at LBA %d: %w", wr.what, wr.lba, err)
		}
	}
	return nil
}

// ReadTable reads and verifies the GPT of a disk of diskSize bytes:
// signatures, header and entry array CRC32s, and that the backup header at
// the last LBA agrees with the primary one. sectorSize 0 tries 512 and then
// 4096. It returns an error wrapping [ErrNoGPT] when there is no GPT
// signature at all.
func ReadTable(r io.ReaderAt, diskSize int64, sectorSize int) (*Table, error) {
	if sectorSize == 0 {
		t, err := ReadTable(r, diskSize, 512)
		if errors.Is(err, ErrNoGPT) {
			return ReadTable(r, diskSize, 4096)
		}
		return t, err
	}
	if err := checkSectorSize(sectorSize); err != nil {
		return nil, err
	}
	total := uint64(diskSize / int64(sectorSize))
	if total < 3 {
		return nil, ErrNoGPT
	}
	primary, pentries, err := readHeader(r, sectorSize, 1, total)
	if err != nil {
		return nil, fmt.Errorf("primary GPT header: %w", err)
	}
	if primary.altLBA != total-1 {
		return nil, fmt.Errorf("primary GPT header: backup header at LBA %d, but the last LBA is %d (disk resized?)", primary.altLBA, total-1)
	}
	backup, bentries, err := readHeader(r, sectorSize, total-1, total)
	if errors.Is(err, ErrNoGPT) {
		// Not ErrNoGPT: there is a GPT, only its backup is gone.
		return nil, fmt.Errorf("backup GPT header: no signature at LBA %d", total-1)
	}
	if err != nil {
		return nil, fmt.Errorf("backup GPT header: %w", err)
	}
	if backup.altLBA != 1 || backup.t.DiskGUID != primary.t.DiskGUID ||
		backup.t.FirstUsableLBA != primary.t.FirstUsableLBA || backup.t.LastUsableLBA != primary.t.LastUsableLBA ||
		backup.entriesCRC != primary.entriesCRC || !bytes.Equal(pentries, bentries) {
		return nil, errors.New("backup GPT header does not match the primary one")
	}
	t := primary.t
	mbr := make([]byte, 512)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return nil, fmt.Errorf("reading protective MBR: %w", err)
	}
	if !bytes.Equal(mbr[:mbrBootCodeSize], make([]byte, mbrBootCodeSize)) {
		t.BootCode = slices.Clone(mbr[:mbrBootCodeSize])
	}
	for i := range 4 {
		e := mbr[446+16*i : 446+16*(i+1)]
		if e[4] == 0xEE && e[0] == 0x80 {
			t.PMBRBootable = true
		}
	}
	return t, nil
}

type header struct {
	t          *Table
	altLBA     uint64
	entriesCRC uint32
}

func readHeader(r io.ReaderAt, ss int, lba, total uint64) (*header, []byte, error) {
	h := make([]byte, ss)
	if _, err := r.ReadAt(h, int64(lba)*int64(ss)); err != nil {
		return nil, nil, fmt.Errorf("reading LBA %d: %w", lba, err)
	}
	if string(h[0:8]) != gptSignature {
		return nil, nil, ErrNoGPT
	}
	hsize := binary.LittleEndian.Uint32(h[12:])
	if hsize < gptHeaderSize || int(hsize) > ss {
		return nil, nil, fmt.Errorf("header size %d out of range", hsize)
	}
	want := binary.LittleEndian.Uint32(h[16:])
	hc := slices.Clone(h[:hsize])
	binary.LittleEndian.PutUint32(hc[16:], 0)
	if got := crc32.ChecksumIEEE(hc); got != want {
		return nil, nil, fmt.Errorf("header CRC32 is %#08x, computed %#08x", want, got)
	}
	if my := binary.LittleEndian.Uint64(h[24:]); my != lba {
		return nil, nil, fmt.Errorf("header at LBA %d says it is at LBA %d", lba, my)
	}
	t := &Table{
		SectorSize:     ss,
		FirstUsableLBA: binary.LittleEndian.Uint64(h[40:]),
		LastUsableLBA:  binary.LittleEndian.Uint64(h[48:]),
		DiskGUID:       UnmarshalGPTGUID(h[56:72]),
		NumEntries:     int(binary.LittleEndian.Uint32(h[80:])),
	}
	entriesLBA := binary.LittleEndian.Uint64(h[72:])
	esize := binary.LittleEndian.Uint32(h[84:])
	if esize < gptEntrySize || esize%8 != 0 || esize > 4096 {
		return nil, nil, fmt.Errorf("partition entry size %d out of range", esize)
	}
	if t.NumEntries < 1 || t.NumEntries > 4096 {
		return nil, nil, fmt.Errorf("partition entry count %d out of range", t.NumEntries)
	}
	if t.FirstUsableLBA > t.LastUsableLBA || t.LastUsableLBA >= total {
		return nil, nil, fmt.Errorf("usable area %d-%d does not fit a disk of %d sectors", t.FirstUsableLBA, t.LastUsableLBA, total)
	}
	n := uint64(t.NumEntries) * uint64(esize)
	if entriesLBA >= total || entriesLBA+(n+uint64(ss)-1)/uint64(ss) > total {
		return nil, nil, fmt.Errorf("partition entries at LBA %d do not fit the disk", entriesLBA)
	}
	entries := make([]byte, n)
	if _, err := r.ReadAt(entries, int64(entriesLBA)*int64(ss)); err != nil {
		return nil, nil, fmt.Errorf("reading partition entries at LBA %d: %w", entriesLBA, err)
	}
	crc := binary.LittleEndian.Uint32(h[88:])
	if got := crc32.ChecksumIEEE(entries); got != crc {
		return nil, nil, fmt.Errorf("partition entry array CRC32 is %#08x, computed %#08x", crc, got)
	}
	for i := range t.NumEntries {
		e := entries[uint64(i)*uint64(esize):]
		tg := UnmarshalGPTGUID(e[0:16])
		if tg.IsZero() {
			continue
		}
		t.Partitions = append(t.Partitions, Partition{
			Number:     i + 1,
			Type:       tg,
			GUID:       UnmarshalGPTGUID(e[16:32]),
			FirstLBA:   binary.LittleEndian.Uint64(e[32:]),
			LastLBA:    binary.LittleEndian.Uint64(e[40:]),
			Attributes: binary.LittleEndian.Uint64(e[48:]),
			Name:       decodeName(e[56:128]),
		})
	}
	return &header{t: t, altLBA: binary.LittleEndian.Uint64(h[32:]), entriesCRC: crc}, entries, nil
}
