package disk

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
)

// GUID is a globally unique identifier as used by GPT, held in the byte
// order of its canonical text form ("21686148-6449-6E6F-744E-656564454649").
// On disk GPT stores the first three groups little-endian ("mixed endian");
// [GUID.MarshalGPT] and [UnmarshalGPTGUID] do that conversion.
type GUID [16]byte

// Partition type GUIDs used by the installer.
var (
	// TypeBIOSBoot is the BIOS boot partition where GRUB puts its core image.
	TypeBIOSBoot = MustParseGUID("21686148-6449-6E6F-744E-656564454649")
	// TypeEFISystem is the EFI system partition (ESP).
	TypeEFISystem = MustParseGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
	// TypeXBOOTLDR is the Extended Boot Loader partition (a /boot shared
	// between operating systems, Discoverable Partitions Specification).
	TypeXBOOTLDR = MustParseGUID("BC13C2FF-59E6-4262-A352-B275FD6F7172")
	// TypeLinuxFilesystem is the generic Linux filesystem data type.
	TypeLinuxFilesystem = MustParseGUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
	// TypeLinuxRootX86_64 is the Discoverable Partitions root type for x86-64.
	TypeLinuxRootX86_64 = MustParseGUID("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709")
	// TypeLinuxRootARM64 is the Discoverable Partitions root type for aarch64.
	TypeLinuxRootARM64 = MustParseGUID("B921B045-1DF0-41C3-AF44-4C6F280D3FAE")
	// TypeLinuxRootPPC64LE is the Discoverable Partitions root type for ppc64le.
	TypeLinuxRootPPC64LE = MustParseGUID("C31C45E6-3F39-412E-80FB-4809C4980599")
	// TypeLinuxRootS390X is the Discoverable Partitions root type for s390x.
	TypeLinuxRootS390X = MustParseGUID("5EEAD9A9-FE09-4A1E-A1D7-520D00531306")
	// TypeLinuxRootRISCV64 is the Discoverable Partitions root type for riscv64.
	TypeLinuxRootRISCV64 = MustParseGUID("72EC70A6-CF74-40E6-BD49-4BDA08E8F224")
)

// LinuxRootType returns the Discoverable Partitions Specification root
// partition type for a Go architecture name (runtime.GOARCH), and false
// for architectures without one (callers then use [TypeLinuxFilesystem]).
func LinuxRootType(goarch string) (GUID, bool) {
	switch goarch {
	case "amd64":
		return TypeLinuxRootX86_64, true
	case "arm64":
		return TypeLinuxRootARM64, true
	case "ppc64le":
		return TypeLinuxRootPPC64LE, true
	case "s390x":
		return TypeLinuxRootS390X, true
	case "riscv64":
		return TypeLinuxRootRISCV64, true
	}
	return GUID{}, false
}

// ParseGUID parses the canonical 36-character form of a GUID, in either
// case, optionally surrounded by braces.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	t := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return g, fmt.Errorf("invalid GUID %q: want the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	h := t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:36]
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return GUID{}, fmt.Errorf("invalid GUID %q: %w", s, err)
	}
	return g, nil
}

// MustParseGUID is [ParseGUID] for constants; it panics on a malformed GUID.
func MustParseGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// String returns the canonical upper-case form, as sfdisk and the UEFI
// specification print partition type GUIDs.
func (g GUID) String() string {
	h := strings.ToUpper(hex.EncodeToString(g[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// IsZero reports whether g is the all-zero GUID (an unused GPT entry).
func (g GUID) IsZero() bool { return g == GUID{} }

// MarshalGPT returns the 16 bytes GPT stores on disk for g: the first
// three groups little-endian, the rest as is.
func (g GUID) MarshalGPT() [16]byte {
	var b [16]byte
	b[0], b[1], b[2], b[3] = g[3], g[2], g[1], g[0]
	b[4], b[5] = g[5], g[4]
	b[6], b[7] = g[7], g[6]
	copy(b[8:], g[8:])
	return b
}

// UnmarshalGPTGUID converts 16 on-disk GPT bytes back into a GUID.
func UnmarshalGPTGUID(b []byte) GUID {
	var g GUID
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:], b[8:16])
	return g
}

// NewGUID reads 16 bytes from r (crypto/rand when r is nil) and returns
// them as a random (version 4, RFC 4122 variant) GUID.
func NewGUID(r io.Reader) (GUID, error) {
	if r == nil {
		r = rand.Reader
	}
	var g GUID
	if _, err := io.ReadFull(r, g[:]); err != nil {
		return GUID{}, fmt.Errorf("generating GUID: %w", err)
	}
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g, nil
}

// SeededRand returns a deterministic random source for [Layout.Rand], so
// that tests get the same disk and partition GUIDs on every run. Never use
// it for real installs: GUIDs must be unique across machines.
func SeededRand(seed uint64) io.Reader {
	var key [32]byte
	for i := range 4 {
		s := seed + uint64(i)*0x9e3779b97f4a7c15
		for j := range 8 {
			key[i*8+j] = byte(s >> (8 * j))
		}
	}
	return mrand.NewChaCha8(key)
}
