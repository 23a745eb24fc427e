package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/kargs"
	"github.com/bootc-go/bootc/ostree"
)

// ResetOptions control Reset.
type ResetOptions struct {
	// Target is the image of the new deployment (nil: the booted one's).
	Target *imgref.OstreeImageReference
	// Stateroot names the new stateroot (empty: s<year>-<n>, the first n free).
	Stateroot string
	// Kargs are added to the kernel arguments.
	Kargs []string
	// NoRootKargs leaves out the root filesystem arguments inherited from the booted
	// deployment (root=, rootflags=, rootfstype=, rd.*, rw/ro, boot=).
	NoRootKargs bool
}

// Reset is upstream's `bootc install reset`, a non-destructive factory reset: a fresh
// deployment of the booted image (or opts.Target) in a new stateroot, with /etc as the image
// ships it and an empty /var, made the default (staged on a booted host). The kernel
// arguments are the image's kargs.d, the booted deployment's root filesystem arguments and
// opts.Kargs; the booted /etc/fstab's /boot line is carried over. The old stateroot stays on
// disk, and its deployment stays in the boot menu as the rollback.
func (h *Host) Reset(ctx context.Context, opts ResetOptions) (*Outcome, error) {
	ds, err := h.lockClassified(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Sysroot.Unlock()
	if ds.Booted == nil {
		return nil, errors.New("no deployment to reset from: the sysroot has none (use bootc install)")
	}
	target := opts.Target
	if target == nil {
		if target, err = ImageRefOf(ds.Booted); err != nil {
			return nil, err
		}
		if target == nil {
			return nil, errors.New("the booted deployment has no container image reference; name the image with --target-imgref")
		}
	}
	stateroot := opts.Stateroot
	deployDir := filepath.Join(h.Sysroot.Path(), "ostree/deploy")
	if stateroot == "" {
		if stateroot, err = nextStateroot(deployDir, time.Now().Year()); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(deployDir, stateroot)); err == nil {
		return nil, fmt.Errorf("stateroot %s exists already; choose another --stateroot", stateroot)
	}
	store, err := h.openStore(ctx)
	if err != nil {
		return nil, err
	}
	f, err := Fetch(ctx, store, h.Repo, *target, FetchOptions{Pull: h.Pull, Import: h.Import, Progress: h.Progress,
		Sysroot: h.Sysroot.Path()})
	if err != nil {
		return nil, err
	}
	cfs, err := NewCommitFS(ctx, h.Repo, f.Import.Commit)
	if err != nil {
		return nil, err
	}
	cl, _, err := kargs.Load(cfs, kargs.Arch)
	cfs.Close()
	if err != nil {
		return nil, err
	}
	if !opts.NoRootKargs {
		cl.Extend(rootKargs(kargs.Parse(ds.Booted.BootOptions)))
	}
	for _, a := range opts.Kargs {
		cl.Extend(kargs.Parse(a))
	}
	out := &Outcome{Target: *target, Stateroot: stateroot, Fetched: f, Digest: f.ManifestDigest, Version: f.Version()}
	if out.BoundFetched, err = h.pullBound(ctx, store, f.Import.Commit); err != nil {
		return out, err
	}
	fstab, err := bootFstabLines(filepath.Join(h.Sysroot.DeploymentPath(ds.Booted), "etc/fstab"))
	if err != nil {
		return out, err
	}
	if err := h.Sysroot.InitStateroot(ctx, stateroot); err != nil {
		return out, err
	}
	d, err := h.writeDeployment(ctx, ds, ostree.DeployOptions{Stateroot: stateroot, Revision: f.Import.Commit,
		Origin: NewOrigin(*target), KernelArgs: nonNilStrings(cl.Strings())})
	if err != nil {
		return out, err
	}
	if fstab != "" {
		p := filepath.Join(h.Sysroot.DeploymentPath(d), "etc/fstab")
		old, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return out, err
		}
		if err := os.WriteFile(p, append(old, fstab...), 0o644); err != nil {
			return out, fmt.Errorf("carrying /boot over to the new deployment's /etc/fstab: %w", err)
		}
	}
	h.keepDeployedInStore(ctx, store, f)
	h.rebootRequired(f.ManifestDigest)
	out.Result, out.Changed, out.Staged = ResultReset, true, d
	return out, nil
}

// nextStateroot is upstream's name for a new stateroot: s<year>-<n>, n the first free.
func nextStateroot(deployDir string, year int) (string, error) {
	for n := 0; ; n++ {
		name := fmt.Sprintf("s%d-%d", year, n)
		if _, err := os.Lstat(filepath.Join(deployDir, name)); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		} else if err != nil {
			return "", err
		}
	}
}

// rootKargs are the arguments of cl that configure the root filesystem and its mount.
func rootKargs(cl kargs.Cmdline) kargs.Cmdline {
	var out kargs.Cmdline
	for _, a := range cl {
		switch k := a.Key(); {
		case k == "root" || k == "rootflags" || k == "rootfstype" || k == "rw" || k == "ro" || k == "boot",
			strings.HasPrefix(k, "rd."):
			out = append(out, a)
		}
	}
	return out
}

// bootFstabLines returns the lines of the fstab at path that mount /boot or below it.
func bootFstabLines(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && !strings.HasPrefix(fields[0], "#") && (fields[1] == "/boot" || strings.HasPrefix(fields[1], "/boot/")) {
			b.WriteString(sc.Text() + "\n")
		}
	}
	return b.String(), sc.Err()
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
