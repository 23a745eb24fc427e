package install

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// grubBootImage is a stand-in for GRUB's boot.img: the drive check jump at 0x66 and the
// boot signature.
func grubBootImage() []byte {
	b := make([]byte, 512)
	for i := range 440 {
		b[i] = byte(i)
	}
	b[grubDriveCheck], b[grubDriveCheck+1] = 0xeb, 0x05
	b[510], b[511] = 0x55, 0xaa
	return b
}

// grubCoreImage is a stand-in for a core image of n bytes whose first sector ends with
// diskboot.img's default blocklist entry.
func grubCoreImage(n int) []byte {
	c := bytes.Repeat([]byte{0xc7}, n)
	clear(c[grubBlocklist-12 : grubSector])
	binary.LittleEndian.PutUint64(c[grubBlocklist:], 2)
	binary.LittleEndian.PutUint16(c[grubBlocklist+10:], grubCoreSegment)
	return c
}

func TestEmbedGrub(t *testing.T) {
	const lba = 2048
	for _, tc := range []struct {
		name      string
		boot      []byte
		core      []byte
		partBytes int64
		want      string // error substring, "" for success
	}{
		{"fits", grubBootImage(), grubCoreImage(29000), 1 << 20, ""},
		{"exact sectors", grubBootImage(), grubCoreImage(4 * 512), 4 * 512, ""},
		{"partition too small", grubBootImage(), grubCoreImage(29000), 16 << 10, "does not fit the BIOS boot partition"},
		{"not a boot sector", make([]byte, 512), grubCoreImage(29000), 1 << 20, "0x55AA"},
		{"short boot image", grubBootImage()[:440], grubCoreImage(29000), 1 << 20, "0x55AA"},
		{"no drive check", func() []byte { b := grubBootImage(); b[grubDriveCheck] = 0; return b }(), grubCoreImage(29000), 1 << 20, "drive check"},
		{"core too small", grubBootImage(), grubCoreImage(512), 1 << 20, "too small"},
		{"not diskboot", grubBootImage(), bytes.Repeat([]byte{1}, 4096), 1 << 20, "not GRUB 2's diskboot.img"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boot, core := append([]byte(nil), tc.boot...), append([]byte(nil), tc.core...)
			mbr, sectors, err := embedGrub(tc.boot, tc.core, lba, tc.partBytes)
			if !bytes.Equal(boot, tc.boot) || !bytes.Equal(core, tc.core) {
				t.Fatal("embedGrub changed its inputs")
			}
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(mbr) != 440 {
				t.Fatalf("MBR boot code is %d bytes, want 440", len(mbr))
			}
			if got := binary.LittleEndian.Uint64(mbr[grubKernelSector:]); got != lba {
				t.Errorf("boot.img kernel sector %d, want %d", got, lba)
			}
			if mbr[grubDriveCheck] != 0x90 || mbr[grubDriveCheck+1] != 0x90 {
				t.Errorf("drive check % x, want two NOPs", mbr[grubDriveCheck:grubDriveCheck+2])
			}
			for i := range 440 {
				if i >= grubKernelSector && i < grubKernelSector+8 || i == grubDriveCheck || i == grubDriveCheck+1 {
					continue
				}
				if mbr[i] != tc.boot[i] {
					t.Fatalf("MBR byte %#x changed: %#x, want boot.img's %#x", i, mbr[i], tc.boot[i])
				}
			}
			nsec := (len(tc.core) + 511) / 512
			if len(sectors) != nsec*512 || !bytes.Equal(sectors[512:len(tc.core)], tc.core[512:]) {
				t.Fatalf("core image: %d bytes, want %d with the input's sectors after the first", len(sectors), nsec*512)
			}
			bl := sectors[grubBlocklist:]
			if start, n, seg := binary.LittleEndian.Uint64(bl), binary.LittleEndian.Uint16(bl[8:]), binary.LittleEndian.Uint16(bl[10:]); start != lba+1 || int(n) != nsec-1 || seg != grubCoreSegment {
				t.Errorf("blocklist start %d, %d sectors at segment %#x; want %d, %d at %#x", start, n, seg, lba+1, nsec-1, grubCoreSegment)
			}
			if !bytes.Equal(sectors[grubBlocklist-12:grubBlocklist], make([]byte, 12)) {
				t.Error("the blocklist has no terminating entry")
			}
		})
	}
}

// minimalPE returns a PE32+ header with no sections whose certificate table (data
// directory 4) has the given size.
func minimalPE(certSize uint32) []byte {
	b := make([]byte, 0x200)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x40)
	copy(b[0x40:], "PE\x00\x00")
	coff := b[0x44:]
	binary.LittleEndian.PutUint16(coff[0:], 0x8664) // machine
	binary.LittleEndian.PutUint16(coff[16:], 240)   // size of the optional header
	opt := b[0x58:]
	binary.LittleEndian.PutUint16(opt[0:], 0x20b) // PE32+
	binary.LittleEndian.PutUint32(opt[108:], 16)  // number of data directories
	dirs := opt[112:]
	binary.LittleEndian.PutUint32(dirs[4*8:], 0x100)
	binary.LittleEndian.PutUint32(dirs[4*8+4:], certSize)
	return b
}

func TestPESigned(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		data   []byte
		signed bool
		err    bool
	}{
		{"signed", minimalPE(0x400), true, false},
		{"unsigned", minimalPE(0), false, false},
		{"not PE", []byte("not a kernel"), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			signed, err := peSigned(p)
			if (err != nil) != tc.err || signed != tc.signed {
				t.Fatalf("peSigned = %v, %v; want %v, error %v", signed, err, tc.signed, tc.err)
			}
		})
	}
}

func TestScanGrub(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("x"), Mode: 0o755}
	menu := fstest.MapFS{grubMkconfigPath: file, grubOstreeMenu: file, grubDefaults: file, ostreeCLIPath: file}
	with := func(base fstest.MapFS, paths ...string) fstest.MapFS {
		m := fstest.MapFS{}
		for k, v := range base {
			m[k] = v
		}
		for _, p := range paths {
			m[p] = file
		}
		return m
	}
	efi := []string{shimSigned, grubEFISigned}
	bios := []string{grubMkimagePath, grubPCDir + "/boot.img", grubPCDir + "/normal.mod"}
	for _, tc := range []struct {
		name      string
		fsys      fstest.MapFS
		bios, efi bool
		missing   []string
	}{
		{"both chains", with(menu, append(efi, bios...)...), true, true, nil},
		{"ostree-native /usr/etc", with(fstest.MapFS{grubMkconfigPath: file, ostreeCLIPath: file, "usr/" + grubOstreeMenu: file, "usr/" + grubDefaults: file}, efi...), false, true, nil},
		{"UEFI only", with(menu, efi...), false, true, nil},
		{"BIOS only", with(menu, bios...), true, false, nil},
		{"no chain", menu, false, false, []string{"a boot chain"}},
		{"unsigned EFI GRUB only", with(menu, grubEFISigned), false, false, []string{"a boot chain"}},
		{"no menu generator", with(fstest.MapFS{}, efi...), false, true,
			[]string{"/" + grubMkconfigPath, "/" + grubOstreeMenu, "/" + grubDefaults, "/" + ostreeCLIPath}},
		{"nothing", fstest.MapFS{}, false, false, []string{"/" + grubMkconfigPath, "a boot chain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := scanGrub(tc.fsys)
			if g.BIOS() != tc.bios || g.EFI() != tc.efi {
				t.Errorf("BIOS %v, EFI %v; want %v, %v", g.BIOS(), g.EFI(), tc.bios, tc.efi)
			}
			m := g.Missing()
			if g.Usable() != (len(tc.missing) == 0) {
				t.Errorf("Usable() = %v with missing %q", g.Usable(), m)
			}
			for _, w := range tc.missing {
				if !strings.Contains(m, w) {
					t.Errorf("Missing() = %q, want it to name %s", m, w)
				}
			}
		})
	}
}

func TestGrubSearchBoot(t *testing.T) {
	for fstype, want := range map[string]string{"ext4": "insmod ext2", "xfs": "insmod xfs", "btrfs": "insmod btrfs"} {
		got := grubSearchBoot("1234-abcd", fstype)
		if !strings.Contains(got, want+"\n") || !strings.HasSuffix(got, "search --no-floppy --fs-uuid --set=root 1234-abcd") {
			t.Errorf("grubSearchBoot(%s) = %q", fstype, got)
		}
	}
}

// TestGrubESP checks the ESP's files taken from a deployment, and the warning for an
// unsigned kernel (Secure Boot with the signed chain, a kernel shim will refuse).
func TestGrubESP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kernel []byte
		mok    bool
		warn   bool
	}{
		{"signed kernel", minimalPE(0x400), true, false},
		{"unsigned kernel", minimalPE(0), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dep := t.TempDir()
			write := func(p string, b []byte) {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dep, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dep, p), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write(shimSigned, []byte("shim"))
			write(grubEFISigned, []byte("grub"))
			write(mokManagerSigned, []byte("mok"))
			write("usr/lib/modules/6.1.0-test/vmlinuz", tc.kernel)
			var out bytes.Buffer
			in := &installer{opts: Options{Out: io.Writer(&out)}, plan: &plan{info: &ImageInfo{Kernels: []string{"6.1.0-test"},
				Grub: GrubFiles{Shim: true, SignedEFI: true, MokManager: tc.mok}}}}
			files, err := in.grubESP(dep, "0123-ABCD")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"EFI/BOOT/BOOTX64.EFI": "shim", "EFI/BOOT/grubx64.efi": "grub"}
			if tc.mok {
				want["EFI/BOOT/mmx64.efi"] = "mok"
			}
			for k, v := range want {
				if string(files[k]) != v {
					t.Errorf("%s = %q, want the image's %q", k, files[k], v)
				}
			}
			if len(files) != len(want)+1 {
				t.Errorf("ESP files %d, want %d", len(files), len(want)+1)
			}
			if cfg := string(files["EFI/BOOT/grub.cfg"]); !strings.Contains(cfg, "--set=root 0123-ABCD\n") || !strings.Contains(cfg, "source ($root)/loader/grub.cfg") {
				t.Errorf("EFI/BOOT/grub.cfg:\n%s", cfg)
			}
			if got := strings.Contains(out.String(), "is not signed"); got != tc.warn {
				t.Errorf("warning printed: %v, want %v:\n%s", got, tc.warn, out.String())
			}
		})
	}
}
