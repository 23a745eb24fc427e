package storage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	cstorage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"
)

// PutImageSpec describes an image whose content is already on this machine, to be recorded
// in the store without downloading anything (see (*Store).PutImage).
type PutImageSpec struct {
	// Name is the image's name in the store (e.g. quay.io/x/y:tag).
	Name string
	// ManifestDigest, Manifest, ConfigDigest and Config are the image's, as served.
	ManifestDigest digest.Digest
	Manifest       []byte
	ConfigDigest   digest.Digest
	Config         []byte
	// Layers are the image's layers, base first.
	Layers []PutLayer
}

// PutLayer is one layer of a PutImageSpec.
type PutLayer struct {
	// Digest is the blob digest in the manifest; DiffID the uncompressed digest.
	Digest, DiffID digest.Digest
	// TarSplit is the layer's tar-split (JSON lines as tar-split's JSON packer writes
	// them): the exact tar headers, so that the layer read back from the store is byte for
	// byte the original tar. Nil when unknown: the store must then already have the layer.
	TarSplit []byte
	// Resolve gives a file holding the content of the regular-file entry name (as written
	// in the tar). It is hardlinked into the layer when its owner, mode and extended
	// attributes are the entry's, and copied otherwise.
	Resolve func(name string) (path string, err error)
}

// ChainID is the layer ID containers/image gives the layer with diffID on top of parent
// ("" for a base layer), so that layers made here are the ones it reuses.
func ChainID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	return digest.Canonical.FromString(parent + "+" + diffID.Encoded()).Encoded()
}

// PutImage records spec's image in the store: each layer the store lacks is made from its
// tar-split, its regular files hardlinked from Resolve's files where their metadata agree
// (copied otherwise, or across filesystems), under the layer ID containers/image would use;
// then the image with the big-data items containers/image writes (config, manifest), named
// spec.Name and marked as pulled by bootc. Existing layers and an existing image are reused.
// It reports whether it created the image. On failure, the layers it made are removed.
func (s *Store) PutImage(ctx context.Context, spec PutImageSpec) (*Image, bool, error) {
	if err := s.check(ctx); err != nil {
		return nil, false, err
	}
	var created []string
	ok := false
	defer func() {
		if ok {
			return
		}
		for _, id := range slices.Backward(created) {
			if err := s.store.DeleteLayer(id); err != nil {
				s.log.Warn().Err(err).Str("layer", id).Msg("removing a layer of an image that could not be stored")
			}
		}
	}()
	parent := ""
	for i, l := range spec.Layers {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		id := ChainID(parent, l.DiffID)
		if _, err := s.store.Layer(id); err == nil {
			parent = id
			continue
		}
		if l.TarSplit == nil || l.Resolve == nil {
			return nil, false, fmt.Errorf("storing %s: layer %d (%s) is not in containers-storage and no tar-split is recorded: %w", spec.Name, i+1, l.Digest, ErrNotRebuildable)
		}
		if err := s.putLayer(ctx, id, parent, l); err != nil {
			return nil, false, fmt.Errorf("storing %s: layer %d (%s): %w", spec.Name, i+1, l.Digest, err)
		}
		created = append(created, id)
		parent = id
	}
	img, made, err := s.putImageRecord(spec, parent)
	if err != nil {
		return nil, false, err
	}
	ok = true
	return img, made, nil
}

// putImageRecord creates (or names) the image whose top layer is top.
func (s *Store) putImageRecord(spec PutImageSpec, top string) (*Image, bool, error) {
	id := spec.ConfigDigest.Encoded()
	opts := &cstorage.ImageOptions{BigData: []cstorage.ImageBigDataOption{
		{Key: spec.ConfigDigest.String(), Data: spec.Config, Digest: digest.Canonical.FromBytes(spec.Config)},
		{Key: cstorage.ImageDigestManifestBigDataNamePrefix + "-" + spec.ManifestDigest.String(), Data: spec.Manifest, Digest: spec.ManifestDigest},
		{Key: cstorage.ImageDigestBigDataKey, Data: spec.Manifest, Digest: spec.ManifestDigest},
	}}
	if cfg, err := parseOCIConfig(spec.Config); err == nil && cfg.Created != nil {
		opts.CreationDate = *cfg.Created
	}
	made := true
	simg, err := s.store.CreateImage(id, nil, top, "", opts)
	if errors.Is(err, cstorage.ErrDuplicateID) {
		made = false
		if simg, err = s.store.Image(id); err == nil && simg.TopLayer != top {
			return nil, false, fmt.Errorf("storing %s: image %s exists with other layers", spec.Name, id)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("storing %s: creating image %s: %w", spec.Name, id, err)
	}
	if made {
		if err := s.markPulled(id, spec.Name); err != nil {
			_, _ = s.store.DeleteImage(id, false)
			return nil, false, err
		}
	}
	if spec.Name != "" {
		if err := s.store.AddNames(id, []string{spec.Name}); err != nil {
			return nil, false, fmt.Errorf("storing %s: naming image %s: %w", spec.Name, id, err)
		}
	}
	if simg, err = s.store.Image(id); err != nil {
		return nil, false, fmt.Errorf("storing %s: image %s: %w", spec.Name, id, err)
	}
	img, err := s.loadImage(simg)
	return img, made, err
}

// putLayer makes layer id on parent through containers-storage's staged-layer API.
func (s *Store) putLayer(ctx context.Context, id, parent string, l PutLayer) error {
	d := &linkDiffer{ctx: ctx, layer: l}
	out, err := s.store.PrepareStagedLayer(nil, d)
	if err != nil {
		if out != nil && out.Target != "" {
			_ = s.store.CleanupStagedLayer(out)
		}
		return err
	}
	ts, err := os.CreateTemp(s.tempDir, "tar-split-")
	if err != nil {
		_ = s.store.CleanupStagedLayer(out)
		return err
	}
	os.Remove(ts.Name())
	if _, err := ts.Write(l.TarSplit); err != nil {
		ts.Close()
		_ = s.store.CleanupStagedLayer(out)
		return err
	}
	out.TarSplit = ts
	out.CompressedDigest, out.UncompressedDigest = l.Digest, l.DiffID
	if _, err := s.store.ApplyStagedLayer(cstorage.ApplyStagedLayerOptions{ID: id, ParentLayer: parent,
		DiffOutput: out, DiffOptions: &drivers.ApplyDiffWithDifferOpts{}}); err != nil {
		_ = s.store.CleanupStagedLayer(out)
		return err
	}
	s.log.Debug().Str("layer", id).Str("diffID", l.DiffID.String()).Int("linked", d.linked).Int("copied", d.copied).Msg("layer rebuilt from local files")
	return nil
}

// linkDiffer is a containers-storage Differ that builds a layer directory from a tar-split
// and files already on disk.
type linkDiffer struct {
	ctx            context.Context
	layer          PutLayer
	linked, copied int
}

// Close implements drivers.Differ.
func (d *linkDiffer) Close() error { return nil }

// ApplyDiff implements drivers.Differ: it creates dest's entries as containers-storage's
// overlay ApplyDiff would from the tar (whiteouts as 0/0 character devices, opaque
// directories with trusted.overlay.opaque).
func (d *linkDiffer) ApplyDiff(dest string, options *archive.TarOptions, _ *drivers.DifferOptions) (drivers.DriverWithDifferOutput, error) {
	var out drivers.DriverWithDifferOutput
	if options != nil && options.WhiteoutFormat != archive.OverlayWhiteoutFormat {
		return out, fmt.Errorf("the graph driver's whiteout format is not overlay's")
	}
	tr := tar.NewReader(&headerStream{u: tsstorage.NewJSONUnpacker(bytes.NewReader(d.layer.TarSplit))})
	uids, gids := map[uint32]bool{}, map[uint32]bool{}
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	var size int64
	for {
		if err := d.ctx.Err(); err != nil {
			return out, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("reading the layer's tar-split: %w", err)
		}
		name := cleanName(hdr.Name)
		size += hdr.Size
		if name == "" {
			if hdr.Typeflag == tar.TypeDir {
				m := os.FileMode(hdr.Mode) & os.ModePerm
				out.RootDirMode = &m
			}
			continue
		}
		if strings.Contains("/"+name+"/", "/../") {
			return out, fmt.Errorf("entry %q escapes the layer", hdr.Name)
		}
		p := filepath.Join(dest, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return out, err
		}
		uids[uint32(hdr.Uid)], gids[uint32(hdr.Gid)] = true, true
		base := filepath.Base(name)
		switch {
		case base == archive.WhiteoutOpaqueDir:
			if err := unix.Lsetxattr(filepath.Dir(p), "trusted.overlay.opaque", []byte{'y'}, 0); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
			continue
		case strings.HasPrefix(base, archive.WhiteoutPrefix):
			wp := filepath.Join(filepath.Dir(p), strings.TrimPrefix(base, archive.WhiteoutPrefix))
			if err := unix.Mknod(wp, unix.S_IFCHR, 0); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
			if err := os.Lchown(wp, hdr.Uid, hdr.Gid); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return out, err
			}
			if err := setMeta(p, hdr); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
			dirs = append(dirs, dirTime{p, hdr.ModTime})
			continue
		case tar.TypeReg, tar.TypeRegA:
			if err := d.regular(p, name, hdr); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
			continue
		case tar.TypeLink:
			target := cleanName(hdr.Linkname)
			if target == "" || strings.Contains("/"+target+"/", "/../") {
				return out, fmt.Errorf("hardlink %s -> %q escapes the layer", name, hdr.Linkname)
			}
			if err := os.Link(filepath.Join(dest, target), p); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
			continue
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, p); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			mode := uint32(hdr.Mode & 0o7777)
			switch hdr.Typeflag {
			case tar.TypeChar:
				mode |= unix.S_IFCHR
			case tar.TypeBlock:
				mode |= unix.S_IFBLK
			default:
				mode |= unix.S_IFIFO
			}
			if err := unix.Mknod(p, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
		default:
			return out, fmt.Errorf("%s: tar entry type %q is not supported", name, hdr.Typeflag)
		}
		if err := setMeta(p, hdr); err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, dt := range slices.Backward(dirs) {
		_ = os.Chtimes(dt.path, dt.t, dt.t)
	}
	out.Size = size
	for u := range uids {
		out.UIDs = append(out.UIDs, u)
	}
	for g := range gids {
		out.GIDs = append(out.GIDs, g)
	}
	slices.Sort(out.UIDs)
	slices.Sort(out.GIDs)
	return out, nil
}

// regular creates regular file p (entry name): a hardlink of the resolved file when its
// size, owner, mode and xattrs are the entry's, else a copy with the entry's metadata.
func (d *linkDiffer) regular(p, name string, hdr *tar.Header) error {
	if hdr.Size == 0 {
		if src, err := d.layer.Resolve(name); err == nil && sameMeta(src, hdr) && os.Link(src, p) == nil {
			d.linked++
			return nil
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		f.Close()
		d.copied++
		return setMeta(p, hdr)
	}
	src, err := d.layer.Resolve(name)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotRebuildable, err)
	}
	if sameMeta(src, hdr) {
		err := os.Link(src, p)
		if err == nil {
			d.linked++
			return nil
		}
		if !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EMLINK) {
			return err
		}
	}
	if err := copyContent(src, p, hdr.Size); err != nil {
		return err
	}
	d.copied++
	return setMeta(p, hdr)
}

// copyContent copies src (which must have size bytes) to a new file p.
func copyContent(src, p string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("%s has %d bytes, the layer says %d", src, n, size)
	}
	return err
}

// sameMeta reports whether the file at src has hdr's size, owner, mode and extended
// attributes (compared as sets: a filesystem keeps no order).
func sameMeta(src string, hdr *tar.Header) bool {
	var st unix.Stat_t
	if unix.Lstat(src, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	if st.Size != hdr.Size || int(st.Uid) != hdr.Uid || int(st.Gid) != hdr.Gid || int64(st.Mode&0o7777) != hdr.Mode&0o7777 {
		return false
	}
	want := headerXattrs(hdr)
	got, err := fileXattrs(src)
	if err != nil || len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// headerXattrs are the extended attributes a tar entry carries (PAX SCHILY.xattr.).
func headerXattrs(hdr *tar.Header) map[string]string {
	out := map[string]string{}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			out[name] = v
		}
	}
	return out
}

// fileXattrs reads all extended attributes of path (not following a symlink).
func fileXattrs(path string) (map[string]string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(path, buf)
	for errors.Is(err, unix.ERANGE) {
		buf = make([]byte, 2*len(buf))
		n, err = unix.Llistxattr(path, buf)
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		val := make([]byte, 256)
		m, err := unix.Lgetxattr(path, name, val)
		for errors.Is(err, unix.ERANGE) {
			val = make([]byte, 2*len(val))
			m, err = unix.Lgetxattr(path, name, val)
		}
		if err != nil {
			return nil, err
		}
		out[name] = string(val[:m])
	}
	return out, nil
}

// setMeta gives p (just created) hdr's owner, mode, xattrs and modification time.
func setMeta(p string, hdr *tar.Header) error {
	if err := os.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	for k, v := range headerXattrs(hdr) {
		if err := unix.Lsetxattr(p, k, []byte(v), 0); err != nil {
			return fmt.Errorf("setting xattr %s: %w", k, err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// After chown, which clears setuid/setgid bits.
		if err := unix.Chmod(p, uint32(hdr.Mode&0o7777)); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if hdr.AccessTime.Unix() > 0 {
		ts[0] = unix.NsecToTimespec(hdr.AccessTime.UnixNano())
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// cleanName normalises a tar entry name: no leading "./" or "/", no trailing "/".
func cleanName(name string) string {
	name = filepath.Clean("/" + name)
	return strings.TrimPrefix(name, "/")
}

// headerStream replays a tar-split as a tar stream whose file contents are zeros: enough
// for archive/tar to read every header, without reading any content.
type headerStream struct {
	u    tsstorage.Unpacker
	buf  []byte
	zero int64
}

var zeros = make([]byte, 64<<10)

func (h *headerStream) Read(p []byte) (int, error) {
	for len(h.buf) == 0 && h.zero == 0 {
		e, err := h.u.Next()
		if err != nil {
			return 0, err
		}
		switch e.Type {
		case tsstorage.SegmentType:
			h.buf = e.Payload
		case tsstorage.FileType:
			h.zero = e.Size
		}
	}
	if len(h.buf) > 0 {
		n := copy(p, h.buf)
		h.buf = h.buf[n:]
		return n, nil
	}
	n := int(min(int64(len(p)), h.zero, int64(len(zeros))))
	copy(p[:n], zeros)
	h.zero -= int64(n)
	return n, nil
}

var _ drivers.Differ = (*linkDiffer)(nil)
