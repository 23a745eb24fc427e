package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/bootc-go/bootc/internal/kargs"
)

// modulesDir holds one directory per kernel version.
const modulesDir = "usr/lib/modules"

// ukiDir holds unified kernel images, relative to the root.
const ukiDir = "boot/EFI/Linux"

// MultipleKernelsError says an image has more than one kernel.
type MultipleKernelsError struct {
	// Dirs are the kernel directories found (relative to the root).
	Dirs []string
}

// Error is upstream's message.
func (e *MultipleKernelsError) Error() string {
	return "Found multiple subdirectories in " + modulesDir
}

// KernelDir returns the kernel directory of the tree at root (relative, such as
// "usr/lib/modules/6.1.0-18-amd64"): the one subdirectory of usr/lib/modules holding a
// vmlinuz. It returns "" when there is none and a *MultipleKernelsError when there is
// more than one.
func KernelDir(root *os.Root) (string, error) {
	entries, err := fs.ReadDir(rootFS{root}, modulesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading /%s: %w", modulesDir, err)
	}
	var found []string
	for _, e := range entries {
		if !e.IsDir() || !utf8.ValidString(e.Name()) {
			continue
		}
		dir := path.Join(modulesDir, e.Name())
		if _, err := stat(root, path.Join(dir, "vmlinuz")); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return "", fmt.Errorf("stat /%s/vmlinuz: %w", dir, err)
		}
		found = append(found, dir)
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", &MultipleKernelsError{Dirs: found}
}

// Kernel is the kernel of a container image, as `bootc container inspect` shows it.
type Kernel struct {
	// Version is the kernel version (the usr/lib/modules directory name) or, for a UKI,
	// the file name without .efi.
	Version string `json:"version" yaml:"version"`
	// Unified says the kernel is a unified kernel image (boot/EFI/Linux/*.efi).
	Unified bool `json:"unified" yaml:"unified"`
}

// FindKernel returns the kernel of the tree at root, nil when it has none: the first
// (by name) boot/EFI/Linux/*.efi, else the usr/lib/modules directory with a vmlinuz.
func FindKernel(root *os.Root) (*Kernel, error) {
	entries, err := fs.ReadDir(rootFS{root}, ukiDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading /%s: %w", ukiDir, err)
	}
	var ukis []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".efi") {
			ukis = append(ukis, e.Name())
		}
	}
	if len(ukis) > 0 {
		slices.Sort(ukis)
		return &Kernel{Version: strings.TrimSuffix(ukis[0], ".efi"), Unified: true}, nil
	}
	dir, err := KernelDir(root)
	if err != nil || dir == "" {
		return nil, err
	}
	return &Kernel{Version: path.Base(dir)}, nil
}

// Inspection is what `bootc container inspect` reports about an image's root.
type Inspection struct {
	// Kargs are the kernel arguments of /usr/lib/bootc/kargs.d that apply to this
	// architecture, in order.
	Kargs []string `json:"kargs" yaml:"kargs"`
	// Kernel is the image's kernel, nil when it has none.
	Kernel *Kernel `json:"kernel" yaml:"kernel"`
}

// Inspect reads the kernel arguments (kargs.d, for arch in Rust spelling; "" for this
// binary's) and the kernel of the tree at rootfs.
func Inspect(rootfs, arch string) (*Inspection, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, fmt.Errorf("opening root %s: %w", rootfs, err)
	}
	defer root.Close()
	if arch == "" {
		arch = kargs.Arch
	}
	args, _, err := kargs.Load(rootFS{root}, arch)
	if err != nil {
		return nil, fmt.Errorf("kernel arguments of %s: %w", rootfs, err)
	}
	in := &Inspection{Kargs: []string{}}
	for _, a := range args {
		in.Kargs = append(in.Kargs, string(a))
	}
	if in.Kernel, err = FindKernel(root); err != nil {
		return nil, fmt.Errorf("kernel of %s: %w", rootfs, err)
	}
	return in, nil
}
