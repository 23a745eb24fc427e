package install

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/storage/pkg/ioutils"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/ostree"
)

// Aleph is the install provenance written to AlephFile.
type Aleph struct {
	// Digest is the installed image's manifest digest.
	Digest string
	// Image is the image installed from ("" leaves it out, as for a temporary path).
	Image string
	// TargetImage is the image the installed system follows.
	TargetImage string
	// Config is the image's configuration (labels, version, creation time), if known.
	Config *imgspecv1.Image
}

// WriteAleph writes AlephFile at the root of the physical root filesystem root, with
// upstream's fields.
func WriteAleph(root string, al Aleph) error {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	a := map[string]any{
		"digest":       al.Digest,
		"target-image": al.TargetImage,
		"kernel":       unix.ByteSliceToString(uts.Release[:]),
		"selinux":      "disabled",
		"version":      nil,
		"timestamp":    nil,
	}
	if al.Image != "" {
		a["image"] = al.Image
	}
	if c := al.Config; c != nil {
		if len(c.Config.Labels) > 0 {
			a["labels"] = c.Config.Labels
			if v := c.Config.Labels["org.opencontainers.image.version"]; v != "" {
				a["version"] = v
			}
		}
		if c.Created != nil {
			a["timestamp"] = c.Created.UTC().Format(time.RFC3339)
		}
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return ioutils.AtomicWriteFile(filepath.Join(root, AlephFile), b, 0o644)
}

// FinalizeResult is what Finalize checked and did.
type FinalizeResult struct {
	// Deployments is the number of deployments found, each with its boot entry, kernel
	// and initramfs.
	Deployments int
	// Aleph is set when the root has bootc's install provenance (AlephFile).
	Aleph bool
	// Synced lists the filesystems synced; ReadOnly those remounted read-only.
	Synced, ReadOnly []string
}

// Finalize is `bootc install finalize ROOT`, the penultimate step of an install split
// into phases (to-filesystem --skip-finalize, then the caller's own changes, then this):
// it checks that the mounted root ROOT holds an ostree sysroot with at least one
// deployment (upstream's check), that each deployment has its boot entry under
// ROOT/boot/loader/entries and that the kernel and initramfs the entry names are there;
// then, as to-filesystem does without --skip-finalize, it trims and syncs ROOT (and a
// separate ROOT/boot) and remounts them read-only unless remount is false. A root that is
// not a mount point is synced but not remounted; the running system's root filesystem is
// refused.
func Finalize(ctx context.Context, root string, remount bool, out io.Writer) (*FinalizeResult, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("install finalize: %w", err)
	}
	root = abs
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("install finalize: target: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("install finalize: %s is not a directory", root)
	}
	if same, err := sameFilesystem(root, "/"); err != nil {
		return nil, fmt.Errorf("install finalize: %w", err)
	} else if same {
		return nil, fmt.Errorf("install finalize: %s is on the running system's root filesystem; give the mounted root of the installed system", root)
	}
	if _, err := os.Stat(filepath.Join(root, "ostree/repo")); err != nil {
		return nil, fmt.Errorf("install finalize: %s is not an ostree sysroot (no ostree/repo): install to it first (bootc install to-filesystem)", root)
	}
	res := &FinalizeResult{}
	if err := checkDeployments(ctx, root, res); err != nil {
		return nil, fmt.Errorf("install finalize: %w", err)
	}
	if _, err := os.Stat(filepath.Join(root, AlephFile)); err == nil {
		res.Aleph = true
	} else if out != nil {
		fmt.Fprintf(out, "Note: %s has no %s (not installed by bootc install; bootc install ensure-completion completes such an install)\n", root, AlephFile)
	}

	dirs := []string{root}
	bootDir := filepath.Join(root, "boot")
	if mp, err := isMountPoint(bootDir); err == nil && mp {
		dirs = []string{bootDir, root}
	}
	for _, p := range dirs {
		if err := trimAndSync(p); err != nil {
			return nil, fmt.Errorf("install finalize: %w", err)
		}
		res.Synced = append(res.Synced, p)
	}
	if !remount {
		return res, nil
	}
	for _, p := range dirs {
		mp, err := isMountPoint(p)
		if err != nil {
			return nil, fmt.Errorf("install finalize: %w", err)
		}
		if !mp {
			continue
		}
		if err := remountReadOnly(p); err != nil {
			return nil, fmt.Errorf("install finalize: remounting %s read-only: %w", p, err)
		}
		res.ReadOnly = append(res.ReadOnly, p)
	}
	return res, nil
}

// checkDeployments loads the sysroot at root and checks each deployment's boot entry.
func checkDeployments(ctx context.Context, root string, res *FinalizeResult) error {
	sr, err := ostree.OpenSysroot(root)
	if err != nil {
		return err
	}
	defer sr.Close()
	if err := sr.Load(ctx); err != nil {
		return err
	}
	ds, err := sr.Deployments()
	if err != nil {
		return err
	}
	defer func() {
		for _, d := range ds {
			d.Close()
		}
	}()
	if len(ds) == 0 {
		// Upstream's message; libostree lists the deployments of the boot entries.
		entries := filepath.Join(root, "boot/loader/entries")
		if conf, _ := filepath.Glob(filepath.Join(entries, "*.conf")); len(conf) == 0 {
			return fmt.Errorf("Failed to find deployment in %s: no boot entries in %s", root, entries)
		}
		return fmt.Errorf("Failed to find deployment in %s", root)
	}
	entries, err := readBootEntries(filepath.Join(root, "boot/loader/entries"))
	if err != nil {
		return err
	}
	for _, d := range ds {
		name := fmt.Sprintf("deployment %s.%d (stateroot %s)", d.Checksum, d.Serial, d.Stateroot)
		suffix := fmt.Sprintf("/%s/%s/%d", d.Stateroot, d.BootChecksum, d.BootSerial)
		var e *bootEntry
		for i := range entries {
			if strings.HasSuffix(entries[i].ostreeArg, suffix) {
				e = &entries[i]
				break
			}
		}
		if e == nil {
			return fmt.Errorf("%s has no boot entry in %s", name, filepath.Join(root, "boot/loader/entries"))
		}
		for _, k := range []string{"linux", "initrd"} {
			p := e.keys[k]
			if p == "" {
				if k == "linux" {
					return fmt.Errorf("boot entry %s of %s names no kernel", e.path, name)
				}
				continue
			}
			if !existsUnder(root, p) {
				return fmt.Errorf("boot entry %s of %s: %s %s is missing from %s", e.path, name, k, p, filepath.Join(root, "boot"))
			}
		}
	}
	res.Deployments = len(ds)
	return nil
}

// bootEntry is a BLS entry file.
type bootEntry struct {
	path      string
	keys      map[string]string
	ostreeArg string
}

// readBootEntries reads the *.conf files of dir.
func readBootEntries(dir string) ([]bootEntry, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no boot entries: %s is missing", dir)
		}
	}
	var out []bootEntry
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			return nil, err
		}
		e := bootEntry{path: n, keys: map[string]string{}}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
			if k == "" || strings.HasPrefix(k, "#") {
				continue
			}
			e.keys[k] = strings.TrimSpace(v)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", n, err)
		}
		for _, a := range strings.Fields(e.keys["options"]) {
			if v, ok := strings.CutPrefix(a, "ostree="); ok {
				e.ostreeArg = v
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// existsUnder reports whether the boot entry path p (relative to the /boot filesystem, or
// with a /boot prefix when /boot is on the root filesystem) names a file under root.
func existsUnder(root, p string) bool {
	for _, c := range []string{filepath.Join(root, "boot", p), filepath.Join(root, p)} {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	return false
}
