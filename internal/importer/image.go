package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

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
	// Sources are the ways to read the layer, in order of preference (see Source). They
	// are only used for layers that are not already in the repository.
	Sources []Source
	// Open, if set, returns the uncompressed layer tar: a last source, after Sources.
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
	// Parallel is the number of layers imported at the same time (default: GOMAXPROCS,
	// at least 2 and at most 4). Each layer in flight buffers up to about 32 MiB.
	Parallel int
	// NoTarSplit skips recording the layers' tar-splits (MetaTarSplit): such layers cannot
	// be reassembled from the repository later. Recording costs a CRC-64 of the content.
	NoTarSplit bool
	// OnLayer, if set, is called as each layer starts (reused says it was already there).
	// Layers are imported concurrently: it may be called from several goroutines at once.
	OnLayer func(index int, layer Layer, reused bool)
	// OnBytes, if set, is called with the bytes of file content imported in a layer, from
	// that layer's goroutine.
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
	var cfg imgspecv1.Image
	if err := json.Unmarshal(img.Config, &cfg); err != nil {
		return nil, fmt.Errorf("image %s: parsing config: %w", img.Target, err)
	}
	var man imgspecv1.Manifest
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
		res.LayerCommits = make([]string, len(img.Layers))
		var missing []int
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
				res.LayerCommits[i] = commit
				if opts.OnLayer != nil {
					opts.OnLayer(i, l, true)
				}
				continue
			}
			missing = append(missing, i)
		}
		if err := importMissing(ctx, repo, img, missing, opts, res); err != nil {
			return err
		}
		for i, l := range img.Layers {
			tx.SetRef(imgref.BlobRef(l.Digest), res.LayerCommits[i])
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

// importMissing imports the layers at indexes missing concurrently (Options.Parallel at a
// time), each from the first of its sources that works, and fills res.LayerCommits. A layer
// whose diff ID (or digest) equals an earlier one's is imported once.
func importMissing(ctx context.Context, repo *ostree.Repo, img Image, missing []int, opts Options, res *Result) error {
	if len(missing) == 0 {
		return nil
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = min(max(runtime.GOMAXPROCS(0), 2), 4)
	}
	sched := newScheduler(parallel)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	first := map[string]int{} // identity -> index of the layer that imports it
	dupOf := map[int]int{}
	var todo []int
	for _, i := range missing {
		l := img.Layers[i]
		id := l.DiffID
		if id == "" {
			id = l.Digest
		}
		if j, ok := first[id]; ok {
			dupOf[i] = j
			continue
		}
		first[id] = i
		todo = append(todo, i)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error // the first failure; the other imports are cancelled because of it
	for _, i := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := img.Layers[i]
			if opts.OnLayer != nil {
				opts.OnLayer(i, l, false)
			}
			lopts := LayerOptions{Rules: opts.Rules, Writers: opts.Writers,
				Metadata: ostree.Metadata{MetaImporter: ImporterVersion}}
			if opts.OnBytes != nil {
				lopts.OnBytes = func(n int64) { opts.OnBytes(i, n) }
			}
			commit, st, err := importLayerSources(ctx, repo, sched, l, lopts, opts.NoTarSplit)
			if err != nil {
				err = fmt.Errorf("image %s: layer %s: %w", img.Target, l.Digest, err)
				once.Do(func() { firstErr = err; cancel(err) })
				return
			}
			mu.Lock()
			res.LayerCommits[i] = commit
			res.Imported++
			res.Stats.add(st)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	for i, j := range dupOf {
		res.LayerCommits[i] = res.LayerCommits[j]
		res.Reused++
		if opts.OnLayer != nil {
			opts.OnLayer(i, img.Layers[i], true)
		}
	}
	return nil
}

func (s *Stats) add(o Stats) {
	s.Files += o.Files
	s.Dirs += o.Dirs
	s.Symlinks += o.Symlinks
	s.Hardlinks += o.Hardlinks
	s.Whiteouts += o.Whiteouts
	s.Bytes += o.Bytes
	s.Adopted += o.Adopted
	s.Present += o.Present
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
		var man imgspecv1.Manifest
		var cfg imgspecv1.Image
		if json.Unmarshal([]byte(mj), &man) != nil || json.Unmarshal([]byte(cj), &cfg) != nil ||
			len(man.Layers) != len(cfg.RootFS.DiffIDs) {
			continue // not an image we can map
		}
		for i, l := range man.Layers {
			lc, err := repo.ResolveRev(ctx, imgref.BlobRef(l.Digest.String()), true)
			if err != nil {
				return nil, err
			}
			if lc != "" {
				out[cfg.RootFS.DiffIDs[i].String()] = lc
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
func imageTimestamp(man imgspecv1.Manifest, cfg imgspecv1.Image) time.Time {
	if s := man.Annotations["org.opencontainers.image.created"]; s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	if cfg.Created != nil && !cfg.Created.IsZero() {
		return *cfg.Created
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
