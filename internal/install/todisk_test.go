package install

import (
	"testing"

	"github.com/bootc-go/bootc/internal/install/disk"
)

// TestDiskLayoutArch: the root partition's type is that of the architecture installed
// (Options.Arch), not this machine's (the review's finding: it was always the host's).
func TestDiskLayoutArch(t *testing.T) {
	for arch, want := range map[string]disk.GUID{"amd64": disk.TypeLinuxRootX86_64, "arm64": disk.TypeLinuxRootARM64, "s390x": disk.TypeLinuxRootS390X} {
		l := diskLayout("ext4", BootloaderNone, GrubFiles{}, 0, arch)
		if got := l.Partitions[l.Number(disk.RoleRoot)-1].Type; got != want {
			t.Errorf("%s: root partition type %v, want %v", arch, got, want)
		}
	}
}
