package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/install/disk"
)

// syslinuxDir is where extlinux is installed on the /boot filesystem; libostree's syslinux
// backend reads and rewrites boot/syslinux/syslinux.cfg.
const syslinuxDir = "syslinux"

// prepareSyslinuxConfig creates what libostree's syslinux backend (2022.7) expects in a
// /boot before its first deployment: it reads boot/syslinux/syslinux.cfg (following the
// symlink to the current boot version's config, which must exist) and writes the next
// boot version's boot/loader.N/syslinux.cfg, then swaps the boot/loader symlink. So:
//
//	boot/loader.0/syslinux.cfg          empty
//	boot/loader -> loader.0
//	boot/syslinux/syslinux.cfg -> ../loader/syslinux.cfg
//
// (the layout of libostree's own tests, setup_os_boot_syslinux).
func prepareSyslinuxConfig(boot string) error {
	if err := os.MkdirAll(filepath.Join(boot, "loader.0"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(boot, "loader.0", "syslinux.cfg"), nil, 0o644); err != nil {
		return err
	}
	if err := os.Symlink("loader.0", filepath.Join(boot, "loader")); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Join(boot, syslinuxDir), 0o755); err != nil {
		return err
	}
	if err := os.Symlink("../loader/syslinux.cfg", filepath.Join(boot, syslinuxDir, "syslinux.cfg")); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// readInRoot reads the file name inside the tree root, resolving symlinks as if root were
// "/" (openat2 RESOLVE_IN_ROOT), so an image's absolute symlinks never reach the host.
func readInRoot(root, name string, limit int64) ([]byte, error) {
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat2(dfd, strings.TrimLeft(name, "/"), &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(root, name), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(root, name))
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// existsInRoot reports whether name exists inside root (symlinks resolved in root).
func existsInRoot(root, name string) bool {
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat2(dfd, strings.TrimLeft(name, "/"), &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// chrootEnv is the environment of programs run from the image.
var chrootEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/root"}

// runInDeployment runs the image's program name (a path inside the tree) chrooted into the
// deployment directory dep, with the host's /dev, /proc and /sys and the target's /boot
// (bootDir) bind-mounted into it for the duration. Every mount is undone before it returns.
func runInDeployment(ctx context.Context, dep, bootDir, name string, args ...string) error {
	return runChrooted(ctx, chrootSpec{dep: dep, boot: bootDir}, name, args...)
}

// chrootSpec is the tree a program of the image runs in.
type chrootSpec struct {
	// dep is the deployment directory, the new root; boot is bound at its /boot.
	dep, boot string
	// sysroot, when set, is the physical root bound at /sysroot, so that the deployment's
	// /ostree symlink leads to the repository and deployments (libostree's tools read them).
	sysroot string
	// env is added to chrootEnv.
	env []string
	// stdout, when set, receives the program's standard output (its standard error goes
	// into the error).
	stdout io.Writer
}

// runChrooted runs the image's program name chrooted into c.dep, which is bound onto
// itself first so that its mount table shows a "/" (GRUB's tools look its device up
// there), with the host's /dev, /proc and /sys and c's /boot and /sysroot bound in. Every
// mount is undone before it returns.
func runChrooted(ctx context.Context, c chrootSpec, name string, args ...string) (err error) {
	binds := [][2]string{{"/dev", "dev"}, {"/proc", "proc"}, {"/sys", "sys"}, {c.boot, "boot"}}
	if c.sysroot != "" {
		binds = append(binds, [2]string{c.sysroot, "sysroot"})
	}
	for _, b := range binds {
		st, err := os.Lstat(filepath.Join(c.dep, b[1]))
		if err != nil || !st.IsDir() {
			return fmt.Errorf("the deployment has no /%s directory to mount on", b[1])
		}
	}
	if !existsInRoot(c.dep, name) {
		return fmt.Errorf("%s: %w", name, os.ErrNotExist)
	}
	var mounts disk.Cleanup
	defer func() {
		if cerr := mounts.Run(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := mounts.Mount(c.dep, c.dep, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	for _, b := range binds {
		if err := mounts.Mount(b[0], filepath.Join(c.dep, b[1]), "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Args[0] = filepath.Base(name)
	cmd.Env = append(append([]string(nil), chrootEnv...), c.env...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: c.dep}
	if c.stdout == nil {
		return disk.RunCommand(cmd, nil)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = c.stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running %s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// extlinuxInstall installs extlinux into boot/syslinux of the /boot filesystem mounted at
// bootDir, with the image's extlinux run in a chroot of the deployment dep. When the image's
// extlinux cannot be run, the host's is used with a warning. device, when known, is the
// block device of /boot (passed as --device).
func (in *installer) extlinuxInstall(ctx context.Context, dep, bootDir, device string) error {
	args := []string{"--install", "/boot/" + syslinuxDir}
	if device != "" {
		args = append(args, "--device", device)
	}
	name := in.info.Extlinux
	var imageErr error
	if name == "" {
		imageErr = errors.New("the image has no extlinux")
	} else {
		imageErr = runInDeployment(ctx, dep, bootDir, name, args...)
		if imageErr == nil {
			return nil
		}
		if ctx.Err() != nil {
			return imageErr
		}
	}
	host, err := exec.LookPath("extlinux")
	if err != nil {
		return fmt.Errorf("running the image's extlinux: %w (and the host has no extlinux)", imageErr)
	}
	in.opts.Log.Warn().Err(imageErr).Msg("cannot run the image's extlinux; using the host's")
	in.opts.printf("Warning: using the host's %s: %v\n", host, imageErr)
	hostArgs := []string{"--install", filepath.Join(bootDir, syslinuxDir)}
	if device != "" {
		hostArgs = append(hostArgs, "--device", device)
	}
	return disk.RunCommand(exec.CommandContext(ctx, host, hostArgs...), nil)
}

// gptMBR returns syslinux's gptmbr.bin from the deployment dep, else from the host with a
// warning.
func (in *installer) gptMBR(dep string) ([]byte, error) {
	b, err := readInRoot(dep, gptmbrPath, 4096)
	if err == nil {
		if len(b) > 440 {
			return nil, fmt.Errorf("%s is %d bytes, more than the 440 bytes of MBR boot code", gptmbrPath, len(b))
		}
		return b, nil
	}
	hb, herr := os.ReadFile("/" + gptmbrPath)
	if herr != nil || len(hb) > 440 {
		return nil, fmt.Errorf("reading the image's %s: %w", gptmbrPath, err)
	}
	in.opts.printf("Warning: using the host's /%s: %v\n", gptmbrPath, err)
	return hb, nil
}
