package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"testing/fstest"

	"github.com/bootc-go/bootc/internal/installconfig"
	"github.com/bootc-go/bootc/storage"
)

// maxScannedFile bounds what the scan keeps of one install config file.
const maxScannedFile = 1 << 20

// extlinuxPaths are where an image may ship the extlinux installer.
var extlinuxPaths = []string{"usr/sbin/extlinux", "usr/bin/extlinux", "sbin/extlinux", "bin/extlinux"}

// gptmbrPath is syslinux's MBR boot code for GPT disks (Debian's syslinux-common).
const gptmbrPath = "usr/lib/syslinux/mbr/gptmbr.bin"

// ImageInfo is what the installer needs to know about an image before it writes anything:
// whether it is bootable, its install configuration and which boot tools it ships. It is
// read from the pulled image mounted read-only, so the image's own paths apply (/etc is still
// /etc here, not /usr/etc as in the imported commit).
type ImageInfo struct {
	// Kernels are the kernel versions with a usr/lib/modules/VERSION/vmlinuz.
	Kernels []string
	// Config is the merged install configuration for this architecture (nil: none).
	Config *installconfig.Config
	// ConfigWarnings name unknown keys ignored in the install configuration.
	ConfigWarnings []string
	// Extlinux is the path of the extlinux installer in the image ("" if none).
	Extlinux string
	// GPTMBR is set when the image has syslinux's gptmbr.bin.
	GPTMBR bool
	// Grub is what the image ships of GRUB.
	Grub GrubFiles
	// Size is the sum of the layers' uncompressed sizes (an upper bound of the tree's size).
	Size int64
}

// Bootable reports whether the image has a kernel.
func (i *ImageInfo) Bootable() bool { return len(i.Kernels) > 0 }

// HasExtlinux reports whether the image ships what an extlinux installation needs.
func (i *ImageInfo) HasExtlinux() bool { return i.Extlinux != "" && i.GPTMBR }

// ScanFS reads what the installer needs to know from an image's merged root filesystem
// (a read-only mount of the pulled image, where the layers' whiteouts are already applied).
// arch is the Rust architecture name install configs match against.
func ScanFS(fsys fs.FS, arch string) (*ImageInfo, error) {
	info := &ImageInfo{}
	kernels, err := fs.Glob(fsys, "usr/lib/modules/*/vmlinuz")
	if err != nil {
		return nil, err
	}
	for _, k := range kernels {
		if present(fsys, k) {
			info.Kernels = append(info.Kernels, path.Base(path.Dir(k)))
		}
	}
	sort.Strings(info.Kernels)
	for _, p := range extlinuxPaths {
		if present(fsys, p) {
			info.Extlinux = "/" + p
			break
		}
	}
	info.GPTMBR = present(fsys, gptmbrPath)
	info.Grub = scanGrub(fsys)
	cfgFS := fstest.MapFS{}
	for _, base := range installconfig.Bases {
		dir := base + "/" + installconfig.Subdir
		ents, err := fs.ReadDir(fsys, dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("reading %s: %w", dir, err)
		}
		for _, e := range ents {
			p := dir + "/" + e.Name()
			switch {
			case e.Type()&fs.ModeSymlink != 0:
				target, err := fs.ReadLink(fsys, p)
				if err != nil {
					return nil, fmt.Errorf("reading %s: %w", p, err)
				}
				cfgFS[p] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
			case e.Type().IsRegular():
				data, err := readBounded(fsys, p)
				if err != nil {
					return nil, err
				}
				cfgFS[p] = &fstest.MapFile{Data: data, Mode: 0o644}
			case e.IsDir():
				cfgFS[p] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
			}
		}
	}
	cfg, warnings, err := installconfig.Load(cfgFS, arch)
	if err != nil {
		return nil, err
	}
	info.Config, info.ConfigWarnings = cfg, warnings
	return info, nil
}

// present reports whether p exists in fsys as a regular file or a symlink (not followed:
// an absolute target would point into the host).
func present(fsys fs.FS, p string) bool {
	fi, err := fs.Lstat(fsys, p)
	return err == nil && (fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0)
}

// readBounded reads an install config file of at most maxScannedFile bytes.
func readBounded(fsys fs.FS, p string) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxScannedFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(b) > maxScannedFile {
		return nil, fmt.Errorf("install config %s is larger than %d bytes", p, maxScannedFile)
	}
	return b, nil
}

// ScanImage mounts img read-only from store and scans it (see ScanFS). Size is the sum of
// the layers' uncompressed sizes.
func ScanImage(ctx context.Context, store *storage.Store, img *storage.Image, arch string) (info *ImageInfo, err error) {
	dir, unmount, err := store.MountImage(ctx, img.ID)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, unmount()) }()
	info, err = ScanFS(os.DirFS(dir), arch)
	if err != nil {
		return nil, err
	}
	for _, l := range img.Layers() {
		if l.UncompressedSize > 0 {
			info.Size += l.UncompressedSize
		}
	}
	return info, nil
}
