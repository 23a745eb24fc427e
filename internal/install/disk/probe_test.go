package disk

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// blkidValue asks blkid (util-linux) for one tag, bypassing its cache.
func blkidValue(t *testing.T, dev, tag string) string {
	t.Helper()
	out, err := exec.Command("blkid", "-c", "/dev/null", "-o", "value", "-s", tag, dev).Output()
	if err != nil {
		// blkid exits 2 when the tag is absent.
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
			return ""
		}
		t.Fatalf("blkid %s: %v", dev, err)
	}
	return strings.TrimSpace(string(out))
}

// TestProbeMatchesBlkid makes filesystems on image files with Mkfs and
// checks that Probe reads the same type, UUID and label as blkid.
func TestProbeMatchesBlkid(t *testing.T) {
	requireTool(t, "blkid", "util-linux")
	tests := []struct {
		name, fstype, tool, pkg, label string
		size                           int64
		opts                           MkfsOptions
	}{
		{"ext4", "ext4", "mkfs.ext4", "e2fsprogs", "root", 64 * MiB, MkfsOptions{}},
		{"ext4 given uuid", "ext4", "mkfs.ext4", "e2fsprogs", "boot", 64 * MiB, MkfsOptions{UUID: "6f0e1c2a-93b4-4d5e-8f60-718293a4b5c6"}},
		{"ext4 verity", "ext4", "mkfs.ext4", "e2fsprogs", "root", 64 * MiB, MkfsOptions{ExtraArgs: []string{"-O", "verity"}}},
		{"ext3", "ext3", "mkfs.ext3", "e2fsprogs", "old", 64 * MiB, MkfsOptions{}},
		{"ext2", "ext2", "mkfs.ext2", "e2fsprogs", "", 16 * MiB, MkfsOptions{}},
		{"xfs", "xfs", "mkfs.xfs", "xfsprogs", "root", 300 * MiB, MkfsOptions{}},
		{"xfs given uuid", "xfs", "mkfs.xfs", "xfsprogs", "r", 300 * MiB, MkfsOptions{UUID: "0a1b2c3d-4e5f-4061-8273-8495a6b7c8d9"}},
		{"vfat fat16", "vfat", "mkfs.vfat", "dosfstools", "EFI-SYSTEM", 64 * MiB, MkfsOptions{}},
		{"vfat fat32", "vfat", "mkfs.vfat", "dosfstools", "ESP", 64 * MiB, MkfsOptions{UUID: "A1B2-C3D4", ExtraArgs: []string{"-F", "32"}}},
		{"vfat no label", "vfat", "mkfs.vfat", "dosfstools", "", 16 * MiB, MkfsOptions{}},
		{"btrfs", "btrfs", "mkfs.btrfs", "btrfs-progs", "root", 256 * MiB, MkfsOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireTool(t, tt.tool, tt.pkg)
			img := sparseFile(t, tt.size)
			if err := MkfsWith(context.Background(), HostRunner{}, tt.fstype, img, tt.label, tt.opts); err != nil {
				t.Fatal(err)
			}
			info, err := Probe(img)
			if err != nil {
				t.Fatal(err)
			}
			want := FilesystemInfo{
				Type:  blkidValue(t, img, "TYPE"),
				UUID:  blkidValue(t, img, "UUID"),
				Label: blkidValue(t, img, "LABEL"),
			}
			if *info != want {
				t.Errorf("Probe = %+v, blkid says %+v", *info, want)
			}
			if tt.opts.UUID != "" && !strings.EqualFold(info.UUID, tt.opts.UUID) {
				t.Errorf("UUID %s, asked for %s", info.UUID, tt.opts.UUID)
			}
			u, err := FilesystemUUID(img)
			if err != nil || u != want.UUID {
				t.Errorf("FilesystemUUID = %q, %v; blkid %q", u, err, want.UUID)
			}
		})
	}
}

func TestProbeUnknown(t *testing.T) {
	for _, size := range []int64{0, 100, 4 * MiB} {
		img := sparseFile(t, size)
		_, err := FilesystemUUID(img)
		if !errors.Is(err, ErrUnknownFilesystem) || !strings.Contains(err.Error(), img) {
			t.Errorf("size %d: %v, want ErrUnknownFilesystem naming the device", size, err)
		}
	}
	if _, err := Probe("/nonexistent/dev"); err == nil || !strings.Contains(err.Error(), "/nonexistent/dev") {
		t.Errorf("missing device: %v", err)
	}
}
