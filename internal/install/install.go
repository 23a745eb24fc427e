package install

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"go.podman.io/storage/pkg/ioutils"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/boundimage"
	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/installconfig"
	"github.com/bootc-go/bootc/internal/kargs"
	"github.com/bootc-go/bootc/internal/progress"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/storage"
)

// DefaultMountDir is where ToDisk mounts the filesystems it creates.
const DefaultMountDir = "/run/bootc/mounts"

// AlephFile is the install provenance file written at the root of the physical root
// filesystem (upstream's name and fields).
const AlephFile = ".bootc-aleph.json"

// RootSSHTmpfile is the tmpfiles.d drop-in (in the deployment's /etc/tmpfiles.d) that
// installs root's authorized_keys at boot, as upstream names it.
const RootSSHTmpfile = "bootc-root-ssh.conf"

// bootFilesystem is the filesystem ToDisk puts on /boot (extlinux reads it).
const bootFilesystem = "ext4"

// rootSizeSlack is added to the image's size when checking that a root partition can
// hold it: filesystem metadata, the journal, the deployment's /etc copy.
const rootSizeSlack = 128 * disk.MiB

// installer holds the state of one install: its options with every default resolved (the
// architecture included), what to undo at the end, the store, and, once the image is
// pulled, the plan.
type installer struct {
	opts Options
	// cleanup undoes everything in reverse order: mounts, loop devices, the pulled image,
	// the store.
	cleanup disk.Cleanup
	store   *storage.Store
	// plan is set once, whole, by prepare; nothing changes it afterwards.
	*plan
}

// plan is what an install decides before it writes anything: the pulled image and what its
// scan found, the install configuration, the stateroot and the bootloader.
type plan struct {
	img        *storage.Image
	info       *ImageInfo
	cfg        *installconfig.Config
	stateroot  string
	bootloader Bootloader
}

// newInstaller resolves the defaults of o (a copy: the caller's options stay as given).
func newInstaller(o Options) *installer {
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.Import.Rules == (importer.PathRules{}) {
		o.Import.Rules = importer.DefaultRules()
	}
	if o.Import.Architecture == "" {
		o.Import.Architecture = o.Arch
	}
	if o.Pull.Architecture == "" {
		o.Pull.Architecture = o.Arch
	}
	return &installer{opts: o}
}

// finish runs the cleanup and joins its errors to err.
func (in *installer) finish(err error) error {
	if cerr := in.cleanup.Run(); cerr != nil {
		return errors.Join(err, fmt.Errorf("install: cleaning up: %w", cerr))
	}
	return err
}

func (in *installer) reporter() progress.Reporter {
	if in.opts.Progress == nil {
		return progress.Nop{}
	}
	return in.opts.Progress
}

// prepare pulls the source image into the store, reads what the install needs from it
// (kernel, install configuration, boot tools) and makes the plan, before anything is
// written to the target. It refuses an image that is not bootable.
func (in *installer) prepare(ctx context.Context) error {
	o := &in.opts
	src := o.Source.Imgref.String()
	if o.Store == nil {
		return errors.New("install: no containers-storage store configured")
	}
	store, err := o.Store(ctx)
	if err != nil {
		return fmt.Errorf("install: opening containers-storage: %w", err)
	}
	in.store = store
	in.cleanup.Push("close containers-storage", store.Close)
	po, err := deploy.PullOptionsFor(o.Source, o.Pull)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	before, err := store.Images(ctx)
	if err != nil {
		return fmt.Errorf("install: pulling %s: %w", src, err)
	}
	rep := in.reporter()
	rep.Start(progress.Task{Name: progress.TaskPulling, Description: "Pulling " + src})
	po.Progress = func(ev storage.ProgressEvent) {
		if ev.Layer < 0 {
			return
		}
		switch ev.Kind {
		case storage.ProgressBytes, storage.ProgressDone:
			rep.Bytes(progress.Subtask{Kind: progress.SubtaskLayer, ID: ev.Digest.String(),
				Description: "layer " + ev.Digest.Encoded()[:12]}, ev.Fetched, uint64(max(ev.Total, 0)))
		}
		// containers-storage applies a fetched layer (seconds for a large one) before it
		// reports it done.
		switch ev.Kind {
		case storage.ProgressApplying, storage.ProgressDone:
			progress.Status(rep, applyingStatus(ev), uint64(max(ev.Total, 0)), ev.Kind == storage.ProgressApplying)
		}
	}
	img, err := store.Pull(ctx, po)
	if err != nil {
		return fmt.Errorf("install: pulling %s: %w", src, err)
	}
	rep.Done()
	if !slices.ContainsFunc(before, func(s storage.ImageSummary) bool { return s.ID == img.ID }) {
		// The install pulled it only to install it: leave the store as it was.
		in.cleanup.Push("remove image "+img.ID+" from containers-storage", func() error {
			return store.Delete(context.WithoutCancel(ctx), img.ID)
		})
	}
	if err := img.CheckArchitecture(in.opts.Arch); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	info, err := ScanImage(ctx, store, img, kargs.RustArch(in.opts.Arch))
	if err != nil {
		return fmt.Errorf("install: reading %s: %w", src, err)
	}
	if !info.Bootable() {
		return fmt.Errorf("install: image %s is not bootable: it has no kernel (usr/lib/modules/VERSION/vmlinuz)", src)
	}
	for _, w := range info.ConfigWarnings {
		o.Log.Warn().Msg("install config: " + w)
	}
	p := &plan{img: img, info: info, cfg: info.Config, stateroot: o.Stateroot}
	if p.cfg == nil {
		p.cfg = &installconfig.Config{}
	}
	if p.stateroot == "" {
		p.stateroot = p.cfg.StaterootName()
	}
	if err := checkStateroot(p.stateroot); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if p.bootloader, err = chooseBootloader(o, info, p.cfg); err != nil {
		return err
	}
	in.plan = p
	return nil
}

// checkStateroot refuses stateroot names that are not a single path component.
func checkStateroot(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || strings.TrimSpace(name) != name {
		return fmt.Errorf("invalid stateroot name %q", name)
	}
	return nil
}

// chooseBootloader resolves --bootloader, the install config's bootloader and what the image
// ships into the bootloader to install, and refuses one that cannot be installed.
func chooseBootloader(o *Options, info *ImageInfo, cfg *installconfig.Config) (Bootloader, error) {
	b := o.Bootloader
	if b == BootloaderAuto && cfg.Bootloader != nil {
		switch v := *cfg.Bootloader; v {
		case installconfig.BootloaderNone:
			b = BootloaderNone
		case installconfig.BootloaderGrub:
			b = BootloaderGrub
		default:
			o.Log.Warn().Str("bootloader", string(v)).Msg("the install configuration asks for a bootloader this installer does not support; detecting one in the image")
		}
	}
	switch b {
	case BootloaderAuto:
		switch {
		case info.Grub.Usable():
			b = BootloaderGrub
		case info.HasExtlinux():
			b = BootloaderExtlinux
		default:
			return "", fmt.Errorf("install: image %s ships no bootloader this installer supports (GRUB: it lacks %s; extlinux: it lacks extlinux or syslinux's /%s); use --bootloader none to install without one",
				o.Source.Imgref, info.Grub.Missing(), gptmbrPath)
		}
	case BootloaderGrub:
		if m := info.Grub.Missing(); m != "" {
			return "", fmt.Errorf("install: --bootloader grub: image %s lacks %s", o.Source.Imgref, m)
		}
	case BootloaderExtlinux:
		if !info.HasExtlinux() {
			_, errX := os.Stat("/" + gptmbrPath)
			if _, err := lookPathHost("extlinux"); err != nil || errX != nil {
				return "", fmt.Errorf("install: --bootloader extlinux: image %s has no extlinux and syslinux's %s, and neither has the host", o.Source.Imgref, gptmbrPath)
			}
			o.printf("Warning: image %s does not ship extlinux and syslinux's %s; the host's will be used\n", o.Source.Imgref, gptmbrPath)
		}
	}
	return b, nil
}

// rootSetup describes the mounted target.
type rootSetup struct {
	// path is the physical root's mount point.
	path string
	// rootSpec is the root= mount spec ("" omits root arguments).
	rootSpec string
	// rootArgs go with rootSpec (rootflags=, rd.* inherited from the running kernel).
	rootArgs []string
	// bootSpec is the /boot mount spec for fstab and boot= ("" omits both).
	bootSpec string
	// bootFSType is the /boot filesystem type for fstab.
	bootFSType string
	// bootSeparate is set when /boot is its own filesystem.
	bootSeparate bool
	// bootDevice is the block device of /boot ("" when unknown).
	bootDevice string
}

// installed is the result of installRoot.
type installed struct {
	deployment string         // deployment directory
	mbr        []byte         // MBR boot code to install (extlinux)
	grub       *grubInstalled // what GRUB needs written outside the filesystems
	digest     string
}

// repoConfig is the ostree repo configuration of a new sysroot: upstream's
// DEFAULT_REPO_CONFIG with the chosen bootloader, plus the install configuration's
// [install.ostree] settings.
func (in *installer) repoConfig() [][2]string {
	// With GRUB the install writes its first menu itself and then switches to grub2 (see
	// installGrub): libostree's grub2 backend would run grub-mkconfig chrooted into the
	// deployment without /dev, /proc and /sys.
	bl := "none"
	if in.bootloader == BootloaderExtlinux {
		bl = "syslinux"
	}
	cfg := [][2]string{
		{"sysroot.bootloader", bl},
		// As upstream. libostree 2022.7 does not know it (it writes /ostree/... paths
		// in the BLS entries and /boot/ostree/... in syslinux.cfg, and makes a
		// boot -> . symlink in /boot so both resolve on a separate /boot); later
		// versions prefix the BLS paths with /boot, which that symlink also resolves.
		{"sysroot.bootprefix", "true"},
		// Read by ostree-prepare-root (2022.7 supports it): /sysroot is mounted read-only.
		{"sysroot.readonly", "true"},
	}
	for _, kv := range in.cfg.Ostree.ConfigTuples() {
		cfg = append(cfg, kv)
	}
	return cfg
}

// applyingStatus is the status shown while containers-storage applies the layer of ev.
func applyingStatus(ev storage.ProgressEvent) progress.Subtask {
	return progress.Subtask{Kind: progress.StatusApplying, ID: ev.Digest.String(),
		Description: fmt.Sprintf("Applying layer %s:%s… (%s)", ev.Digest.Algorithm(), ev.Digest.Encoded()[:12], progress.HumanBytes(uint64(max(ev.Total, 0))))}
}

// fillTargetStore puts the installed image into the installed system's own
// containers-storage store (its stateroot's /var/lib/containers/storage), with the layer
// files hardlinked from the new repository, so that podman on the installed host sees the
// image it runs; the deployment does not need it, so a failure there is a warning. It then
// pulls the image's logically bound images into that store, which the installed system
// does need: a failure there fails the install.
func (in *installer) fillTargetStore(ctx context.Context, repo *ostree.Repo, s rootSetup, f *deploy.Fetched) error {
	cfs, err := deploy.NewCommitFS(ctx, repo, f.Import.Commit)
	if err != nil {
		return err
	}
	defer cfs.Close()
	bound, err := boundimage.List(cfs)
	if err != nil {
		return err
	}
	root := storage.SysrootStoreRoot(s.path, in.stateroot)
	store, err := storage.Open(ctx, storage.Options{Root: root, RunRoot: storage.DerivedRunRoot(root), Driver: "overlay"})
	if err != nil && len(bound) > 0 {
		return fmt.Errorf("opening the installed system's containers-storage for its bound images: %w", err)
	} else if err != nil {
		in.opts.printf("Warning: not keeping the image in the installed system's containers-storage: %v\n", err)
		return nil
	}
	defer store.Close()
	if _, _, err := deploy.KeepInStore(ctx, store, repo, f, in.opts.Import.Rules); err != nil {
		in.opts.printf("Warning: not keeping the image in the installed system's containers-storage: %v\n", err)
	}
	if len(bound) > 0 {
		in.opts.printf("Fetching %d bound images\n", len(bound))
		if _, err := deploy.PullBound(ctx, store, cfs, in.opts.Pull); err != nil {
			return err
		}
	}
	return nil
}

// installRoot is the to-filesystem flow on a mounted, empty root: ostree sysroot and repo,
// stateroot, image import, deployment with kernel arguments and origin, /etc/fstab, root's
// SSH keys, bootloader.
func (in *installer) installRoot(ctx context.Context, s rootSetup) (*installed, error) {
	o := &in.opts
	src := o.Source.Imgref.String()
	bootDir := filepath.Join(s.path, "boot")
	if err := os.MkdirAll(bootDir, 0o755); err != nil {
		return nil, fmt.Errorf("install: initializing the ostree sysroot in %s: %w", s.path, err)
	}
	sr, err := ostree.OpenSysroot(s.path)
	if err != nil {
		return nil, fmt.Errorf("install: initializing the ostree sysroot in %s: %w", s.path, err)
	}
	defer sr.Close()
	if err := sr.EnsureInitialized(ctx); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if err := in.writeRepoConfig(ctx, s); err != nil {
		return nil, fmt.Errorf("install: configuring the ostree repository: %w", err)
	}
	if in.bootloader == BootloaderExtlinux {
		if err := prepareSyslinuxConfig(bootDir); err != nil {
			return nil, fmt.Errorf("install: preparing %s for extlinux: %w", bootDir, err)
		}
	}
	if err := sr.Load(ctx); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if got, err := sr.TryLock(); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	} else if !got {
		return nil, fmt.Errorf("install: the sysroot %s is locked by another process", s.path)
	}
	if _, err := os.Stat(filepath.Join(s.path, "ostree/deploy", in.stateroot)); errors.Is(err, os.ErrNotExist) {
		if err := sr.InitStateroot(ctx, in.stateroot); err != nil {
			return nil, fmt.Errorf("install: %w", err)
		}
	}
	repo, err := sr.Repo(ctx)
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	defer repo.Close()
	// As upstream: no fsync per object during the import; everything is synced at the end.
	_ = repo.SetDisableFsync(true)
	o.printf("Importing %s\n", src)
	// The image pulled (and scanned) at the start is imported from the store in place: the
	// install reads every layer once.
	f, err := deploy.Fetch(ctx, in.store, repo, o.Source, deploy.FetchOptions{Pull: o.Pull, Import: o.Import,
		Progress: o.Progress, FromStoreImage: in.img.ID, Sysroot: s.path})
	if err != nil {
		return nil, fmt.Errorf("install: importing %s: %w", src, err)
	}
	_ = repo.SetDisableFsync(false)
	digest := f.ManifestDigest
	commit := f.Import.Commit
	if err := in.fillTargetStore(ctx, repo, s, f); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}

	args, err := in.kernelArgs(ctx, repo, commit, s)
	if err != nil {
		return nil, fmt.Errorf("install: kernel arguments: %w", err)
	}
	o.printf("Deploying %s\n", commit)
	d, err := sr.DeployTree(ctx, ostree.DeployOptions{Stateroot: in.stateroot, Revision: commit, Origin: deploy.NewOrigin(o.Target), KernelArgs: args})
	if err != nil {
		return nil, fmt.Errorf("install: deploying: %w", err)
	}
	defer d.Close()
	if err := sr.WriteDeployments(ctx, []*ostree.Deployment{d}, ostree.WriteOptions{NoCleanup: true}); err != nil {
		return nil, fmt.Errorf("install: writing the boot entries: %w", err)
	}
	// The deployment refs keep the installed commit from any later prune by refs.
	if err := sr.PrepareCleanup(ctx); err != nil {
		return nil, fmt.Errorf("install: writing the deployment refs: %w", err)
	}
	dep := sr.DeploymentPath(d)
	res := &installed{deployment: dep, digest: digest}
	if err := in.configureDeployment(s, dep); err != nil {
		return nil, fmt.Errorf("install: configuring the deployment: %w", err)
	}
	if _, err := os.Stat(filepath.Join(s.path, "ostree/deploy", in.stateroot, "var")); err != nil {
		return nil, fmt.Errorf("install: stateroot %s has no var directory: %w", in.stateroot, err)
	}
	if in.bootloader == BootloaderExtlinux {
		o.printf("Installing extlinux to %s\n", filepath.Join(bootDir, syslinuxDir))
		if err := in.extlinuxInstall(ctx, dep, bootDir, s.bootDevice); err != nil {
			return nil, fmt.Errorf("install: installing the bootloader: %w", err)
		}
		if res.mbr, err = in.gptMBR(dep); err != nil {
			return nil, fmt.Errorf("install: installing the bootloader: %w", err)
		}
	}
	if in.bootloader == BootloaderGrub {
		o.printf("Installing GRUB to %s\n", filepath.Join(bootDir, grubDir))
		if res.grub, err = in.installGrub(ctx, dep, s); err != nil {
			return nil, fmt.Errorf("install: installing the bootloader: %w", err)
		}
		if err := repo.SetConfig("sysroot", "bootloader", "grub2"); err != nil {
			return nil, fmt.Errorf("install: installing the bootloader: %w", err)
		}
	}
	if err := in.writeAleph(s.path, f); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	return res, nil
}

// writeRepoConfig sets the new repository's configuration.
func (in *installer) writeRepoConfig(ctx context.Context, s rootSetup) error {
	repo, err := ostree.OpenRepo(ctx, filepath.Join(s.path, "ostree/repo"))
	if err != nil {
		return err
	}
	defer repo.Close()
	for _, kv := range in.repoConfig() {
		group, key, ok := strings.Cut(kv[0], ".")
		if !ok {
			return fmt.Errorf("invalid repo config key %q", kv[0])
		}
		if err := repo.SetConfig(group, key, kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// kernelArgs computes the new deployment's kernel arguments as upstream: root filesystem
// arguments (root=, rw, boot=), install config kargs, the image's kargs.d, deletions,
// then --karg.
func (in *installer) kernelArgs(ctx context.Context, repo *ostree.Repo, commit string, s rootSetup) ([]string, error) {
	cfs, err := deploy.NewCommitFS(ctx, repo, commit)
	if err != nil {
		return nil, err
	}
	defer cfs.Close()
	kargsd, _, err := kargs.Load(cfs, kargs.RustArch(in.opts.Arch))
	if err != nil {
		return nil, err
	}
	cl := kargs.ForInstall(kargs.InstallSources{
		Root:          kargs.RootMountArgs(s.rootSpec, s.rootArgs, s.bootSpec),
		Config:        in.cfg.Kargs,
		Kargsd:        kargsd,
		ConfigDeletes: in.cfg.KargDeletes,
		Deletes:       in.opts.KargDeletes,
		CLI:           in.opts.Kargs,
	})
	out := cl.Strings()
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// configureDeployment writes the /boot line of the deployment's /etc/fstab and root's SSH
// keys.
func (in *installer) configureDeployment(s rootSetup, dep string) error {
	etc := filepath.Join(dep, "etc")
	if s.bootSeparate && s.bootSpec != "" {
		fstype := s.bootFSType
		if fstype == "" {
			fstype = "auto"
		}
		// A separate /boot must be mounted for libostree to write new boot entries there
		// (extlinux reads them from the /boot filesystem).
		line := fmt.Sprintf("%s /boot %s defaults 1 2\n", s.bootSpec, fstype)
		if err := ioutils.AtomicWriteFile(filepath.Join(etc, "fstab"), []byte(line), 0o644); err != nil {
			return err
		}
	}
	if in.opts.RootSSHAuthorizedKeys != "" {
		if err := injectRootSSHKeys(dep, in.opts.RootSSHAuthorizedKeys); err != nil {
			return fmt.Errorf("injecting root's authorized_keys: %w", err)
		}
		in.opts.printf("Injected: etc/tmpfiles.d/%s\n", RootSSHTmpfile)
	}
	return nil
}

// RootSSHTmpfileLine is the tmpfiles.d line installing keys as root's authorized_keys in
// the tree at dep (/root resolved when it is a symlink, e.g. to var/roothome), as upstream
// writes it.
func RootSSHTmpfileLine(dep, keys string) (string, error) {
	rootPath := "root"
	if st, err := os.Lstat(filepath.Join(dep, "root")); err == nil && st.Mode()&os.ModeSymlink != 0 {
		t, err := os.Readlink(filepath.Join(dep, "root"))
		if err != nil {
			return "", err
		}
		rootPath = strings.TrimLeft(t, "/")
	}
	return fmt.Sprintf("f~ /%s/.ssh/authorized_keys 600 root root - %s\n", rootPath,
		base64.StdEncoding.EncodeToString([]byte(keys))), nil
}

func injectRootSSHKeys(dep, keys string) error {
	line, err := RootSSHTmpfileLine(dep, keys)
	if err != nil {
		return err
	}
	dir := filepath.Join(dep, "etc/tmpfiles.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return ioutils.AtomicWriteFile(filepath.Join(dir, RootSSHTmpfile), []byte(line), 0o644)
}

// writeAleph writes the install provenance (upstream's .bootc-aleph.json fields).
func (in *installer) writeAleph(root string, f *deploy.Fetched) error {
	a := Aleph{Digest: f.ManifestDigest, TargetImage: in.opts.Target.Imgref.Name, Config: f.Config}
	if !strings.HasPrefix(in.opts.Source.Imgref.Name, "/tmp") {
		a.Image = in.opts.Source.Imgref.Name
	}
	return WriteAleph(root, a)
}

// fitrim is FITRIM (_IOWR('X', 121, struct fstrim_range)).
const fitrim = 0xc0185879

// trimAndSync discards the unused blocks of the filesystem mounted at path (keeping a
// sparse disk image sparse) and syncs it. Filesystems without discard support are only
// synced.
func trimAndSync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rng := struct{ start, len, minlen uint64 }{0, ^uint64(0), 0}
	_, _, _ = unix.Syscall(unix.SYS_IOCTL, f.Fd(), fitrim, uintptr(unsafe.Pointer(&rng)))
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return nil
}

// lookPathHost finds a program in the host's PATH.
var lookPathHost = exec.LookPath
