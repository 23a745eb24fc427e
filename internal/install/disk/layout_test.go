package disk

import (
	"errors"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/progress"
)

func TestPlan(t *testing.T) {
	type want struct {
		name  string
		start int64 // bytes
		size  int64 // bytes; -1: rest of the disk up to the last aligned MiB
		typ   GUID
		attrs uint64
	}
	tests := []struct {
		name   string
		opts   LayoutOptions
		disk   int64
		ss     int
		parts  []want
		needed int64 // >0: expect TooSmallError with this Needed
	}{
		{
			name: "bios+boot+root", disk: GiB, ss: 512,
			opts: LayoutOptions{BIOSBoot: true, Boot: true, BootLegacyBIOSBootable: true, Arch: "amd64"},
			parts: []want{
				{"BIOS-BOOT", MiB, MiB, TypeBIOSBoot, 0},
				{"boot", 2 * MiB, 510 * MiB, TypeLinuxFilesystem, AttrLegacyBIOSBootable},
				{"root", 512 * MiB, GiB - 513*MiB, TypeLinuxRootX86_64, 0},
			},
		},
		{
			name: "esp+xbootldr+root arm64", disk: 4 * GiB, ss: 512,
			opts: LayoutOptions{ESP: true, Boot: true, BootXBOOTLDR: true, Arch: "arm64"},
			parts: []want{
				{"EFI-SYSTEM", MiB, 512 * MiB, TypeEFISystem, 0},
				{"boot", 513 * MiB, 510 * MiB, TypeXBOOTLDR, 0},
				{"root", 1023 * MiB, 4*GiB - 1024*MiB, TypeLinuxRootARM64, 0},
			},
		},
		{
			name: "root size given leaves space", disk: 4 * GiB, ss: 512,
			opts: LayoutOptions{BIOSBoot: true, ESP: true, RootSize: GiB, Arch: "amd64"},
			parts: []want{
				{"BIOS-BOOT", MiB, MiB, TypeBIOSBoot, 0},
				{"EFI-SYSTEM", 2 * MiB, 512 * MiB, TypeEFISystem, 0},
				{"root", 514 * MiB, GiB, TypeLinuxRootX86_64, 0},
			},
		},
		{
			name: "odd sizes round up, 4Kn", disk: GiB + 12345*4096, ss: 4096,
			opts: LayoutOptions{ESP: true, ESPSize: 100*MiB + 1, Arch: "mips"},
			parts: []want{
				{"EFI-SYSTEM", MiB, 101 * MiB, TypeEFISystem, 0},
				{"root", 102 * MiB, -1, TypeLinuxFilesystem, 0},
			},
		},
		{
			name: "exactly enough", disk: 1*MiB + MiB + 510*MiB + 300*MiB + 33*512, ss: 512,
			opts: LayoutOptions{BIOSBoot: true, Boot: true, Arch: "amd64"},
			parts: []want{
				{"BIOS-BOOT", MiB, MiB, TypeBIOSBoot, 0},
				{"boot", 2 * MiB, 510 * MiB, TypeLinuxFilesystem, 0},
				{"root", 512 * MiB, 300 * MiB, TypeLinuxRootX86_64, 0},
			},
		},
		{
			name: "one sector short", disk: 1*MiB + MiB + 510*MiB + 300*MiB + 32*512, ss: 512,
			opts:   LayoutOptions{BIOSBoot: true, Boot: true, Arch: "amd64"},
			needed: 812*MiB + 33*512,
		},
		{
			name: "too small", disk: 512 * MiB, ss: 512,
			opts:   LayoutOptions{ESP: true, Boot: true},
			needed: MiB + 512*MiB + 510*MiB + 300*MiB + 33*512,
		},
		{
			name: "root size too big", disk: 2 * GiB, ss: 512,
			opts:   LayoutOptions{RootSize: 2 * GiB},
			needed: MiB + 2*GiB + 33*512,
		},
		{
			name: "4Kn needs more tail", disk: 10 * MiB, ss: 4096,
			opts:   LayoutOptions{RootMinSize: 9 * MiB},
			needed: MiB + 9*MiB + 5*4096,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLayout(tt.opts)
			l.Rand = SeededRand(1)
			tbl, err := l.Plan(tt.disk, tt.ss)
			if tt.needed > 0 {
				ts, ok := errors.AsType[*TooSmallError](err)
				if !ok {
					t.Fatalf("got %v, want TooSmallError", err)
				}
				if ts.Needed != tt.needed || ts.Available != tt.disk {
					t.Errorf("needed %d available %d, want %d %d", ts.Needed, ts.Available, tt.needed, tt.disk)
				}
				if !strings.Contains(err.Error(), progress.HumanBytes(uint64(tt.needed))) || !strings.Contains(err.Error(), progress.HumanBytes(uint64(tt.disk))) {
					t.Errorf("message does not name the sizes: %v", err)
				}
				// Too small by the needed size means enough at exactly it.
				if _, err := l.Plan(tt.needed, tt.ss); err != nil {
					t.Errorf("planning at the needed size: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tbl.Partitions) != len(tt.parts) {
				t.Fatalf("got %d partitions, want %d", len(tbl.Partitions), len(tt.parts))
			}
			ss := int64(tt.ss)
			for i, w := range tt.parts {
				p := tbl.Partitions[i]
				size := w.size
				if size < 0 {
					size = alignDown((tt.disk/ss-1-int64(tbl.entriesSectors()))*ss, MiB) - w.start
				}
				if p.Number != i+1 || p.Name != w.name || p.Offset(tt.ss) != w.start || p.Size(tt.ss) != size ||
					p.Type != w.typ || p.Attributes != w.attrs {
					t.Errorf("partition %d = %+v (offset %d size %d), want %+v (size %d)", i+1, p, p.Offset(tt.ss), p.Size(tt.ss), w, size)
				}
				if p.Offset(tt.ss)%MiB != 0 || p.Size(tt.ss)%MiB != 0 {
					t.Errorf("partition %d not MiB aligned", i+1)
				}
				if p.GUID.IsZero() || p.GUID == tbl.DiskGUID {
					t.Errorf("partition %d GUID %s", i+1, p.GUID)
				}
			}
			if err := tbl.Validate(tt.disk); err != nil {
				t.Error(err)
			}
			// Same seed, same GUIDs.
			l.Rand = SeededRand(1)
			again, _ := l.Plan(tt.disk, tt.ss)
			if again.DiskGUID != tbl.DiskGUID || again.Partitions[0].GUID != tbl.Partitions[0].GUID {
				t.Error("seeded plan is not deterministic")
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name string
		l    Layout
		want string
	}{
		{"empty", Layout{}, "empty"},
		{"rest not last", Layout{Partitions: []PartitionSpec{{Name: "a", Type: TypeLinuxFilesystem}, {Name: "b", Type: TypeLinuxFilesystem, Size: MiB}}}, "only the last"},
		{"bad alignment", Layout{Alignment: 1000, Partitions: []PartitionSpec{{Name: "a", Type: TypeLinuxFilesystem}}}, "alignment"},
		{"negative", Layout{Partitions: []PartitionSpec{{Name: "a", Type: TypeLinuxFilesystem, Size: -1}}}, "negative"},
		{"long name", Layout{Partitions: []PartitionSpec{{Name: strings.Repeat("n", 40), Type: TypeLinuxFilesystem}}}, "longer than 36"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.l.Plan(GiB, 512)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNewLayoutNumbers(t *testing.T) {
	l := NewLayout(LayoutOptions{BIOSBoot: true, ESP: true, Boot: true, RootFilesystem: "xfs"})
	for role, n := range map[Role]int{RoleBIOSBoot: 1, RoleESP: 2, RoleBoot: 3, RoleRoot: 4} {
		if got := l.Number(role); got != n {
			t.Errorf("Number(%s) = %d, want %d", role, got, n)
		}
	}
	if fs := l.Partitions[2].Filesystem; fs != "xfs" {
		t.Errorf("boot filesystem defaults to the root's: %q", fs)
	}
	if l.Partitions[1].Filesystem != "vfat" || l.Partitions[1].Label != "EFI-SYSTEM" {
		t.Errorf("ESP %+v", l.Partitions[1])
	}
	if NewLayout(LayoutOptions{}).Number(RoleBoot) != 0 {
		t.Error("boot partition without asking")
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{{"10", 10 * MiB}, {"10M", 10 * MiB}, {"3G", 3 * GiB}, {"2T", 2 * TiB}, {"512MiB", 512 * MiB}, {" 1GiB ", GiB}} {
		if got, err := ParseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "0", "-1G", "1K", "G", "1.5G", "99999999999999T"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}
