package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// bootEntry is one entry of the bootloader configuration libostree writes, in boot order.
type bootEntry struct {
	label   string
	kernel  string
	options string
	// deployment is the deployment directory the entry's ostree= argument points to,
	// relative to the root (ostree/deploy/default/deploy/CHECKSUM.SERIAL).
	deployment string
}

// bootEntries reads the bootloader configuration libostree keeps: GRUB's
// boot/loader/grub.cfg when there is one, else extlinux's boot/loader/syslinux.cfg. The
// first entry (also the default) is the deployment the next boot runs, the second the
// rollback.
func (m *mountedDisk) bootEntries() ([]bootEntry, error) {
	var entries []bootEntry
	var err error
	if _, serr := os.Stat(filepath.Join(m.root, "boot", "loader", "grub.cfg")); serr == nil {
		entries, err = m.grubEntries()
	} else {
		entries, err = m.syslinuxEntries()
	}
	if err != nil {
		return nil, err
	}
	for i := range entries {
		ostreeArg := ostreeKarg(entries[i].options)
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

// ostreeKarg returns the value of the ostree= argument of a kernel command line.
func ostreeKarg(options string) string {
	var v string
	for _, a := range strings.Fields(options) {
		if o, ok := strings.CutPrefix(a, "ostree="); ok {
			v = o
		}
	}
	return v
}

// grubEntries reads the GRUB menu libostree's grub2 backend writes (boot/loader/grub.cfg)
// and checks it against libostree's own BLS entries: its default is the first entry, and
// its ostree entries are the BLS entries in libostree's order, so GRUB boots what libostree
// will boot.
func (m *mountedDisk) grubEntries() ([]bootEntry, error) {
	b, err := os.ReadFile(filepath.Join(m.root, "boot", "loader", "grub.cfg"))
	if err != nil {
		return nil, err
	}
	def := ""
	var entries []bootEntry
	inEntry := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "menuentry "):
			title, _, _ := strings.Cut(strings.TrimPrefix(line, "menuentry "), " --")
			entries = append(entries, bootEntry{label: strings.Trim(title, `'"`)})
			inEntry = true
		case line == "}":
			inEntry = false
		case !inEntry && strings.HasPrefix(line, "set default="):
			if v := strings.Trim(strings.TrimPrefix(line, "set default="), `'"`); !strings.Contains(v, "$") {
				def = v
			}
		case inEntry:
			f := strings.Fields(line)
			if len(f) >= 2 && (f[0] == "linux16" || f[0] == "linux" || f[0] == "linuxefi") {
				e := &entries[len(entries)-1]
				e.kernel, e.options = f[1], strings.Join(f[2:], " ")
			}
		}
	}
	var ostreeEntries []bootEntry
	for _, e := range entries {
		if ostreeKarg(e.options) != "" {
			ostreeEntries = append(ostreeEntries, e)
		} else if len(ostreeEntries) == 0 {
			return nil, fmt.Errorf("grub.cfg: entry %q, before libostree's entries, boots no deployment", e.label)
		}
	}
	if len(ostreeEntries) == 0 {
		return nil, errors.New("grub.cfg has no entry with an ostree= argument")
	}
	if def != "0" {
		return nil, fmt.Errorf("grub.cfg: the default entry is %q, want 0 (the deployment libostree boots next)", def)
	}
	bls, err := m.blsOstreeArgs()
	if err != nil {
		return nil, err
	}
	var got []string
	for _, e := range ostreeEntries {
		got = append(got, ostreeKarg(e.options))
	}
	if strings.Join(got, " ") != strings.Join(bls, " ") {
		return nil, fmt.Errorf("grub.cfg boots %v in that order, libostree's boot entries are %v", got, bls)
	}
	return ostreeEntries, nil
}

// blsOstreeArgs returns the ostree= arguments of libostree's BLS entries
// (boot/loader/entries/ostree-N-STATEROOT.conf), in its boot order: highest N first.
func (m *mountedDisk) blsOstreeArgs() ([]string, error) {
	dir := filepath.Join(m.root, "boot", "loader", "entries")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type bls struct {
		n   int
		arg string
	}
	var list []bls
	for _, e := range ents {
		var n int
		if _, err := fmt.Sscanf(e.Name(), "ostree-%d-", &n); err != nil || !strings.HasSuffix(e.Name(), ".conf") {
			return nil, fmt.Errorf("unexpected boot entry %s in %s", e.Name(), dir)
		}
		c, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		entry := bls{n: n}
		for _, l := range strings.Split(string(c), "\n") {
			if v, ok := strings.CutPrefix(l, "options "); ok {
				entry.arg = ostreeKarg(v)
			}
		}
		list = append(list, entry)
	}
	slices.SortFunc(list, func(a, b bls) int { return b.n - a.n })
	var args []string
	for _, e := range list {
		args = append(args, e.arg)
	}
	return args, nil
}

// syslinuxEntries reads boot/loader/syslinux.cfg, whose DEFAULT must be its first entry.
func (m *mountedDisk) syslinuxEntries() ([]bootEntry, error) {
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
