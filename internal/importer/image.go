package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/ostree"
)

// Commit metadata keys, as upstream ostree-ext writes them.
const (
	MetaManifestDigest = "ostree.manifest-digest"
	MetaManifest       = "ostree.manifest"
	MetaConfig         = "ostree.container.image-config"
	MetaImporter       = "ostree.importer.version"
)

// ImporterVersion is recorded in every commit the importer writes.
const ImporterVersion = "bootc-go/1"

// Layer is one layer of an image to import.
type Layer struct {
	// Digest is the layer's digest in the manifest (the blob ref is keyed on it).
	Digest string
	// DiffID is the digest of the uncompressed tar (config rootfs.diff_ids).
	DiffID string
	// Size is the blob size, for progress.
	Size int64
	// Open returns the uncompressed layer tar. It is only called for layers that are not
	// already in the repository.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Image is an image to import: its manifest and config as raw JSON, and its layers base
// first.
type Image struct {
	// Target is the reference the image commit is recorded under
	// (ostree/container/image/<escaped Target>).
	Target         imgref.ImageReference
	ManifestDigest string
	Manifest       []byte
	Config         []byte
	Layers         []Layer
}

// Options control ImportImage.
type Options struct {
	Rules PathRules
	// Architecture is the architecture the image must be for (GOARCH names); "" means
	// this host's.
	Architecture string
	// AllowUnbootable skips the check that the image has a kernel.
	AllowUnbootable bool
	// Writers is the number of object writer goroutines per layer.
	Writers int
	// OnLayer, if set, is called as each layer starts (reused says it was already there).
	OnLayer func(index int, layer Layer, reused bool)
	// OnBytes, if set, is called with the bytes of file content imported in a layer.
	OnBytes func(index int, n int64)
}

// Result describes an imported image.
type Result struct {
	// Commit is the image (merge) commit.
	Commit string
	// LayerCommits are the layer commits, base first.
	LayerCommits []string
	// Imported and Reused count the layers written now and the layers found in the repo.
	Imported, Reused int
	// Stats sums the imported layers' statistics.
	Stats Stats
}

// ociConfig is the part of an OCI image config the importer reads.
type ociConfig struct {
	Architecture string    `json:"architecture"`
	OS           string    `json:"os"`
	Created      time.Time `json:"created"`
	RootFS       struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// ociManifest is the part of an OCI/Docker schema 2 manifest the importer reads.
type ociManifest struct {
	Layers []struct {
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
	} `json:"layers"`
	Annotations map[string]string `json:"annotations"`
}

// DefaultRules returns the path rules for this host's libostree and a generic (not
// ostree-encapsulated) image, as upstream applies them.
func DefaultRules() PathRules {
	return PathRules{VarToFactory: !ostree.CheckVersion(2024, 3)}
}

// ImportImage imports img into repo (one transaction: on error no ref changes) and returns
// the image commit.
func ImportImage(ctx context.Context, repo *ostree.Repo, img Image, opts Options) (*Result, error) {
	// BEGIN ostree-native dispatch (issue 14): an ostree-native image (config label
	// ostree.final-diffid) has its base layers imported as ostree objects by
	// internal/ostreeext, which registers itself in NativeImport and calls back into this
	// package for the derived layers. See native.go.
	if res, native, err := importNative(ctx, repo, img, opts); native {
		return res, err
	}
	// END ostree-native dispatch.
	var cfg ociConfig
	if err := json.Unmarshal(img.Config, &cfg); err != nil {
		return nil, fmt.Errorf("image %s: parsing config: %w", img.Target, err)
	}
	var man ociManifest
	if err := json.Unmarshal(img.Manifest, &man); err != nil {
		return nil, fmt.Errorf("image %s: parsing manifest: %w", img.Target, err)
	}
	arch := opts.Architecture
	if arch == "" {
		arch = runtime.GOARCH
	}
	if cfg.Architecture != arch {
		return nil, fmt.Errorf("image %s is for architecture %q, not %q", img.Target, cfg.Architecture, arch)
	}
	if len(img.Layers) == 0 {
		return nil, fmt.Errorf("image %s has no layers", img.Target)
	}
	meta, err := imageMetadata(img)
	if err != nil {
		return nil, err
	}
	ts := imageTimestamp(man, cfg)

	res := &Result{Stats: Stats{Filtered: map[string]int{}}}
	err = repo.WithTransaction(ctx, func(tx *ostree.Transaction) error {
		byDiffID, err := knownDiffIDs(ctx, repo)
		if err != nil {
			return err
		}
		for i, l := range img.Layers {
			commit, err := repo.ResolveRev(ctx, imgref.BlobRef(l.Digest), true)
			if err != nil {
				return err
			}
			if commit == "" && l.DiffID != "" {
				commit = byDiffID[l.DiffID]
			}
			if commit != "" {
				res.Reused++
				if opts.OnLayer != nil {
					opts.OnLayer(i, l, true)
				}
			} else {
				if opts.OnLayer != nil {
					opts.OnLayer(i, l, false)
				}
				commit, err = importOne(ctx, repo, i, l, opts, res)
				if err != nil {
					return fmt.Errorf("image %s: layer %s: %w", img.Target, l.Digest, err)
				}
				res.Imported++
				if l.DiffID != "" {
					byDiffID[l.DiffID] = commit
				}
			}
			tx.SetRef(imgref.BlobRef(l.Digest), commit)
			res.LayerCommits = append(res.LayerCommits, commit)
		}
		merged, err := MergeLayers(ctx, repo, res.LayerCommits)
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Target, err)
		}
		defer merged.Close()
		if err := removeEmptyFiles(ctx, repo, merged, []string{"usr", "etc"}, "hostname", "resolv.conf"); err != nil {
			return fmt.Errorf("image %s: %w", img.Target, err)
		}
		if !opts.AllowUnbootable {
			ok, err := hasKernel(merged)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("image %s is not bootable: no kernel at usr/lib/modules/*/vmlinuz", img.Target)
			}
		}
		res.Commit, err = repo.WriteCommit(ctx, merged, ostree.CommitOptions{Metadata: meta, Timestamp: ts})
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Target, err)
		}
		tx.SetRef(imgref.ImageRef(img.Target), res.Commit)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func importOne(ctx context.Context, repo *ostree.Repo, i int, l Layer, opts Options, res *Result) (string, error) {
	if l.Open == nil {
		return "", errors.New("not in the repository and no way to read it")
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	// The stream is checked against the diff ID: whatever produced it (a registry blob, a
	// tar reassembled by containers-storage from files on disk) must give the layer the
	// config names, or nothing of it is kept.
	var r io.Reader = rc
	h := sha256.New()
	verify := strings.HasPrefix(l.DiffID, "sha256:")
	if verify {
		r = io.TeeReader(rc, h)
	}
	lopts := LayerOptions{Rules: opts.Rules, Writers: opts.Writers,
		Metadata: ostree.Metadata{MetaImporter: ImporterVersion}}
	if opts.OnBytes != nil {
		lopts.OnBytes = func(n int64) { opts.OnBytes(i, n) }
	}
	commit, st, err := ImportLayer(ctx, repo, r, lopts)
	if err != nil {
		return "", err
	}
	if verify {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return "", fmt.Errorf("reading the end of the layer: %w", err)
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != l.DiffID {
			return "", fmt.Errorf("layer content has digest %s, not its diff ID %s", got, l.DiffID)
		}
	}
	res.Stats.add(st)
	return commit, nil
}

func (s *Stats) add(o Stats) {
	s.Files += o.Files
	s.Dirs += o.Dirs
	s.Symlinks += o.Symlinks
	s.Hardlinks += o.Hardlinks
	s.Whiteouts += o.Whiteouts
	s.Bytes += o.Bytes
	for k, v := range o.Filtered {
		s.Filtered[k] += v
	}
}

// knownDiffIDs maps diff IDs to layer commits already in the repository, from the
// manifests and configs of the images stored there (a layer fetched compressed one way and
// later named by another digest, or read uncompressed from containers-storage, is reused).
func knownDiffIDs(ctx context.Context, repo *ostree.Repo) (map[string]string, error) {
	out := map[string]string{}
	images, err := repo.ListRefs(ctx, imgref.ImageRefPrefix)
	if err != nil {
		return nil, err
	}
	for _, commit := range images {
		c, err := repo.ReadCommit(ctx, commit)
		if err != nil {
			return nil, err
		}
		mj, _ := c.Metadata[MetaManifest].(string)
		cj, _ := c.Metadata[MetaConfig].(string)
		var man ociManifest
		var cfg ociConfig
		if json.Unmarshal([]byte(mj), &man) != nil || json.Unmarshal([]byte(cj), &cfg) != nil ||
			len(man.Layers) != len(cfg.RootFS.DiffIDs) {
			continue // not an image we can map
		}
		for i, l := range man.Layers {
			lc, err := repo.ResolveRev(ctx, imgref.BlobRef(l.Digest), true)
			if err != nil {
				return nil, err
			}
			if lc != "" {
				out[cfg.RootFS.DiffIDs[i]] = lc
			}
		}
	}
	return out, nil
}

// imageMetadata is the image commit's metadata: manifest digest, manifest and config as
// canonical JSON (sorted keys, compact), importer version.
func imageMetadata(img Image) (ostree.Metadata, error) {
	man, err := CanonicalJSON(img.Manifest)
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", img.Target, err)
	}
	cfg, err := CanonicalJSON(img.Config)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.Target, err)
	}
	return ostree.Metadata{
		MetaManifestDigest: img.ManifestDigest,
		MetaManifest:       string(man),
		MetaConfig:         string(cfg),
		MetaImporter:       ImporterVersion,
	}, nil
}

// imageTimestamp is the image's creation time: the manifest's
// org.opencontainers.image.created annotation, else the config's created, else now.
func imageTimestamp(man ociManifest, cfg ociConfig) time.Time {
	if s := man.Annotations["org.opencontainers.image.created"]; s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	if !cfg.Created.IsZero() {
		return cfg.Created
	}
	return time.Now()
}

// CanonicalJSON re-serialises JSON with sorted object keys, no insignificant whitespace
// and no HTML escaping, keeping numbers as written.
func CanonicalJSON(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(buf.String(), "\n")), nil
}
