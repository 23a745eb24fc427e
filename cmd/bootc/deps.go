package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/install"
	"github.com/bootc-go/bootc/internal/progress"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/storage"
)

// BootedMarker exists on a system booted from an ostree deployment.
const BootedMarker = "/run/ostree-booted"

// Deps are what verbs need from the outside world; tests build their own.
type Deps struct {
	Ctx        context.Context
	Out, Err   io.Writer
	Log        zerolog.Logger
	IsRoot     bool
	IsTerminal bool
	// Env reads environment variables.
	Env func(string) string
	// RunDir is where reboot-required is written on a booted host (default /run).
	RunDir string
	// Reboot is what --apply reads of the running system, and the reboot itself.
	Reboot RebootDeps
	// BootedMarker is the file whose existence says the running system is booted from an
	// ostree deployment ("": BootedMarker).
	BootedMarker string
}

// bootedMarker is the booted marker's path.
func (d *Deps) bootedMarker() string {
	if d.BootedMarker == "" {
		return BootedMarker
	}
	return d.BootedMarker
}

// booted reports whether the running system is booted from an ostree deployment: the one
// place that reads the booted marker.
func (d *Deps) booted() bool {
	_, err := os.Stat(d.bootedMarker())
	return err == nil
}

func (d *Deps) env(k string) string {
	if d.Env == nil {
		return ""
	}
	return d.Env(k)
}

// requireRoot is the check every mutating verb starts with.
func (d *Deps) requireRoot(verb string) error {
	if !d.IsRoot {
		return fmt.Errorf("bootc %s requires root privileges (run it with sudo or as root)", verb)
	}
	return nil
}

// sysrootPath returns the sysroot to operate on: --sysroot, or / on a booted ostree system.
func (d *Deps) sysrootPath(g *Globals) (string, error) {
	if g.Sysroot != "" {
		return g.Sysroot, nil
	}
	if !d.booted() {
		return "", fmt.Errorf("this system is not booted from an ostree deployment (%s is missing); use --sysroot DIR to operate on an offline sysroot", d.bootedMarker())
	}
	return "/", nil
}

// hostOptions tune openHost for a verb.
type hostOptions struct {
	quiet      bool
	progressFD int
}

// openHost opens the sysroot (loaded), its repository and, lazily, the store.
func (d *Deps) openHost(g *Globals, o hostOptions) (*deploy.Host, func(), error) {
	path, err := d.sysrootPath(g)
	if err != nil {
		return nil, nil, err
	}
	ctx := d.Ctx
	sr, err := ostree.OpenSysroot(path)
	if err != nil {
		return nil, nil, err
	}
	if d.env(unsharedEnv) != "" {
		sr.SetMountNamespaceInUse()
	}
	if err := sr.Load(ctx); err != nil {
		sr.Close()
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s is not an ostree sysroot: %w", path, err)
		}
		return nil, nil, err
	}
	repo, err := sr.Repo(ctx)
	if err != nil {
		sr.Close()
		return nil, nil, err
	}
	if err := useGrubGenerator(sr, repo, path); err != nil {
		repo.Close()
		sr.Close()
		return nil, nil, err
	}
	sinks, err := progress.Setup(d.Err, o.quiet, o.progressFD)
	if err != nil {
		repo.Close()
		sr.Close()
		return nil, nil, err
	}
	storageRoot := g.StorageRoot
	viaSysroot := false
	var pull storage.PullOptions
	if storageRoot == "" && d.env(storage.EnvStorageRoot) == "" {
		storageRoot = defaultStoreRoot(g, path, sr)
		viaSysroot = g.Sysroot == "" && storageRoot != ""
		if g.Sysroot != "" {
			// The cache is the sysroot's; a containers-storage: image is still podman's.
			spec, err := storage.HostStoreSpec()
			if err != nil {
				_ = sinks.Close()
				repo.Close()
				sr.Close()
				return nil, nil, err
			}
			pull.SourceStore = spec
		}
	}
	runDir := d.RunDir
	if runDir == "" {
		runDir = "/run"
	}
	h := &deploy.Host{
		Sysroot: sr, Repo: repo, RunDir: runDir, Progress: sinks.Reporter,
		Import: importer.Options{Rules: importer.DefaultRules()},
		Pull:   pull,
		Store: func(ctx context.Context) (*storage.Store, error) {
			s, err := storage.Open(ctx, storage.Options{Root: storageRoot, Log: d.Log})
			if err != nil && viaSysroot && errors.Is(err, unix.EROFS) {
				// /sysroot not writable here: the host's store by its usual path (its
				// files are then copies of the repository's, not links).
				d.Log.Debug().Err(err).Msg("opening the store through /sysroot")
				return storage.Open(ctx, storage.Options{Log: d.Log})
			}
			return s, err
		},
		OnLockWait: func() {
			fmt.Fprintln(d.Err, "Waiting for the sysroot lock: another bootc or ostree process is changing the system...")
		},
	}
	closeAll := func() {
		if err := h.Close(); err != nil {
			d.Log.Warn().Err(err).Msg("closing containers-storage")
		}
		_ = sinks.Close()
		repo.Close()
		sr.Close()
	}
	return h, closeAll, nil
}

// defaultStoreRoot is the store bootc keeps images in when none is named: for an offline
// sysroot, the cache it will use once booted (its stateroot's /var/lib/containers/storage,
// on the repo's filesystem, so that the store's layer files can share inodes with the
// repo's objects); on a booted host, the host's store reached through /sysroot (the same
// directory as /var/lib/containers/storage, but on the repo's mount: a hardlink cannot cross
// the /var bind mount). "" means storage.conf's.
func defaultStoreRoot(g *Globals, path string, sr *ostree.Sysroot) string {
	stateroot := sysrootStateroot(sr)
	if g.Sysroot != "" {
		return storage.SysrootStoreRoot(path, stateroot)
	}
	var viaSysroot, viaVar unix.Stat_t
	if unix.Stat(filepath.Join("/sysroot/ostree/deploy", stateroot, "var"), &viaSysroot) != nil ||
		unix.Stat("/var", &viaVar) != nil || viaSysroot.Dev != viaVar.Dev || viaSysroot.Ino != viaVar.Ino {
		return ""
	}
	return storage.SysrootStoreRoot("/sysroot", stateroot)
}

// sysrootStateroot is the stateroot new deployments of sr go to: the booted one's, else
// the one of its first deployment, else deploy.DefaultStateroot.
func sysrootStateroot(sr *ostree.Sysroot) string {
	if b := sr.Booted(); b != nil {
		defer b.Close()
		return b.Stateroot
	}
	ds, err := sr.Deployments()
	if err != nil {
		return deploy.DefaultStateroot
	}
	stateroot := deploy.DefaultStateroot
	if len(ds) > 0 {
		stateroot = ds[0].Stateroot
	}
	for _, d := range ds {
		d.Close()
	}
	return stateroot
}

// oneLine folds an error message onto one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// useGrubGenerator makes this binary libostree's GRUB menu generator for an offline
// sysroot whose bootloader is GRUB (see install.UseGrubMenuGenerator).
func useGrubGenerator(sr *ostree.Sysroot, repo *ostree.Repo, path string) error {
	if sr.Booted() != nil {
		return nil
	}
	if bl, _, err := repo.Config("sysroot", "bootloader"); err != nil || bl != "grub2" {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary to write the GRUB menu of %s: %w", path, err)
	}
	return install.UseGrubMenuGenerator(self, path)
}
