package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/transports"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/ostreeext"
	"github.com/bootc-go/bootc/internal/progress"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/storage"
)

// FetchOptions control Fetch.
type FetchOptions struct {
	// Pull holds the containers/image settings (policy, auth, registries.conf); Source and
	// RequireSignedPolicy are filled from the reference.
	Pull storage.PullOptions
	// Import holds the importer settings (path rules, architecture).
	Import importer.Options
	// Progress receives the fetching task (nil: none).
	Progress progress.Reporter
	// Sysroot is the sysroot the image is for ("/" on a booted host): an
	// ostree-remote-image: reference's remote and keys are read there.
	Sysroot string
	// FromStoreImage, if set, is the ID of an image of the store to read in place instead
	// of ref's source (install pulls the image once, scans it, then imports it from there);
	// ref still names the image in the repository.
	FromStoreImage string
}

// FetchReport counts where an image's layers came from.
type FetchReport struct {
	// LayersReused were already in the repository; LayersFromStore were imported from
	// containers-storage; LayersFetched were downloaded from the source.
	LayersReused, LayersFromStore, LayersFetched int
	// BytesFetched is the number of layer blob bytes read from the source.
	BytesFetched int64
	// InPlace is set when the image was read from this store in place.
	InPlace bool
}

// Fetched is an image imported into the repository (and, where possible, kept in the
// containers-storage store).
type Fetched struct {
	Ref imgref.OstreeImageReference
	// ManifestDigest, Manifest and Config describe the image.
	ManifestDigest string
	Config         *imgspecv1.Image
	Import         *importer.Result
	Report         FetchReport

	source sourceInfo
}

// sourceInfo is what KeepInStore needs to know of the image's source.
type sourceInfo struct {
	Name, Reference                string
	Named                          reference.Named
	Manifest, ListManifest, Config []byte
	Signatures                     [][]byte
	Layers                         []storage.SourceLayer
}

// Layers describes the image's layers as its source lists them, base first.
func (f *Fetched) Layers() []storage.SourceLayer { return f.source.Layers }

// Version is the image's org.opencontainers.image.version label ("" if none).
func (f *Fetched) Version() string {
	if f.Config == nil {
		return ""
	}
	return f.Config.Config.Labels["org.opencontainers.image.version"]
}

// PullOptionsFor fills the source and signature settings of base for ref: Source, SourceRef
// (ref as containers/image's value, so that storage does not parse Source again) and
// RequireSignedPolicy. (An
// ostree-remote-image: reference is checked against the containers policy as it is, and its
// commit's signature against the remote's keys: see ostreeext.VerifierFor.)
func PullOptionsFor(ref imgref.OstreeImageReference, base storage.PullOptions) (storage.PullOptions, error) {
	base.Source = ref.Imgref.ContainersImageName()
	base.RequireSignedPolicy = ref.Sigverify.Kind == imgref.SigVerifyContainerPolicy
	base.SourceRef = nil
	if ref.Imgref.Transport != imgref.TransportContainersStorage {
		// containers/image's value for the reference imgref parsed, made from its transport
		// and name so that storage does not split and parse Source again (a
		// containers-storage reference is resolved by storage, against its store). When it
		// cannot be made, storage parses Source and reports the error, as for any Source.
		within := ref.Imgref.Name
		if ref.Imgref.Transport == imgref.TransportRegistry {
			within = "//" + within
		}
		if t := transports.Get(containersTransportName(ref.Imgref.Transport)); t != nil {
			if r, err := t.ParseReference(within); err == nil {
				base.SourceRef = r
			}
		}
	}
	return base, nil
}

// containersTransportName is containers/image's name of t: "docker" for the registry
// transport, the same name for the others.
func containersTransportName(t imgref.Transport) string {
	if t == imgref.TransportRegistry {
		return "docker"
	}
	return string(t)
}

// Fetch imports ref into repo. The repository is the authority on layers: a layer it holds
// is never read again; a layer the store holds is imported from there (its files hashed and
// hardlinked into the repository where they share a filesystem), falling back to the
// source when the store's copy is corrupt (the store layer is then dropped); the others are
// fetched from the source, decompressed once and streamed into the importer, concurrently.
// Nothing is written to the store: KeepInStore puts the image there once it is deployed.
func Fetch(ctx context.Context, store *storage.Store, repo *ostree.Repo, ref imgref.OstreeImageReference, opts FetchOptions) (*Fetched, error) {
	rep := opts.Progress
	if rep == nil {
		rep = progress.Nop{}
	}
	po, err := PullOptionsFor(ref, opts.Pull)
	if err != nil {
		return nil, err
	}
	if opts.FromStoreImage != "" {
		po.Source, po.SourceRef = "containers-storage:"+opts.FromStoreImage, nil
	}
	src, err := store.OpenSource(ctx, po)
	if err != nil {
		return nil, err
	}
	defer src.Close()

	f := &Fetched{Ref: ref, ManifestDigest: src.ManifestDigest.String(), Config: src.OCIConfig,
		source: sourceInfo{Name: src.Name, Named: src.Named, Reference: src.Reference, Manifest: src.Manifest, ListManifest: src.ListManifest,
			Config: src.Config, Signatures: src.Signatures, Layers: src.Layers}}
	f.Report.InPlace = src.InPlace
	in := importer.Image{Target: ref.Imgref, ManifestDigest: src.ManifestDigest.String(),
		Manifest: src.Manifest, Config: src.Config}
	var fetched atomic.Int64
	var mu sync.Mutex
	if src.InPlace {
		rep.Start(progress.Task{Name: progress.TaskImporting, Description: "Importing " + ref.Imgref.String()})
	} else {
		// Layers are fetched and imported in one stream.
		rep.Start(progress.Task{Name: progress.TaskPulling, Description: "Fetching " + ref.Imgref.String()})
	}
	sameFS := sameFilesystem(store.GraphRoot(), repo.Path())
	for i, sl := range src.Layers {
		l := importer.Layer{Digest: sl.Digest.String(), DiffID: sl.DiffID.String(), Size: sl.Size}
		sub := progress.Subtask{Kind: progress.SubtaskLayer, ID: l.Digest, Description: "layer " + shortDigest(l.Digest)}
		if s := sl.Store; s != nil {
			source := importer.Source{
				Name:      "containers-storage layer " + s.ID,
				Open:      s.Open,
				Exclusive: "containers-storage",
				OnFailed: func(err error) {
					if src.InPlace {
						return // the source itself: nothing else to fall back on
					}
					if derr := store.DropLayer(context.WithoutCancel(ctx), s.ID, err); derr != nil {
						err = errors.Join(err, derr)
					}
				},
			}
			if sameFS && s.Dir != "" {
				source.AdoptDir = s.Dir
			}
			l.Sources = append(l.Sources, source)
		}
		if !src.InPlace {
			l.Sources = append(l.Sources, importer.Source{
				Name: "blob " + l.Digest + " of " + ref.Imgref.String(),
				Open: func(ctx context.Context) (io.ReadCloser, error) {
					mu.Lock()
					f.Report.LayersFetched++
					mu.Unlock()
					var done int64
					return src.OpenLayer(ctx, i, func(n int64) {
						fetched.Add(n)
						done += n
						mu.Lock()
						rep.Bytes(sub, uint64(done), uint64(max(sl.Size, 0)))
						mu.Unlock()
					})
				},
			})
		}
		in.Layers = append(in.Layers, l)
	}
	iopts := opts.Import
	userOnLayer := iopts.OnLayer
	iopts.OnLayer = func(i int, l importer.Layer, reused bool) {
		if reused {
			mu.Lock()
			f.Report.LayersReused++
			mu.Unlock()
		}
		if userOnLayer != nil {
			userOnLayer(i, l, reused)
		}
	}
	if err := store.CheckFreeSpace(repo.Path(), missingBytes(ctx, repo, in), "importing "+ref.Imgref.String()); err != nil {
		return nil, err
	}
	verify, err := ostreeext.VerifierFor(ref, opts.Sysroot, repo)
	if err != nil {
		return nil, err
	}
	nres, err := ostreeext.ImportImage(ctx, repo, in, ostreeext.Options{Options: iopts, Verify: verify})
	if err != nil {
		return nil, err
	}
	res := &nres.Result
	rep.Done()
	f.Import = res
	f.Report.BytesFetched = fetched.Load()
	f.Report.LayersFromStore = res.Imported - f.Report.LayersFetched
	return f, nil
}

// missingBytes is the compressed size of the layers the repository lacks (an estimate of
// what the import writes).
func missingBytes(ctx context.Context, repo *ostree.Repo, img importer.Image) uint64 {
	var n uint64
	for _, l := range img.Layers {
		if c, err := repo.ResolveRev(ctx, imgref.BlobRef(l.Digest), true); err == nil && c != "" {
			continue
		}
		n += uint64(max(l.Size, 0))
	}
	return n
}

// KeepInStore puts f's image into store, rebuilt from the repository: the layers the
// store lacks are made from their recorded tar-splits with their files hardlinked from the
// repository's objects (copied where metadata differs or across filesystems), then the image
// is recorded under its source's name. It reports whether it created the image.
func KeepInStore(ctx context.Context, store *storage.Store, repo *ostree.Repo, f *Fetched, rules importer.PathRules) (*storage.Image, bool, error) {
	tmp, err := os.MkdirTemp("", "bootc-filtered-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(tmp)
	var layers []storage.PutLayer
	for i, sl := range f.source.Layers {
		pl := storage.PutLayer{CompressedDigest: sl.Digest, DiffID: sl.DiffID}
		commit := f.Import.LayerCommits[i]
		ts, err := importer.LayerTarSplit(ctx, repo, commit)
		if errors.Is(err, importer.ErrNoTarSplit) {
			// Imported by upstream bootc or the ostree CLI, or an ostree-native base layer:
			// the store can only reuse a layer it already has.
			layers = append(layers, pl)
			continue
		} else if err != nil {
			return nil, false, fmt.Errorf("layer %s: %w", sl.Digest, err)
		}
		objects, err := importer.LayerObjects(ctx, repo, commit, rules)
		if err != nil {
			return nil, false, fmt.Errorf("layer %s: %w", sl.Digest, err)
		}
		kept, err := importer.LayerFilteredFiles(ctx, repo, commit)
		if err != nil {
			return nil, false, fmt.Errorf("layer %s: %w", sl.Digest, err)
		}
		pl.TarSplit = ts
		pl.Resolve = func(name string) (string, error) {
			if csum, ok := objects(name); ok {
				return repo.ObjectPath(csum)
			}
			if data, ok := kept[importer.CleanEntryName(name)]; ok {
				// Content the repository does not keep in its trees (tmp/, run/...).
				p := filepath.Join(tmp, fmt.Sprintf("%d-%d", i, len(kept)))
				delete(kept, importer.CleanEntryName(name))
				return p, os.WriteFile(p, data, 0o600)
			}
			return "", fmt.Errorf("%s is not in the repository's layer commit %s", name, commit)
		}
		layers = append(layers, pl)
	}
	spec := storage.PutImageSpec{Name: f.source.Name, Named: f.source.Named, Source: f.source.Reference, Manifest: f.source.Manifest,
		ListManifest: f.source.ListManifest, Config: f.source.Config, Signatures: f.source.Signatures, Layers: layers}
	img, st, err := store.PutImage(ctx, spec)
	if err != nil {
		return nil, false, err
	}
	store.Logger().Debug().Str("image", spec.Name).Int("layersCreated", st.LayersCreated).Int("layersReused", st.LayersReused).
		Int("filesLinked", st.FilesLinked).Int("filesCopied", st.FilesCopied).Msg("kept in containers-storage")
	return img, st.ImageCreated, nil
}

// sameFilesystem reports whether a and b (or, for a missing a, its nearest existing
// parent) are on one filesystem.
func sameFilesystem(a, b string) bool {
	var sa, sb unix.Stat_t
	for unix.Stat(a, &sa) != nil {
		parent := filepath.Dir(a)
		if parent == a {
			return false
		}
		a = parent
	}
	return unix.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}

// syncFilesystem flushes the filesystem holding path (syncfs(2)).
func syncFilesystem(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

func shortDigest(d string) string {
	if i := len("sha256:"); len(d) > i+12 {
		return d[i : i+12]
	}
	return d
}
