package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/install/disk"
)

// mountedDisk is the installed disk mounted read-only on the host: its root partition at
// root, its /boot partition at root/boot, each through a read-only loop device at the
// partition's offset (this kernel makes no partition devices for loop devices).
type mountedDisk struct {
	root    string
	d       *disk.Disk
	mounted []string
}

// openMountedDisk mounts the disk image read-only under dir. The ext4 journal is not
// replayed (noload): after a power cut it is dirty, and the guest replays it at its next
// boot.
func openMountedDisk(image, dir string) (m *mountedDisk, err error) {
	d, err := disk.Open(image, disk.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	m = &mountedDisk{root: dir, d: d}
	defer func() {
		if err != nil {
			_ = m.close()
			m = nil
		}
	}()
	table, err := d.ReadTable()
	if err != nil {
		return m, err
	}
	parts := map[string]int{}
	for _, p := range table.Partitions {
		parts[p.Name] = p.Number
	}
	for _, name := range []string{"root", "boot"} {
		if parts[name] == 0 {
			return m, fmt.Errorf("%s has no partition named %q", image, name)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return m, err
	}
	ctx := context.Background()
	for _, p := range []struct{ name, at string }{{"root", dir}, {"boot", filepath.Join(dir, "boot")}} {
		dev, err := d.PartitionDevice(ctx, parts[p.name])
		if err != nil {
			return m, err
		}
		if err := unix.Mount(dev, p.at, "ext4", unix.MS_RDONLY|unix.MS_NODEV|unix.MS_NOSUID, "noload"); err != nil {
			return m, fmt.Errorf("mounting %s (%s partition) on %s: %w", dev, p.name, p.at, err)
		}
		m.mounted = append(m.mounted, p.at)
	}
	return m, nil
}

func (m *mountedDisk) close() error {
	var errs []error
	for i := len(m.mounted) - 1; i >= 0; i-- {
		if err := disk.Unmount(m.mounted[i]); err != nil {
			errs = append(errs, err)
		}
	}
	m.mounted = nil
	if m.d != nil {
		errs = append(errs, m.d.Close())
		m.d = nil
	}
	return errors.Join(errs...)
}

// bootEntry is one entry of the extlinux configuration libostree writes, in boot order.
type bootEntry struct {
	label   string
	kernel  string
	options string
	// deployment is the deployment directory the entry's ostree= argument points to,
	// relative to the root (ostree/deploy/default/deploy/CHECKSUM.SERIAL).
	deployment string
}

// bootEntries reads boot/loader/syslinux.cfg: the first entry (also DEFAULT) is the
// deployment the next boot runs, the second the rollback.
func (m *mountedDisk) bootEntries() ([]bootEntry, error) {
	f, err := os.Open(filepath.Join(m.root, "boot", "loader", "syslinux.cfg"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var entries []bootEntry
	def := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, _ := strings.Cut(line, " ")
		switch strings.ToUpper(key) {
		case "DEFAULT":
			def = val
		case "LABEL":
			entries = append(entries, bootEntry{label: val})
		case "KERNEL", "LINUX":
			if len(entries) > 0 {
				entries[len(entries)-1].kernel = val
			}
		case "APPEND":
			if len(entries) > 0 {
				entries[len(entries)-1].options = val
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("syslinux.cfg has no entries")
	}
	if def != "" && entries[0].label != def {
		return nil, fmt.Errorf("syslinux.cfg: DEFAULT %q is not the first entry %q", def, entries[0].label)
	}
	for i := range entries {
		var ostreeArg string
		for _, a := range strings.Fields(entries[i].options) {
			if v, ok := strings.CutPrefix(a, "ostree="); ok {
				ostreeArg = v
			}
		}
		if ostreeArg == "" {
			return nil, fmt.Errorf("entry %q has no ostree= argument", entries[i].label)
		}
		// /ostree/boot.N/default/BOOTCSUM/SERIAL is a symlink to the deployment.
		link := filepath.Join(m.root, ostreeArg)
		target, err := filepath.EvalSymlinks(link)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", entries[i].label, err)
		}
		rel, err := filepath.Rel(m.root, target)
		if err != nil {
			return nil, err
		}
		entries[i].deployment = rel
	}
	return entries, nil
}

// deploymentInfo is what the host reads of one deployment on the disk.
type deploymentInfo struct {
	dir     string // relative to the root
	version string // /usr/lib/bootc-test/version
	origin  string // container-image-reference of the .origin file
	kargs   string // the boot entry's APPEND
}

func (m *mountedDisk) deployment(e bootEntry) (deploymentInfo, error) {
	di := deploymentInfo{dir: e.deployment, kargs: e.options}
	v, err := os.ReadFile(filepath.Join(m.root, e.deployment, "usr/lib/bootc-test/version"))
	if err != nil {
		return di, err
	}
	di.version = strings.TrimSpace(string(v))
	o, err := os.ReadFile(filepath.Join(m.root, e.deployment+".origin"))
	if err != nil {
		return di, err
	}
	for _, l := range strings.Split(string(o), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "container-image-reference="); ok {
			di.origin = v
		}
	}
	return di, nil
}

// file reads a file of a deployment ("" and false when it does not exist).
func (m *mountedDisk) file(deployment, path string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(m.root, deployment, path))
	if err != nil {
		return "", false
	}
	return string(b), true
}
