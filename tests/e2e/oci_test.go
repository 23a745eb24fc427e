package e2e

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/storage/pkg/ioutils"
)

// ociLayout is an OCI image layout directory.
type ociLayout string

func (l ociLayout) blob(d digest.Digest) string {
	return filepath.Join(string(l), "blobs", d.Algorithm().String(), d.Encoded())
}

func (l ociLayout) readIndex() (v1.Index, error) {
	var idx v1.Index
	b, err := os.ReadFile(filepath.Join(string(l), "index.json"))
	if err != nil {
		return idx, err
	}
	return idx, json.Unmarshal(b, &idx)
}

func (l ociLayout) writeIndex(idx v1.Index) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return ioutils.AtomicWriteFile(filepath.Join(string(l), "index.json"), b, 0o644)
}

// tag returns the manifest descriptor of a tag (annotation org.opencontainers.image.ref.name).
func (l ociLayout) tag(name string) (v1.Descriptor, error) {
	idx, err := l.readIndex()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, m := range idx.Manifests {
		if m.Annotations[v1.AnnotationRefName] == name {
			return m, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%s: no tag %q", l, name)
}

// moveTag points tag at the manifest that tag to has, as `skopeo copy` to an existing
// layout:tag would: the entry of tag is replaced by one for to's manifest.
func (l ociLayout) moveTag(tag, to string) error {
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	var target *v1.Descriptor
	kept := idx.Manifests[:0:0]
	for _, m := range idx.Manifests {
		switch m.Annotations[v1.AnnotationRefName] {
		case tag:
			continue
		case to:
			target = &m
		}
		kept = append(kept, m)
	}
	if target == nil {
		return fmt.Errorf("%s: no tag %q", l, to)
	}
	d := *target
	d.Annotations = map[string]string{v1.AnnotationRefName: tag}
	idx.Manifests = append(kept, d)
	return l.writeIndex(idx)
}

// putBlob stores data as a blob and returns its descriptor.
func (l ociLayout) putBlob(mediaType string, data []byte) (v1.Descriptor, error) {
	d := digest.FromBytes(data)
	if err := ioutils.AtomicWriteFile(l.blob(d), data, 0o644); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}, nil
}

// deriveSpec describes an image derived from a tag of the layout by one more layer.
type deriveSpec struct {
	from, tag string
	version   string    // /usr/lib/bootc-test/version and the version label
	created   time.Time // creation time (fixed: the same inputs give the same digest)
	// randomMiB is the size of the incompressible files the layer adds under
	// /usr/share/bootc-e2e (so that pulling and importing it takes a while).
	randomMiB int
	// smallFiles is the number of distinct 64-byte files the layer adds under
	// /usr/share/bootc-e2e/small (so that writing the layer's files takes a while too).
	smallFiles int
}

// derive adds spec.tag to the layout: spec.from plus one gzip layer with the version file
// and spec.randomMiB MiB of deterministic random data, plus spec.smallFiles small files. It
// returns the manifest digest.
func (l ociLayout) derive(spec deriveSpec) (digest.Digest, error) {
	base, err := l.tag(spec.from)
	if err != nil {
		return "", err
	}
	var man v1.Manifest
	if err := readJSONFile(l.blob(base.Digest), &man); err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := readJSONFile(l.blob(man.Config.Digest), &cfg); err != nil {
		return "", err
	}
	layer, diffID, err := l.writeLayer(spec)
	if err != nil {
		return "", err
	}
	created := spec.created.UTC().Format(time.RFC3339)
	cfg["created"] = created
	c, _ := cfg["config"].(map[string]any)
	if c == nil {
		c = map[string]any{}
		cfg["config"] = c
	}
	labels, _ := c["Labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		c["Labels"] = labels
	}
	labels["org.opencontainers.image.version"] = spec.version
	rootfs, _ := cfg["rootfs"].(map[string]any)
	if rootfs == nil {
		return "", fmt.Errorf("%s: config of %s has no rootfs", l, spec.from)
	}
	ids, _ := rootfs["diff_ids"].([]any)
	rootfs["diff_ids"] = append(ids, diffID.String())
	hist, _ := cfg["history"].([]any)
	cfg["history"] = append(hist, map[string]any{"created": created,
		"created_by": fmt.Sprintf("tests/e2e: version %s and %d MiB of random files", spec.version, spec.randomMiB)})
	cb, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	cd, err := l.putBlob(v1.MediaTypeImageConfig, cb)
	if err != nil {
		return "", err
	}
	man.Config = cd
	man.Layers = append(man.Layers, layer)
	if man.MediaType == "" {
		man.MediaType = v1.MediaTypeImageManifest
	}
	mb, err := json.Marshal(man)
	if err != nil {
		return "", err
	}
	md, err := l.putBlob(v1.MediaTypeImageManifest, mb)
	if err != nil {
		return "", err
	}
	idx, err := l.readIndex()
	if err != nil {
		return "", err
	}
	kept := idx.Manifests[:0:0]
	for _, m := range idx.Manifests {
		if m.Annotations[v1.AnnotationRefName] != spec.tag {
			kept = append(kept, m)
		}
	}
	md.Annotations = map[string]string{v1.AnnotationRefName: spec.tag}
	idx.Manifests = append(kept, md)
	return md.Digest, l.writeIndex(idx)
}

// writeLayer writes the layer blob of spec (gzip) and returns its descriptor and diff ID.
func (l ociLayout) writeLayer(spec deriveSpec) (v1.Descriptor, digest.Digest, error) {
	dir := filepath.Join(string(l), "blobs", "sha256")
	f, err := os.CreateTemp(dir, ".layer-*")
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	blobHash, diffHash := sha256.New(), sha256.New()
	size := &countingWriter{}
	gz, err := gzip.NewWriterLevel(io.MultiWriter(f, blobHash, size), gzip.BestSpeed)
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	tw := tar.NewWriter(io.MultiWriter(gz, diffHash))
	mt := spec.created.UTC()
	dirs := []string{"usr/", "usr/lib/", "usr/lib/bootc-test/", "usr/share/", "usr/share/bootc-e2e/"}
	if spec.smallFiles > 0 {
		dirs = append(dirs, "usr/share/bootc-e2e/small/")
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mt, Format: tar.FormatPAX}); err != nil {
			return v1.Descriptor{}, "", err
		}
	}
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)),
			ModTime: mt, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := file("usr/lib/bootc-test/version", []byte(spec.version+"\n")); err != nil {
		return v1.Descriptor{}, "", err
	}
	rng := rand.NewChaCha8([32]byte{'b', 'o', 'o', 't', 'c', '-', 'e', '2', 'e'})
	buf := make([]byte, 1<<20)
	for i := range spec.randomMiB {
		if _, err := rng.Read(buf); err != nil {
			return v1.Descriptor{}, "", err
		}
		if err := file(fmt.Sprintf("usr/share/bootc-e2e/random-%03d", i), buf); err != nil {
			return v1.Descriptor{}, "", err
		}
	}
	for i := range spec.smallFiles {
		if _, err := rng.Read(buf[:64]); err != nil {
			return v1.Descriptor{}, "", err
		}
		if err := file(fmt.Sprintf("usr/share/bootc-e2e/small/%05d", i), buf[:64]); err != nil {
			return v1.Descriptor{}, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return v1.Descriptor{}, "", err
	}
	if err := gz.Close(); err != nil {
		return v1.Descriptor{}, "", err
	}
	if err := f.Close(); err != nil {
		return v1.Descriptor{}, "", err
	}
	d := sum(blobHash)
	if err := os.Rename(f.Name(), l.blob(d)); err != nil {
		return v1.Descriptor{}, "", err
	}
	return v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: d, Size: size.n}, sum(diffHash), nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func sum(h hash.Hash) digest.Digest {
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// copyLayout copies an OCI layout (blobs as hard links when possible: blobs are never
// written in place).
func copyLayout(src, dst string) error {
	return filepath.WalkDir(src, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		switch {
		case de.IsDir():
			return os.MkdirAll(out, 0o755)
		case !de.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file", p)
		case filepath.Base(filepath.Dir(p)) == "sha256" || filepath.Base(filepath.Dir(filepath.Dir(p))) == "blobs":
			if err := os.Link(p, out); err == nil {
				return nil
			} else if !errors.Is(err, os.ErrExist) {
				return copyFile(p, out)
			}
			return nil
		default:
			return copyFile(p, out)
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
