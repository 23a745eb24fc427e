// Command ocilayout writes the bootable test image (tests/image/build.sh) as an OCI image
// layout without a container engine: gzip layers with their diff IDs, the image config, the
// manifest and index.json.
//
//	ocilayout compress IN.tar OUT.tar.gz
//	    gzips IN.tar into OUT.tar.gz and writes the layer's diff ID (sha256 of IN.tar) to
//	    OUT.tar.gz.diffid, so a cached compressed layer can be reused without re-reading it.
//	ocilayout write -layout DIR -tag TAG [-created RFC3339] [-label K=V]... [-history TEXT]... LAYER...
//	    adds an image made of LAYERs (bottom first) to the layout DIR (created if needed),
//	    tagged TAG (an existing TAG is replaced). A LAYER ending in .tar is compressed into the
//	    layout; a LAYER ending in .tar.gz must have its .diffid next to it and is hard-linked
//	    (or copied) into the layout.
//	ocilayout import -layout DIR -tag TAG -from SRC
//	    adds the image in SRC, a containers/image "dir:" copy with uncompressed layers (as
//	    `podman push --format oci IMAGE dir:SRC` writes it), to the layout DIR as TAG. Each
//	    layer whose diff ID some image of the layout already has is reused (same blob, same
//	    digest); the others are gzipped into the layout. The config is kept byte for byte.
//	ocilayout describe -layout DIR
//	    prints shell assignments for every tag T: T_DIGEST (manifest digest), T_LAYERS (layer
//	    digests, bottom first), T_SIZE (bytes of manifest, config and layers), T uppercased.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/pgzip"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: ocilayout compress|write|describe ..."))
	}
	var err error
	switch os.Args[1] {
	case "compress":
		if len(os.Args) != 4 {
			fail(errors.New("usage: ocilayout compress IN.tar OUT.tar.gz"))
		}
		err = compressCmd(os.Args[2], os.Args[3])
	case "write":
		err = writeCmd(os.Args[2:])
	case "import":
		err = importCmd(os.Args[2:])
	case "describe":
		err = describeCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "ocilayout: %v\n", err)
	os.Exit(1)
}

// compressed is a gzip layer: its digest and size, and the digest of its uncompressed tar.
type compressed struct {
	digest, diffID digest.Digest
	size           int64
}

// gzipTo compresses r into w and returns the digests of both streams.
func gzipTo(w io.Writer, r io.Reader) (compressed, error) {
	outHash := sha256.New()
	counter := &countWriter{}
	zw, err := pgzip.NewWriterLevel(io.MultiWriter(w, outHash, counter), pgzip.DefaultCompression)
	if err != nil {
		return compressed{}, err
	}
	if err := zw.SetConcurrency(1<<20, 2*runtime.GOMAXPROCS(0)); err != nil {
		return compressed{}, err
	}
	inHash := sha256.New()
	if _, err := io.Copy(zw, io.TeeReader(r, inHash)); err != nil {
		return compressed{}, err
	}
	if err := zw.Close(); err != nil {
		return compressed{}, err
	}
	return compressed{digest: sum(outHash), diffID: sum(inHash), size: counter.n}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func sum(h hash.Hash) digest.Digest {
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
}

// writeAtomic writes a file through a temporary file in the same directory.
func writeAtomic(path string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func compressCmd(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	var c compressed
	if err := writeAtomic(out, func(w io.Writer) (err error) { c, err = gzipTo(w, f); return err }); err != nil {
		return err
	}
	return os.WriteFile(out+".diffid", []byte(c.diffID.String()+"\n"), 0o644)
}

type layout struct{ dir string }

func (l layout) blobPath(d digest.Digest) string {
	return filepath.Join(l.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

func (l layout) init() error {
	if err := os.MkdirAll(filepath.Join(l.dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(v1.ImageLayout{Version: v1.ImageLayoutVersion})
	return os.WriteFile(filepath.Join(l.dir, v1.ImageLayoutFile), b, 0o644)
}

// putJSON stores v as a blob and returns its descriptor.
func (l layout) putJSON(mediaType string, v any) (v1.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return v1.Descriptor{}, err
	}
	d := digest.FromBytes(b)
	err = writeAtomic(l.blobPath(d), func(w io.Writer) error { _, err := w.Write(b); return err })
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}, err
}

// putLayer brings a layer into the layout: a .tar is compressed into it, a .tar.gz (with
// its .diffid) is linked or copied.
func (l layout) putLayer(path string) (v1.Descriptor, digest.Digest, error) {
	switch {
	case strings.HasSuffix(path, ".tar"):
		return l.putTar(path)
	case strings.HasSuffix(path, ".tar.gz"):
		return l.putGzip(path)
	}
	return v1.Descriptor{}, "", fmt.Errorf("%s: a layer must end in .tar or .tar.gz", path)
}

// putTar gzips the uncompressed layer in path into the layout.
func (l layout) putTar(path string) (v1.Descriptor, digest.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	defer f.Close()
	tmp, err := os.CreateTemp(filepath.Join(l.dir, "blobs", "sha256"), ".tmp-layer-")
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	defer os.Remove(tmp.Name())
	c, err := gzipTo(tmp, f)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), l.blobPath(c.digest))
	}
	return v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: c.digest, Size: c.size}, c.diffID, err
}

// putGzip links (or copies) the gzip layer in path, whose diff ID is in path.diffid, into
// the layout.
func (l layout) putGzip(path string) (v1.Descriptor, digest.Digest, error) {
	b, err := os.ReadFile(path + ".diffid")
	if err != nil {
		return v1.Descriptor{}, "", fmt.Errorf("%s: diff ID: %w", path, err)
	}
	diffID, err := digest.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		return v1.Descriptor{}, "", fmt.Errorf("%s.diffid: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	desc := v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: sum(h), Size: size}
	dst := l.blobPath(desc.Digest)
	if _, err := os.Stat(dst); err == nil {
		return desc, diffID, nil
	}
	if err := os.Link(path, dst); err != nil {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return v1.Descriptor{}, "", err
		}
		err = writeAtomic(dst, func(w io.Writer) error { _, err := io.Copy(w, f); return err })
		if err != nil {
			return v1.Descriptor{}, "", err
		}
	}
	return desc, diffID, nil
}

func (l layout) readIndex() (v1.Index, error) {
	var idx v1.Index
	b, err := os.ReadFile(filepath.Join(l.dir, v1.ImageIndexFile))
	if errors.Is(err, os.ErrNotExist) {
		return v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex}, nil
	}
	if err != nil {
		return idx, err
	}
	return idx, json.Unmarshal(b, &idx)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func writeCmd(args []string) error {
	fs := flag.NewFlagSet("write", flag.ContinueOnError)
	dir := fs.String("layout", "", "OCI layout directory")
	tag := fs.String("tag", "", "tag (org.opencontainers.image.ref.name)")
	created := fs.String("created", "2025-01-01T00:00:00Z", "image creation time (RFC 3339)")
	var labels, history multiFlag
	fs.Var(&labels, "label", "config label K=V (repeatable)")
	fs.Var(&history, "history", "created_by of each layer, bottom first (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *tag == "" || fs.NArg() == 0 {
		return errors.New("usage: ocilayout write -layout DIR -tag TAG [-created T] [-label K=V]... [-history TEXT]... LAYER...")
	}
	if len(history) != 0 && len(history) != fs.NArg() {
		return fmt.Errorf("%d -history values for %d layers", len(history), fs.NArg())
	}
	ts, err := time.Parse(time.RFC3339, *created)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	l := layout{dir: *dir}
	if err := l.init(); err != nil {
		return err
	}
	cfg := v1.Image{
		Created:  &ts,
		Platform: v1.Platform{Architecture: "amd64", OS: "linux"},
		Config: v1.ImageConfig{
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd:        []string{"/sbin/init"},
			StopSignal: "SIGRTMIN+3",
			Labels:     map[string]string{},
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	for _, kv := range labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("-label %q: want K=V", kv)
		}
		cfg.Config.Labels[k] = v
	}
	m := v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest}
	for i, p := range fs.Args() {
		desc, diffID, err := l.putLayer(p)
		if err != nil {
			return err
		}
		m.Layers = append(m.Layers, desc)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
		h := v1.History{Created: &ts, CreatedBy: filepath.Base(p)}
		if len(history) != 0 {
			h.CreatedBy = history[i]
		}
		cfg.History = append(cfg.History, h)
	}
	if m.Config, err = l.putJSON(v1.MediaTypeImageConfig, cfg); err != nil {
		return err
	}
	md, err := l.putJSON(v1.MediaTypeImageManifest, m)
	if err != nil {
		return err
	}
	return l.addTag(*tag, md)
}

// knownLayers maps the diff IDs of the layout's images to their layer descriptors.
func (l layout) knownLayers() (map[digest.Digest]v1.Descriptor, error) {
	idx, err := l.readIndex()
	if err != nil {
		return nil, err
	}
	known := map[digest.Digest]v1.Descriptor{}
	for _, d := range idx.Manifests {
		var m v1.Manifest
		if err := readJSON(l.blobPath(d.Digest), &m); err != nil {
			return nil, err
		}
		var cfg v1.Image
		if err := readJSON(l.blobPath(m.Config.Digest), &cfg); err != nil {
			return nil, err
		}
		if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("image %s: %d layers, %d diff IDs", d.Digest, len(m.Layers), len(cfg.RootFS.DiffIDs))
		}
		for i, ld := range m.Layers {
			if _, err := os.Stat(l.blobPath(ld.Digest)); err == nil {
				known[cfg.RootFS.DiffIDs[i]] = ld
			}
		}
	}
	return known, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// addTag points TAG at the manifest md in index.json, replacing what TAG named before.
func (l layout) addTag(tag string, md v1.Descriptor) error {
	md.Annotations = map[string]string{v1.AnnotationRefName: tag}
	md.Platform = &v1.Platform{Architecture: "amd64", OS: "linux"}
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if d.Annotations[v1.AnnotationRefName] != tag {
			kept = append(kept, d)
		}
	}
	idx.Manifests = append(kept, md)
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(l.dir, v1.ImageIndexFile), func(w io.Writer) error { _, err := w.Write(b); return err })
}

func importCmd(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dir := fs.String("layout", "", "OCI layout directory")
	tag := fs.String("tag", "", "tag (org.opencontainers.image.ref.name)")
	from := fs.String("from", "", `containers/image "dir:" directory`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *tag == "" || *from == "" || fs.NArg() != 0 {
		return errors.New("usage: ocilayout import -layout DIR -tag TAG -from SRC")
	}
	l := layout{dir: *dir}
	if err := l.init(); err != nil {
		return err
	}
	var src v1.Manifest
	if err := readJSON(filepath.Join(*from, "manifest.json"), &src); err != nil {
		return err
	}
	if src.MediaType != v1.MediaTypeImageManifest || src.Config.MediaType != v1.MediaTypeImageConfig {
		return fmt.Errorf("%s: not an OCI manifest (push with --format oci)", *from)
	}
	cfgBytes, err := os.ReadFile(filepath.Join(*from, src.Config.Digest.Encoded()))
	if err != nil {
		return err
	}
	if digest.FromBytes(cfgBytes) != src.Config.Digest {
		return fmt.Errorf("%s: config does not match its digest %s", *from, src.Config.Digest)
	}
	var cfg v1.Image
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		return err
	}
	if len(cfg.RootFS.DiffIDs) != len(src.Layers) {
		return fmt.Errorf("%s: %d layers, %d diff IDs", *from, len(src.Layers), len(cfg.RootFS.DiffIDs))
	}
	known, err := l.knownLayers()
	if err != nil {
		return err
	}
	m := v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Annotations: src.Annotations}
	for i, sd := range src.Layers {
		diffID := cfg.RootFS.DiffIDs[i]
		if d, ok := known[diffID]; ok {
			m.Layers = append(m.Layers, d)
			continue
		}
		if sd.MediaType != v1.MediaTypeImageLayer && sd.MediaType != "application/vnd.docker.image.rootfs.diff.tar" {
			return fmt.Errorf("%s: layer %s is %s; want uncompressed layers", *from, sd.Digest, sd.MediaType)
		}
		d, gotDiffID, err := l.putTar(filepath.Join(*from, sd.Digest.Encoded()))
		if err != nil {
			return err
		}
		if gotDiffID != diffID {
			return fmt.Errorf("%s: layer %d has diff ID %s, the config says %s", *from, i, gotDiffID, diffID)
		}
		m.Layers = append(m.Layers, d)
		known[diffID] = d
	}
	cd := v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: src.Config.Digest, Size: int64(len(cfgBytes))}
	if err := writeAtomic(l.blobPath(cd.Digest), func(w io.Writer) error { _, err := w.Write(cfgBytes); return err }); err != nil {
		return err
	}
	m.Config = cd
	md, err := l.putJSON(v1.MediaTypeImageManifest, m)
	if err != nil {
		return err
	}
	return l.addTag(*tag, md)
}

func describeCmd(args []string) error {
	fs := flag.NewFlagSet("describe", flag.ContinueOnError)
	dir := fs.String("layout", "", "OCI layout directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	l := layout{dir: *dir}
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	for _, d := range idx.Manifests {
		tag := d.Annotations[v1.AnnotationRefName]
		if tag == "" {
			continue
		}
		b, err := os.ReadFile(l.blobPath(d.Digest))
		if err != nil {
			return err
		}
		var m v1.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("manifest of %s: %w", tag, err)
		}
		size := d.Size + m.Config.Size
		var layers []string
		for _, ld := range m.Layers {
			layers = append(layers, ld.Digest.String())
			size += ld.Size
		}
		v := strings.ToUpper(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, tag))
		fmt.Printf("%s_DIGEST=%s\n%s_LAYERS=\"%s\"\n%s_SIZE=%d\n", v, d.Digest, v, strings.Join(layers, " "), v, size)
	}
	return nil
}
