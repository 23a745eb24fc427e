package disk

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMkfsCommand(t *testing.T) {
	tests := []struct {
		fstype, label string
		opts          MkfsOptions
		want          string // program and args, space-separated
		err           string
	}{
		{"ext4", "root", MkfsOptions{}, "mkfs.ext4 -q -F -L root /dev/x", ""},
		{"ext4", "root", MkfsOptions{UUID: "0d3f4b2e-1111-4222-8333-444455556666", ExtraArgs: []string{"-O", "verity"}},
			"mkfs.ext4 -q -F -L root -U 0d3f4b2e-1111-4222-8333-444455556666 -O verity /dev/x", ""},
		{"xfs", "root", MkfsOptions{UUID: "0d3f4b2e-1111-4222-8333-444455556666"}, "mkfs.xfs -q -f -L root -m uuid=0d3f4b2e-1111-4222-8333-444455556666 /dev/x", ""},
		{"vfat", "EFI-SYSTEM", MkfsOptions{UUID: "ABCD-1234"}, "mkfs.vfat -n EFI-SYSTEM -i ABCD1234 /dev/x", ""},
		{"btrfs", "", MkfsOptions{}, "mkfs.btrfs -q -f /dev/x", ""},
		{"xfs", "thirteen-char", MkfsOptions{}, "", "longer than 12 bytes"},
		{"vfat", "EFI-SYSTEM-X", MkfsOptions{}, "", "longer than 11 bytes"},
		{"vfat", "E", MkfsOptions{UUID: "123"}, "", "not 8 hex digits"},
		{"zfs", "root", MkfsOptions{}, "", `unsupported filesystem type "zfs"`},
	}
	for _, tt := range tests {
		t.Run(tt.fstype+"/"+tt.label, func(t *testing.T) {
			name, args, err := MkfsCommand(tt.fstype, "/dev/x", tt.label, tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "/dev/x") {
					t.Errorf("error %v, want %q naming the device", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(append([]string{name}, args...), " "); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestMkfsUsesRunner(t *testing.T) {
	var got []string
	r := RunnerFunc(func(ctx context.Context, name string, args ...string) error {
		got = append([]string{name}, args...)
		return errors.New("tool failed")
	})
	err := Mkfs(context.Background(), r, "ext4", "/dev/loop9", "boot")
	if !slices.Equal(got, []string{"mkfs.ext4", "-q", "-F", "-L", "boot", "/dev/loop9"}) {
		t.Errorf("ran %v", got)
	}
	if err == nil || !strings.Contains(err.Error(), "formatting /dev/loop9 as ext4: tool failed") {
		t.Errorf("error %v", err)
	}
}

func TestHostRunner(t *testing.T) {
	requireTool(t, "sh", "dash")
	var out strings.Builder
	r := HostRunner{Output: &out}
	if err := r.Run(context.Background(), "sh", "-c", "echo hello"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\n" {
		t.Errorf("output %q", out.String())
	}
	err := HostRunner{}.Run(context.Background(), "sh", "-c", "echo bad superblock >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3: bad superblock") || !strings.Contains(err.Error(), "sh -c") {
		t.Errorf("error %v", err)
	}
	// Stdin is not a terminal nor an open pipe: a tool asking a question
	// reads EOF at once.
	if err := (HostRunner{}).Run(context.Background(), "sh", "-c", "read x"); err == nil {
		t.Error("read from stdin succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = HostRunner{}.Run(ctx, "sleep", "10")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled run: %v after %v", err, time.Since(start))
	}
}
