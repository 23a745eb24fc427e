package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// memDisk is an in-memory disk for table tests.
type memDisk []byte

func (m memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, errors.New("read past end")
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, errors.New("short read")
	}
	return n, nil
}

func (m memDisk) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m)) {
		return 0, errors.New("write past end")
	}
	return copy(m[off:], p), nil
}

func testTable(t *testing.T, size int64, ss int) *Table {
	t.Helper()
	l := NewLayout(LayoutOptions{BIOSBoot: true, ESP: true, Boot: true, BootLegacyBIOSBootable: true, Arch: "amd64",
		ESPSize: 2 * MiB, BootSize: 2 * MiB, RootMinSize: 2 * MiB})
	l.Rand = SeededRand(42)
	tbl, err := l.Plan(size, ss)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestTableRoundTrip(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		size := 64 * MiB
		m := make(memDisk, size)
		tbl := testTable(t, size, ss)
		tbl.BootCode = bytes.Repeat([]byte{0xA5}, 440)
		tbl.PMBRBootable = true
		if err := tbl.Write(m, size); err != nil {
			t.Fatal(err)
		}
		got, err := ReadTable(m, size, 0)
		if err != nil {
			t.Fatalf("sector size %d: %v", ss, err)
		}
		if got.SectorSize != ss || got.DiskGUID != tbl.DiskGUID || got.FirstUsableLBA != tbl.FirstUsableLBA ||
			got.LastUsableLBA != tbl.LastUsableLBA || !got.PMBRBootable || !bytes.Equal(got.BootCode, tbl.BootCode) {
			t.Errorf("sector size %d: header mismatch: got %+v want %+v", ss, got, tbl)
		}
		if len(got.Partitions) != len(tbl.Partitions) {
			t.Fatalf("got %d partitions, want %d", len(got.Partitions), len(tbl.Partitions))
		}
		for i := range got.Partitions {
			if got.Partitions[i] != tbl.Partitions[i] {
				t.Errorf("partition %d: got %+v want %+v", i+1, got.Partitions[i], tbl.Partitions[i])
			}
		}
		// Protective MBR: 0xEE from LBA 1 over the whole disk.
		e := m[446:462]
		if e[4] != 0xEE || e[0] != 0x80 || binary.LittleEndian.Uint32(e[8:]) != 1 ||
			binary.LittleEndian.Uint32(e[12:]) != uint32(size/int64(ss)-1) || m[510] != 0x55 || m[511] != 0xAA {
			t.Errorf("protective MBR entry % x", e)
		}
		wantFirst := uint64(2 + 16384/ss)
		if tbl.FirstUsableLBA != wantFirst || tbl.LastUsableLBA != uint64(size/int64(ss))-1-uint64(16384/ss)-1 {
			t.Errorf("usable LBAs %d-%d", tbl.FirstUsableLBA, tbl.LastUsableLBA)
		}
	}
}

func TestReadTableCorruption(t *testing.T) {
	size := 16 * MiB
	good := make(memDisk, size)
	tbl := testTable(t, size, 512)
	if err := tbl.Write(good, size); err != nil {
		t.Fatal(err)
	}
	last := size - 512
	tests := []struct {
		name    string
		corrupt func(m memDisk)
		want    string
	}{
		{"primary header CRC", func(m memDisk) { m[512+40]++ }, "primary GPT header: header CRC32"},
		{"primary entries", func(m memDisk) { m[1024+56]++ }, "primary GPT header: partition entry array CRC32"},
		{"backup header CRC", func(m memDisk) { m[last+48]++ }, "backup GPT header: header CRC32"},
		{"backup entries", func(m memDisk) { m[last-16384+32]++ }, "backup GPT header: partition entry array CRC32"},
		{"no GPT", func(m memDisk) { copy(m[512:], "NOT PART") }, "no GPT"},
		{"backup missing", func(m memDisk) { clear(m[last:]) }, "backup GPT header: no signature"},
		{"disk grown", nil, "backup header at LBA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := append(memDisk(nil), good...)
			if tt.corrupt == nil {
				m = append(m, make([]byte, MiB)...)
			} else {
				tt.corrupt(m)
			}
			_, err := ReadTable(m, int64(len(m)), 512)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	m := append(memDisk(nil), good...)
	clear(m[last:])
	if _, err := ReadTable(m, size, 0); err == nil || errors.Is(err, ErrNoGPT) {
		t.Errorf("missing backup: %v, want an error other than ErrNoGPT", err)
	}
	if _, err := ReadTable(make(memDisk, size), size, 0); !errors.Is(err, ErrNoGPT) {
		t.Errorf("zero disk: %v, want ErrNoGPT", err)
	}
}

func TestTableValidate(t *testing.T) {
	size := 64 * MiB
	base := func() *Table { return testTable(t, size, 512) }
	tests := []struct {
		name   string
		change func(*Table)
		want   string
	}{
		{"ok", func(*Table) {}, ""},
		{"overlap", func(tb *Table) { tb.Partitions[1].FirstLBA = tb.Partitions[0].LastLBA }, "overlaps"},
		{"before usable", func(tb *Table) { tb.Partitions[0].FirstLBA = 10 }, "outside the usable area"},
		{"past end", func(tb *Table) { tb.Partitions[3].LastLBA = uint64(size / 512) }, "outside the usable area"},
		{"name too long", func(tb *Table) { tb.Partitions[0].Name = strings.Repeat("x", 37) }, "longer than 36"},
		{"duplicate number", func(tb *Table) { tb.Partitions[1].Number = 1 }, "used twice"},
		{"zero type", func(tb *Table) { tb.Partitions[1].Type = GUID{} }, "zero type"},
		{"boot code", func(tb *Table) { tb.BootCode = make([]byte, 441) }, "at most 440"},
		{"sector size", func(tb *Table) { tb.SectorSize = 1000 }, "unsupported sector size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := base()
			tt.change(tb)
			err := tb.Validate(size)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if err := tb.Write(make(memDisk, size), size); err == nil {
				t.Error("Write accepted an invalid table")
			}
		})
	}
}

func TestPartitionNameUnicode(t *testing.T) {
	size := 16 * MiB
	m := make(memDisk, size)
	tbl := &Table{SectorSize: 512, DiskGUID: MustParseGUID("11111111-2222-4333-8444-555555555555"), Partitions: []Partition{
		{Number: 3, Type: TypeLinuxFilesystem, GUID: MustParseGUID("11111111-2222-4333-8444-666666666666"), FirstLBA: 2048, LastLBA: 4095, Name: "racine-é-🙂"},
	}}
	if err := tbl.Write(m, size); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTable(m, size, 512)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Partitions) != 1 || got.Partitions[0].Name != "racine-é-🙂" || got.Partitions[0].Number != 3 {
		t.Errorf("got %+v", got.Partitions)
	}
}

func TestWriteMBRBootCode(t *testing.T) {
	size := 16 * MiB
	m := make(memDisk, size)
	tbl := testTable(t, 64*MiB, 512)
	tbl.Partitions = tbl.Partitions[:2]
	if err := tbl.Write(m, size); err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), m[440:512]...)
	code := bytes.Repeat([]byte{0xFA}, 440)
	if err := WriteMBRBootCode(m, code); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m[:440], code) || !bytes.Equal(m[440:512], before) {
		t.Error("boot code not written or partition entries changed")
	}
	if _, err := ReadTable(m, size, 512); err != nil {
		t.Errorf("GPT broken by boot code: %v", err)
	}
	if err := WriteMBRBootCode(m, make([]byte, 446)); err == nil {
		t.Error("446 bytes of boot code accepted")
	}
}

func TestDetectPartitionTable(t *testing.T) {
	size := 16 * MiB
	gpt := make(memDisk, size)
	tbl := testTable(t, 64*MiB, 512)
	tbl.Partitions = tbl.Partitions[:2]
	if err := tbl.Write(gpt, size); err != nil {
		t.Fatal(err)
	}
	dos := make(memDisk, size)
	copy(dos[446:], []byte{0x80, 0, 0, 0, 0x83, 0, 0, 0, 0x00, 0x08, 0, 0, 0x00, 0x08, 0, 0})
	dos[510], dos[511] = 0x55, 0xAA
	emptyMBR := make(memDisk, size)
	emptyMBR[510], emptyMBR[511] = 0x55, 0xAA
	fat := make(memDisk, size)
	fat[0], fat[1], fat[2] = 0xEB, 0x3C, 0x90
	copy(fat[0x36:], "FAT16   ")
	copy(fat[446:], []byte{0x80, 1, 1, 1, 0x83, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) // boot code bytes
	fat[510], fat[511] = 0x55, 0xAA
	backupOnly := append(memDisk(nil), gpt...)
	clear(backupOnly[:1024])
	garbageMBR := append(memDisk(nil), dos...)
	garbageMBR[446] = 0x12
	tests := []struct {
		name string
		disk memDisk
		want TableKind
	}{
		{"zero", make(memDisk, size), TableNone},
		{"gpt", gpt, TableGPT},
		{"gpt backup only", backupOnly, TableGPT},
		{"dos", dos, TableDOS},
		{"mbr signature without partitions", emptyMBR, TableNone},
		{"whole-disk FAT", fat, TableNone},
		{"boot code, not a table", garbageMBR, TableNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DetectPartitionTable(tt.disk, int64(len(tt.disk)))
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// A tiny file is not an error.
	if got, err := DetectPartitionTable(make(memDisk, 100), 100); err != nil || got != TableNone {
		t.Errorf("tiny: %q %v", got, err)
	}
}
