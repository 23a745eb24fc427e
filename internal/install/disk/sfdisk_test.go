package disk

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// sfdiskJSON is the part of `sfdisk --json` output the tests compare.
type sfdiskJSON struct {
	PartitionTable struct {
		Label      string `json:"label"`
		ID         string `json:"id"`
		FirstLBA   uint64 `json:"firstlba"`
		LastLBA    uint64 `json:"lastlba"`
		SectorSize int    `json:"sectorsize"`
		Partitions []struct {
			Node  string `json:"node"`
			Start uint64 `json:"start"`
			Size  uint64 `json:"size"`
			Type  string `json:"type"`
			UUID  string `json:"uuid"`
			Name  string `json:"name"`
			Attrs string `json:"attrs"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

func sfdiskDump(t *testing.T, sfdisk, img string) sfdiskJSON {
	t.Helper()
	var out sfdiskJSON
	if err := json.Unmarshal([]byte(run(t, sfdisk, "--json", img)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareWithSfdisk checks our table against sfdisk's reading of img.
func compareWithSfdisk(t *testing.T, sf sfdiskJSON, tbl *Table, img string) {
	t.Helper()
	pt := sf.PartitionTable
	if pt.Label != "gpt" || !strings.EqualFold(pt.ID, tbl.DiskGUID.String()) || pt.SectorSize != tbl.SectorSize ||
		pt.FirstLBA != tbl.FirstUsableLBA || pt.LastLBA != tbl.LastUsableLBA {
		t.Errorf("sfdisk header %+v, ours %+v", pt, tbl)
	}
	if len(pt.Partitions) != len(tbl.Partitions) {
		t.Fatalf("sfdisk sees %d partitions, we wrote %d", len(pt.Partitions), len(tbl.Partitions))
	}
	for i, sp := range pt.Partitions {
		p := tbl.Partitions[i]
		wantAttrs := ""
		if p.Attributes&AttrLegacyBIOSBootable != 0 {
			wantAttrs = "LegacyBIOSBootable"
		}
		if sp.Node != img+strconv.Itoa(p.Number) || sp.Start != p.FirstLBA || sp.Size != p.LastLBA-p.FirstLBA+1 ||
			!strings.EqualFold(sp.Type, p.Type.String()) || !strings.EqualFold(sp.UUID, p.GUID.String()) ||
			sp.Name != p.Name || sp.Attrs != wantAttrs {
			t.Errorf("partition %d: sfdisk %+v, ours %+v", p.Number, sp, p)
		}
	}
}

// TestGPTAgainstSfdisk writes layouts with our code and checks them with
// sfdisk (util-linux) as an independent reader and verifier.
func TestGPTAgainstSfdisk(t *testing.T) {
	sfdisk := requireTool(t, "sfdisk", "fdisk")
	layouts := []struct {
		name string
		size int64
		opts LayoutOptions
	}{
		{"bios+boot+root", GiB, LayoutOptions{BIOSBoot: true, Boot: true, BootLegacyBIOSBootable: true, Arch: "amd64"}},
		{"esp+boot+root", 2 * GiB, LayoutOptions{ESP: true, Boot: true, BootXBOOTLDR: true, Arch: "amd64"}},
		{"all, root size", 2 * GiB, LayoutOptions{BIOSBoot: true, ESP: true, Boot: true, RootSize: 100 * MiB, Arch: "arm64"}},
	}
	for _, tt := range layouts {
		opts := tt.opts
		t.Run(tt.name, func(t *testing.T) {
			img := sparseFile(t, tt.size)
			l := NewLayout(opts)
			l.Rand = SeededRand(3)
			l.BootCode = make([]byte, 440)
			copy(l.BootCode, "\xfa\x31\xc0 boot code")
			d, err := Open(img, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			tbl, err := d.CreatePartitions(l, false)
			if err != nil {
				t.Fatal(err)
			}
			compareWithSfdisk(t, sfdiskDump(t, sfdisk, img), tbl, img)
			out := run(t, sfdisk, "--verify", img)
			if !strings.Contains(out, "No errors detected") || strings.Contains(strings.ToLower(out), "warning") {
				t.Errorf("sfdisk --verify:\n%s", out)
			}
			// Our reader agrees with what we wrote.
			back, err := d.ReadTable()
			if err != nil {
				t.Fatal(err)
			}
			if back.DiskGUID != tbl.DiskGUID || len(back.Partitions) != len(tbl.Partitions) || string(back.BootCode) != string(l.BootCode) {
				t.Errorf("read back %+v", back)
			}
			for i := range back.Partitions {
				if back.Partitions[i] != tbl.Partitions[i] {
					t.Errorf("partition %d read back %+v, wrote %+v", i+1, back.Partitions[i], tbl.Partitions[i])
				}
			}
		})
	}
}

// TestReadSfdiskTable reads a table that sfdisk wrote.
func TestReadSfdiskTable(t *testing.T) {
	sfdisk := requireTool(t, "sfdisk", "fdisk")
	img := sparseFile(t, 256*MiB)
	script := `label: gpt
label-id: 5C2B3A1E-9F0D-4E53-8D4A-1B2C3D4E5F60
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="BIOS-BOOT", attrs="LegacyBIOSBootable"
size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI-SYSTEM"
type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root", uuid=0A1B2C3D-4E5F-4061-8273-8495A6B7C8D9
`
	runWithStdin(t, script, sfdisk, "-q", img)
	tbl, err := func() (*Table, error) {
		f, err := os.Open(img)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return ReadTable(f, 256*MiB, 0)
	}()
	if err != nil {
		t.Fatal(err)
	}
	compareWithSfdisk(t, sfdiskDump(t, sfdisk, img), tbl, img)
	if tbl.Partitions[0].Attributes != AttrLegacyBIOSBootable || tbl.Partitions[2].GUID.String() != "0A1B2C3D-4E5F-4061-8273-8495A6B7C8D9" {
		t.Errorf("partitions %+v", tbl.Partitions)
	}
	if ok, err := HasPartitionTable(img); err != nil || !ok {
		t.Errorf("HasPartitionTable = %v, %v", ok, err)
	}
}
