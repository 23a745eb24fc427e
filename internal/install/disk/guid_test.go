package disk

import (
	"bytes"
	"io"
	"testing"
)

func TestGUIDRoundTrip(t *testing.T) {
	for _, s := range []string{
		"21686148-6449-6E6F-744E-656564454649",
		"C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
		"BC13C2FF-59E6-4262-A352-B275FD6F7172",
		"0FC63DAF-8483-4772-8E79-3D69D8477DE4",
		"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
	} {
		g, err := ParseGUID(s)
		if err != nil {
			t.Fatal(err)
		}
		if g.String() != s {
			t.Errorf("ParseGUID(%q).String() = %q", s, g.String())
		}
		b := g.MarshalGPT()
		if back := UnmarshalGPTGUID(b[:]); back != g {
			t.Errorf("%s: mixed-endian round trip gave %s", s, back)
		}
	}
	// The BIOS boot type famously reads "Hah!IdontNeedEFI" on disk.
	b := TypeBIOSBoot.MarshalGPT()
	if string(b[:]) != "Hah!IdontNeedEFI" {
		t.Errorf("BIOS boot GUID on disk = %q", b[:])
	}
	if g, err := ParseGUID("{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}"); err != nil || g != TypeEFISystem {
		t.Errorf("lower case with braces: %v %v", g, err)
	}
}

func TestParseGUIDErrors(t *testing.T) {
	for _, s := range []string{"", "C12A7328F81F11D2BA4B00A0C93EC93B", "C12A7328-F81F-11D2-BA4B-00A0C93EC93", "G12A7328-F81F-11D2-BA4B-00A0C93EC93B", "C12A7328-F81F-11D2+BA4B-00A0C93EC93B"} {
		if _, err := ParseGUID(s); err == nil {
			t.Errorf("ParseGUID(%q) succeeded", s)
		}
	}
}

func TestNewGUID(t *testing.T) {
	g, err := NewGUID(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := g.String()
	if s[14] != '4' || !bytes.ContainsRune([]byte("89AB"), rune(s[19])) {
		t.Errorf("%s is not a version 4 RFC 4122 GUID", s)
	}
	a, _ := NewGUID(SeededRand(7))
	b, _ := NewGUID(SeededRand(7))
	c, _ := NewGUID(SeededRand(8))
	if a != b || a == c {
		t.Errorf("seeded GUIDs: %s %s %s", a, b, c)
	}
	if _, err := NewGUID(io.LimitReader(SeededRand(1), 3)); err == nil {
		t.Error("short random source: no error")
	}
}

func TestLinuxRootType(t *testing.T) {
	if g, ok := LinuxRootType("amd64"); !ok || g != TypeLinuxRootX86_64 {
		t.Errorf("amd64: %v %v", g, ok)
	}
	if _, ok := LinuxRootType("mips"); ok {
		t.Error("mips has a root type")
	}
}
