package install

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
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
// read from the image's layers (whiteouts applied), so the image's own paths apply (/etc is
// still /etc here, not /usr/etc as in the imported commit).
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
	// Size is the sum of the layers' uncompressed sizes (an upper bound of the tree's size).
	Size int64
}

// Bootable reports whether the image has a kernel.
func (i *ImageInfo) Bootable() bool { return len(i.Kernels) > 0 }

// HasExtlinux reports whether the image ships what an extlinux installation needs.
func (i *ImageInfo) HasExtlinux() bool { return i.Extlinux != "" && i.GPTMBR }

// scanEntry is a path of interest seen in the layers.
type scanEntry struct {
	typ     byte
	content []byte
	link    string
}

// interesting reports whether the scan keeps track of p.
func interesting(p string) bool {
	if rest, ok := strings.CutPrefix(p, "usr/lib/modules/"); ok {
		kver, file, ok := strings.Cut(rest, "/")
		return ok && kver != "" && file == "vmlinuz"
	}
	for _, base := range installconfig.Bases {
		if strings.HasPrefix(p, base+"/"+installconfig.Subdir+"/") {
			return true
		}
	}
	for _, e := range extlinuxPaths {
		if p == e {
			return true
		}
	}
	return p == gptmbrPath
}

// keepContent reports whether the scan keeps the content of p (install config drop-ins).
func keepContent(p string) bool {
	for _, base := range installconfig.Bases {
		if strings.HasPrefix(p, base+"/"+installconfig.Subdir+"/") {
			return true
		}
	}
	return false
}

// cleanTarPath normalises a layer entry name: no leading "./" or "/", no trailing "/".
func cleanTarPath(name string) string {
	name = strings.TrimPrefix(name, "./")
	name = strings.TrimLeft(name, "/")
	name = strings.TrimSuffix(name, "/")
	if name == "" || name == "." {
		return ""
	}
	return path.Clean(name)
}

// LayerOpener opens the uncompressed tar of layer i.
type LayerOpener func(ctx context.Context, i int) (io.ReadCloser, error)

// ScanLayers reads the layers (base first, n of them) and returns what the installer needs
// to know. arch is the Rust architecture name install configs match against.
func ScanLayers(ctx context.Context, n int, open LayerOpener, arch string) (*ImageInfo, error) {
	seen := map[string]scanEntry{}
	for i := range n {
		if err := scanLayer(ctx, i, open, seen); err != nil {
			return nil, err
		}
	}
	info := &ImageInfo{}
	cfgFS := fstest.MapFS{}
	for p, e := range seen {
		if rest, ok := strings.CutPrefix(p, "usr/lib/modules/"); ok {
			if kver, file, ok := strings.Cut(rest, "/"); ok && file == "vmlinuz" && (e.typ == tar.TypeReg || e.typ == tar.TypeSymlink || e.typ == tar.TypeLink) {
				info.Kernels = append(info.Kernels, kver)
			}
			continue
		}
		if keepContent(p) {
			switch e.typ {
			case tar.TypeReg:
				cfgFS[p] = &fstest.MapFile{Data: e.content, Mode: 0o644}
			case tar.TypeSymlink:
				cfgFS[p] = &fstest.MapFile{Data: []byte(e.link), Mode: fs.ModeSymlink | 0o777}
			case tar.TypeDir:
				cfgFS[p] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
			}
			continue
		}
	}
	for _, p := range extlinuxPaths {
		if e, ok := seen[p]; ok && (e.typ == tar.TypeReg || e.typ == tar.TypeLink || e.typ == tar.TypeSymlink) {
			info.Extlinux = "/" + p
			break
		}
	}
	if e, ok := seen[gptmbrPath]; ok && (e.typ == tar.TypeReg || e.typ == tar.TypeLink || e.typ == tar.TypeSymlink) {
		info.GPTMBR = true
	}
	sort.Strings(info.Kernels)
	cfg, warnings, err := installconfig.Load(cfgFS, arch)
	if err != nil {
		return nil, err
	}
	info.Config, info.ConfigWarnings = cfg, warnings
	return info, nil
}

// scanLayer applies layer i to seen: first its whiteouts (which hide lower layers' entries),
// then its entries.
func scanLayer(ctx context.Context, i int, open LayerOpener, seen map[string]scanEntry) (err error) {
	rc, err := open(ctx, i)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	added := map[string]scanEntry{}
	var removed, opaque []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layer %d: %w", i+1, err)
		}
		p := cleanTarPath(h.Name)
		if p == "" {
			continue
		}
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		if base == ".wh..wh..opq" {
			opaque = append(opaque, dir)
			continue
		}
		if name, ok := strings.CutPrefix(base, ".wh."); ok {
			removed = append(removed, path.Join(dir, name))
			continue
		}
		// A non-directory replaces a directory of a lower layer with everything in it.
		if h.Typeflag != tar.TypeDir {
			removed = append(removed, p)
		}
		if !interesting(p) {
			continue
		}
		e := scanEntry{typ: h.Typeflag, link: h.Linkname}
		if h.Typeflag == tar.TypeReg && keepContent(p) {
			if h.Size > maxScannedFile {
				return fmt.Errorf("layer %d: install config %s is larger than %d bytes", i+1, p, maxScannedFile)
			}
			b, err := io.ReadAll(io.LimitReader(tr, maxScannedFile))
			if err != nil {
				return fmt.Errorf("reading layer %d: %s: %w", i+1, p, err)
			}
			e.content = b
		}
		added[p] = e
	}
	for _, p := range removed {
		for k := range seen {
			if k == p || strings.HasPrefix(k, p+"/") {
				delete(seen, k)
			}
		}
	}
	for _, d := range opaque {
		for k := range seen {
			if d == "" || strings.HasPrefix(k, d+"/") {
				delete(seen, k)
			}
		}
	}
	for p, e := range added {
		seen[p] = e
	}
	return nil
}

// ScanImage reads img's layers from store (see ScanLayers).
func ScanImage(ctx context.Context, store *storage.Store, img *storage.Image, arch string) (*ImageInfo, error) {
	layers := img.Layers()
	info, err := ScanLayers(ctx, len(layers), func(ctx context.Context, i int) (io.ReadCloser, error) {
		return store.LayerDiff(ctx, layers[i])
	}, arch)
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		if l.UncompressedSize > 0 {
			info.Size += l.UncompressedSize
		}
	}
	return info, nil
}
