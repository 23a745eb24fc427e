// Package encapsulate writes ostree-native (encapsulated) container images from an ostree
// commit, for tests: the format upstream ostree-ext's encapsulation writes (tar format
// version 1, bare-split-xattrs objects under sysroot/ostree/repo/, the checkout as
// hardlinks to them), with its labels and annotations, into an OCI layout.
//
// Layers, as upstream orders them: first the commit layer (the repository skeleton, the
// commit and its detached metadata, every dirtree and dirmeta object with the checkout's
// directories, and the content objects of no chunk), then one layer per chunk holding its
// content objects and their hardlinks. The config label ostree.final-diffid names the last
// of them. Every entry has mtime 0 and a fixed order, and blobs are gzip without a
// timestamp: the same commit gives the same blobs, and a chunk whose objects did not
// change keeps its digest.
package encapsulate

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/storage/storagetest"
	digest "github.com/opencontainers/go-digest"
	imgspecs "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Options control Encapsulate.
type Options struct {
	// Chunks is the number of chunk layers after the commit layer (0: the commit layer
	// holds every object, as upstream does without content metadata).
	Chunks int
	// ChunkOf assigns a content object, by the first path it has in the tree (e.g.
	// "usr/bin/sh"), to a chunk 0..Chunks-1, or -1 for the commit layer. The default
	// hashes the path's directory.
	ChunkOf func(path string) int
	// Labels are added to the config labels (and manifest annotations).
	Labels map[string]string
	// Architecture defaults to runtime.GOARCH.
	Architecture string
	// Uncompressed writes plain tar layers instead of gzip.
	Uncompressed bool
}

// Image is an image Encapsulate wrote.
type Image struct {
	// Dir and Tag are the OCI layout and the tag.
	Dir, Tag string
	// Commit is the encapsulated commit.
	Commit         string
	ManifestDigest digest.Digest
	Manifest       []byte
	Config         []byte
	// Layers are the layer descriptors; DiffIDs their uncompressed digests.
	Layers  []imgspecv1.Descriptor
	DiffIDs []digest.Digest
	// ChunkObjects counts the content objects of each layer (index 0: the commit layer).
	ChunkObjects []int
}

// Reference returns "oci:DIR:TAG".
func (i *Image) Reference() string { return "oci:" + i.Dir + ":" + i.Tag }

const repoDir = "sysroot/ostree/repo"

// sysrootMarker stands for the commit's own sysroot directory in the walk: its objects
// are written, not its checkout.
const sysrootMarker = "\x00sysroot"

const repoConfig = "[core]\nrepo_version=1\nmode=bare-split-xattrs\n"

type object struct {
	checksum string
	paths    []string
	file     *ostree.FileObject
	xattrs   []byte
}

type writer struct {
	ctx     context.Context
	repo    *ostree.Repo
	tw      *tar.Writer
	written map[string]bool // metadata objects already in this layer
}

var epoch = time.Unix(0, 0)

func objectPath(checksum, ext string) string {
	return fmt.Sprintf("%s/objects/%s/%s.%s", repoDir, checksum[:2], checksum[2:], ext)
}

// tarPath maps a tree path to the tar path as upstream's v1 writer does (usr/etc -> etc).
func tarPath(p string) string {
	if p == "usr/etc" || strings.HasPrefix(p, "usr/etc/") {
		return strings.TrimPrefix(p, "usr/")
	}
	return p
}

func (w *writer) dir(name string, uid, gid, mode uint32) error {
	return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Uid: int(uid), Gid: int(gid),
		Mode: int64(mode & 07777), ModTime: epoch, Format: tar.FormatGNU})
}

func (w *writer) data(name string, b []byte) error {
	if err := w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)),
		ModTime: epoch, Format: tar.FormatGNU}); err != nil {
		return err
	}
	_, err := w.tw.Write(b)
	return err
}

func (w *writer) repoStructure() error {
	for _, d := range []string{"sysroot", "sysroot/ostree", repoDir, repoDir + "/objects"} {
		if err := w.dir(d, 0, 0, 0o755); err != nil {
			return err
		}
	}
	for i := 0; i < 256; i++ {
		if err := w.dir(fmt.Sprintf("%s/objects/%02x", repoDir, i), 0, 0, 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{"extensions", "refs", "refs/heads", "refs/mirrors", "refs/remotes", "state", "tmp", "tmp/cache"} {
		if err := w.dir(repoDir+"/"+d, 0, 0, 0o755); err != nil {
			return err
		}
	}
	return w.data(repoDir+"/config", []byte(repoConfig))
}

func (w *writer) metaObject(typ ostree.ObjectType, checksum string) error {
	key := typ.String() + checksum
	if w.written[key] {
		return nil
	}
	w.written[key] = true
	b, err := w.repo.LoadObjectBytes(w.ctx, typ, checksum)
	if err != nil {
		return err
	}
	return w.data(objectPath(checksum, typ.String()), b)
}

// content writes a content object (its xattrs link first, as upstream does: the xattrs
// themselves as a regular file) and its hardlinks.
func (w *writer) content(o *object) error {
	if err := w.data(objectPath(o.checksum, "file-xattrs-link"), o.xattrs); err != nil {
		return err
	}
	f := o.file
	hdr := &tar.Header{Name: objectPath(o.checksum, "file"), Uid: int(f.UID), Gid: int(f.GID),
		Mode: int64(f.Mode & 07777), ModTime: epoch, Format: tar.FormatPAX}
	xattrs, err := parseXattrs(o.xattrs)
	if err != nil {
		return fmt.Errorf("file object %s: %w", o.checksum, err)
	}
	for _, x := range xattrs {
		if x[0] == "security.selinux" {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+x[0]] = x[1]
	}
	if f.IsSymlink() {
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = f.Target
	} else {
		hdr.Typeflag = tar.TypeReg
		hdr.Size = f.Size
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !f.IsSymlink() {
		if _, err := w.tw.Write(f.Content); err != nil {
			return err
		}
	}
	for _, p := range o.paths {
		link := &tar.Header{Name: tarPath(p), Uid: hdr.Uid, Gid: hdr.Gid, Mode: hdr.Mode, ModTime: epoch, Format: tar.FormatGNU}
		if !f.IsSymlink() && f.Size == 0 {
			link.Typeflag = tar.TypeReg // upstream writes empty files, not links to them
		} else {
			link.Typeflag = tar.TypeLink
			link.Linkname = hdr.Name
		}
		if err := w.tw.WriteHeader(link); err != nil {
			return err
		}
	}
	return nil
}

// parseXattrs decodes a serialized a(ayay) (name, value pairs; names NUL-terminated).
func parseXattrs(b []byte) ([][2]string, error) {
	// Array of variable-size (ayay) elements: framing offsets at the end, each of the
	// width chosen by the array's size.
	if len(b) == 0 {
		return nil, nil
	}
	w := offsetSize(len(b))
	last := readOffset(b[len(b)-w:], w)
	if last > len(b) {
		return nil, errors.New("bad a(ayay) framing")
	}
	n := (len(b) - last) / w
	var out [][2]string
	start := 0
	for i := 0; i < n; i++ {
		end := readOffset(b[last+i*w:last+(i+1)*w], w)
		if end > last || end < start {
			return nil, errors.New("bad a(ayay) element offsets")
		}
		el := b[start:end]
		// (ayay): first ay variable-size, not last: one framing offset at the end.
		ew := offsetSize(len(el))
		if len(el) < ew {
			return nil, errors.New("bad (ayay) element")
		}
		nameEnd := readOffset(el[len(el)-ew:], ew)
		if nameEnd > len(el)-ew {
			return nil, errors.New("bad (ayay) offsets")
		}
		name := strings.TrimSuffix(string(el[:nameEnd]), "\x00")
		out = append(out, [2]string{name, string(el[nameEnd : len(el)-ew])})
		start = end
		// Elements of an array of (ayay) are aligned to 1: no padding.
	}
	return out, nil
}

func offsetSize(n int) int {
	switch {
	case n <= 0xff:
		return 1
	case n <= 0xffff:
		return 2
	case n <= 0xffffffff:
		return 4
	}
	return 8
}

func readOffset(b []byte, w int) int {
	v := 0
	for i := w - 1; i >= 0; i-- {
		v = v<<8 | int(b[i])
	}
	return v
}

// tree walks the commit, collecting the content objects with their paths (in tree order)
// and calling onDir for each directory (path, dirtree, dirmeta) before its children.
func tree(ctx context.Context, repo *ostree.Repo, treeSum, metaSum, dir string, objs map[string]*object, order *[]string,
	onDir func(p, tree, meta string) error) error {
	if err := onDir(dir, treeSum, metaSum); err != nil {
		return err
	}
	files, dirs, err := repo.ReadDirTree(ctx, treeSum)
	if err != nil {
		return err
	}
	for _, f := range files {
		p := path.Join(dir, f.Name)
		o := objs[f.Checksum]
		if o == nil {
			o = &object{checksum: f.Checksum}
			objs[f.Checksum] = o
			*order = append(*order, f.Checksum)
		}
		o.paths = append(o.paths, p)
	}
	for _, d := range dirs {
		if dir == "" && d.Name == "sysroot" {
			// As upstream: the commit's own sysroot (an empty mount point) is not
			// exported, only its directory metadata; we add its dirtree, so that the
			// commit is complete even when no other directory is empty.
			if err := onDir(sysrootMarker, d.Tree, d.Meta); err != nil {
				return err
			}
			continue
		}
		if err := tree(ctx, repo, d.Tree, d.Meta, path.Join(dir, d.Name), objs, order, onDir); err != nil {
			return err
		}
	}
	return nil
}

func defaultChunkOf(n int) func(string) int {
	return func(p string) int {
		h := fnv.New32a()
		h.Write([]byte(path.Dir(p)))
		return int(h.Sum32() % uint32(n))
	}
}

// Encapsulate writes commit (a checksum or ref of repo) as an ostree-native image into the
// OCI layout dir (created if needed; other tags are kept) under tag.
func Encapsulate(ctx context.Context, repo *ostree.Repo, rev, dir, tag string, opts Options) (*Image, error) {
	commitSum, err := repo.ResolveRev(ctx, rev, false)
	if err != nil {
		return nil, err
	}
	c, err := repo.ReadCommit(ctx, commitSum)
	if err != nil {
		return nil, err
	}
	objs := map[string]*object{}
	var order []string
	var dirs [][3]string
	if err := tree(ctx, repo, c.RootContents, c.RootMeta, "", objs, &order, func(p, t, m string) error {
		dirs = append(dirs, [3]string{p, t, m})
		return nil
	}); err != nil {
		return nil, err
	}
	for _, sum := range order {
		o := objs[sum]
		size, err := repo.FileSize(ctx, sum)
		if err != nil {
			return nil, err
		}
		if o.file, err = repo.LoadFile(ctx, sum, size); err != nil {
			return nil, err
		}
		if o.xattrs, err = repo.FileXattrsBytes(ctx, sum); err != nil {
			return nil, err
		}
	}
	// Assign objects to layers: 0 is the commit layer, 1..Chunks the chunks.
	layerObjs := make([][]*object, opts.Chunks+1)
	chunkOf := opts.ChunkOf
	if chunkOf == nil && opts.Chunks > 0 {
		chunkOf = defaultChunkOf(opts.Chunks)
	}
	for _, sum := range order {
		o := objs[sum]
		l := 0
		if opts.Chunks > 0 {
			if k := chunkOf(o.paths[0]); k >= 0 && k < opts.Chunks {
				l = k + 1
			}
		}
		layerObjs[l] = append(layerObjs[l], o)
	}
	for _, l := range layerObjs { // upstream's chunk maps are ordered by checksum
		sort.Slice(l, func(i, j int) bool { return l[i].checksum < l[j].checksum })
	}
	detached, err := repo.LoadDetachedMetadataBytes(ctx, commitSum)
	if err != nil {
		return nil, err
	}

	img := &Image{Dir: dir, Tag: tag, Commit: commitSum}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, err
	}
	for i, objects := range layerObjs {
		var buf bytes.Buffer
		w := &writer{ctx: ctx, repo: repo, tw: tar.NewWriter(&buf), written: map[string]bool{}}
		var err error
		if i == 0 {
			err = w.commitLayer(commitSum, detached, dirs, objects)
		} else {
			if err = w.repoStructure(); err == nil {
				for _, o := range objects {
					if err = w.content(o); err != nil {
						break
					}
				}
			}
		}
		if err == nil {
			err = w.tw.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		desc, diffID, err := writeLayer(dir, buf.Bytes(), !opts.Uncompressed)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			desc.Annotations = map[string]string{"ostree.components": fmt.Sprintf("chunk-%d", i)}
		}
		img.Layers = append(img.Layers, desc)
		img.DiffIDs = append(img.DiffIDs, diffID)
		img.ChunkObjects = append(img.ChunkObjects, len(objects))
	}
	if err := img.writeManifest(c, opts); err != nil {
		return nil, err
	}
	return img, nil
}

func (w *writer) commitLayer(commit string, detached []byte, dirs [][3]string, objects []*object) error {
	rootUID, rootGID, rootMode, err := w.repo.ReadDirMeta(w.ctx, dirs[0][2])
	if err != nil {
		return err
	}
	if err := w.dir("./", rootUID, rootGID, rootMode); err != nil {
		return err
	}
	if err := w.repoStructure(); err != nil {
		return err
	}
	b, err := w.repo.LoadObjectBytes(w.ctx, ostree.ObjectCommit, commit)
	if err != nil {
		return err
	}
	if err := w.data(objectPath(commit, "commit"), b); err != nil {
		return err
	}
	if detached != nil {
		if err := w.data(objectPath(commit, "commitmeta"), detached); err != nil {
			return err
		}
	}
	wroteVarTmp := false
	// Upstream's order: a directory's dirmeta object, its tar entry, then its dirtree
	// object (the root's entry comes first of all).
	for _, d := range dirs {
		if err := w.metaObject(ostree.ObjectDirMeta, d[2]); err != nil {
			return err
		}
		if d[0] != "" && d[0] != sysrootMarker {
			uid, gid, mode, err := w.repo.ReadDirMeta(w.ctx, d[2])
			if err != nil {
				return err
			}
			if err := w.dir("./"+tarPath(d[0]), uid, gid, mode); err != nil {
				return err
			}
		}
		if err := w.metaObject(ostree.ObjectDirTree, d[1]); err != nil {
			return err
		}
		if d[0] == "var/tmp" {
			wroteVarTmp = true
		}
	}
	if !wroteVarTmp {
		if err := w.dir("var/tmp", 0, 0, 01777); err != nil {
			return err
		}
	}
	for _, o := range objects {
		if err := w.content(o); err != nil {
			return err
		}
	}
	return nil
}

func writeBlob(dir string, b []byte) (digest.Digest, error) {
	d := digest.FromBytes(b)
	p := filepath.Join(dir, "blobs", "sha256", d.Encoded())
	return d, os.WriteFile(p, b, 0o644)
}

func writeLayer(dir string, tarBytes []byte, compress bool) (imgspecv1.Descriptor, digest.Digest, error) {
	diffID := digest.FromBytes(tarBytes)
	blob, mt := tarBytes, imgspecv1.MediaTypeImageLayer
	if compress {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		if _, err := zw.Write(tarBytes); err != nil {
			return imgspecv1.Descriptor{}, "", err
		}
		if err := zw.Close(); err != nil {
			return imgspecv1.Descriptor{}, "", err
		}
		blob, mt = zb.Bytes(), imgspecv1.MediaTypeImageLayerGzip
	}
	d, err := writeBlob(dir, blob)
	if err != nil {
		return imgspecv1.Descriptor{}, "", err
	}
	return imgspecv1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(blob))}, diffID, nil
}

func (img *Image) writeManifest(c *ostree.Commit, opts Options) error {
	labels := map[string]string{
		"ostree.commit":       img.Commit,
		"ostree.final-diffid": img.DiffIDs[len(img.DiffIDs)-1].String(),
	}
	if v, ok := c.Metadata["version"].(string); ok {
		labels["version"] = v
		labels[imgspecv1.AnnotationVersion] = v
	}
	if b, ok := c.Metadata["ostree.bootable"].(bool); ok {
		labels["ostree.bootable"] = fmt.Sprint(b)
		labels["containers.bootc"] = "1"
	}
	if v, ok := c.Metadata["ostree.linux"].(string); ok {
		labels["ostree.linux"] = v
	}
	for k, v := range opts.Labels {
		labels[k] = v
	}
	arch := opts.Architecture
	if arch == "" {
		arch = runtime.GOARCH
	}
	created := c.Timestamp.UTC()
	desc := c.Subject
	if desc == "" {
		desc = "ostree export of commit " + img.Commit
	}
	cfg := imgspecv1.Image{
		Created:  &created,
		Platform: imgspecv1.Platform{Architecture: arch, OS: "linux"},
		Config:   imgspecv1.ImageConfig{Labels: labels},
		RootFS:   imgspecv1.RootFS{Type: "layers", DiffIDs: img.DiffIDs},
	}
	for i := range img.Layers {
		h := imgspecv1.History{Created: &created, CreatedBy: desc}
		if i > 0 {
			h.CreatedBy = fmt.Sprintf("chunk-%d", i)
		}
		cfg.History = append(cfg.History, h)
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cd, err := writeBlob(img.Dir, cb)
	if err != nil {
		return err
	}
	man := imgspecv1.Manifest{
		Versioned:   imgspecs.Versioned{SchemaVersion: 2},
		MediaType:   imgspecv1.MediaTypeImageManifest,
		Config:      imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: cd, Size: int64(len(cb))},
		Layers:      img.Layers,
		Annotations: labels,
	}
	mb, err := json.Marshal(man)
	if err != nil {
		return err
	}
	md, err := writeBlob(img.Dir, mb)
	if err != nil {
		return err
	}
	img.Config, img.Manifest, img.ManifestDigest = cb, mb, md
	return storagetest.AddToIndex(img.Dir, img.Tag, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest,
		Digest: md, Size: int64(len(mb))})
}
