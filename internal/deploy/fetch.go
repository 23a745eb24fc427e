package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
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
	// Progress receives the pulling and importing tasks (nil: none).
	Progress progress.Reporter
}

// Fetched is an image pulled into the store and imported into the repository.
type Fetched struct {
	Ref    imgref.OstreeImageReference
	Image  *storage.Image
	Import *importer.Result
	// Created is set when the pull created Image in the store (it was not there before).
	Created bool
}

// PullOptionsFor fills the source and signature settings of base for ref.
func PullOptionsFor(ref imgref.OstreeImageReference, base storage.PullOptions) (storage.PullOptions, error) {
	if ref.Sigverify.Kind == imgref.SigVerifyOstreeRemote {
		return base, fmt.Errorf("%s: verifying images through an ostree remote is not supported; use ostree-image-signed: with a containers policy", ref)
	}
	base.Source = ref.Imgref.ContainersImageName()
	base.RequireSignedPolicy = ref.Sigverify.Kind == imgref.SigVerifyContainerPolicy
	return base, nil
}

// Fetch pulls ref into the containers-storage store (layers already there are not fetched
// again; a containers-storage: image of this store is read in place) and imports it into
// repo (layers already imported are not imported again).
func Fetch(ctx context.Context, store *storage.Store, repo *ostree.Repo, ref imgref.OstreeImageReference, opts FetchOptions) (*Fetched, error) {
	rep := opts.Progress
	if rep == nil {
		rep = progress.Nop{}
	}
	po, err := PullOptionsFor(ref, opts.Pull)
	if err != nil {
		return nil, err
	}
	rep.Start(progress.Task{Name: progress.TaskPulling, Description: "Pulling " + ref.Imgref.String()})
	userProgress := po.Progress
	po.Progress = func(ev storage.ProgressEvent) {
		if ev.Layer >= 0 && (ev.Kind == storage.ProgressBytes || ev.Kind == storage.ProgressDone) {
			rep.Bytes(progress.Subtask{Kind: progress.SubtaskLayer, ID: ev.Digest.String(),
				Description: "layer " + ev.Digest.Encoded()[:12]}, ev.Fetched, uint64(max(ev.Total, 0)))
		}
		if userProgress != nil {
			userProgress(ev)
		}
	}
	before, err := store.Images(ctx)
	if err != nil {
		return nil, err
	}
	img, err := store.Pull(ctx, po)
	if err != nil {
		return nil, err
	}
	// containers-storage does not flush the layer files it writes, only its metadata: after
	// a power cut its metadata can list a complete layer whose files (or the driver's
	// link/lower files) are empty or missing, and every later pull trusts it
	// (containers/storage#1064). Make what was pulled durable before building on it.
	if err := syncFilesystem(store.GraphRoot()); err != nil {
		return nil, fmt.Errorf("syncing containers-storage at %s: %w", store.GraphRoot(), err)
	}
	rep.Done()
	// An image this pull created is removed again if it cannot be imported, so bad input
	// leaves the store as it was.
	created := !slices.ContainsFunc(before, func(s storage.ImageSummary) bool { return s.ID == img.ID })

	layers := img.Layers()
	in := importer.Image{Target: ref.Imgref, ManifestDigest: img.ManifestDigest.String(),
		Manifest: img.Manifest, Config: img.Config}
	for _, l := range layers {
		in.Layers = append(in.Layers, importer.Layer{
			Digest: l.CompressedDigest.String(), DiffID: l.UncompressedDigest.String(), Size: l.UncompressedSize,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return store.LayerDiff(ctx, l) },
		})
	}
	iopts := opts.Import
	rep.Start(progress.Task{Name: progress.TaskImporting, Description: "Importing " + ref.Imgref.String()})
	userOnBytes := iopts.OnBytes
	iopts.OnBytes = func(i int, n int64) {
		rep.Bytes(progress.Subtask{Kind: progress.SubtaskLayer, ID: in.Layers[i].Digest,
			Description: "layer " + shortDigest(in.Layers[i].Digest)}, uint64(n), uint64(max(in.Layers[i].Size, 0)))
		if userOnBytes != nil {
			userOnBytes(i, n)
		}
	}
	res, err := importer.ImportImage(ctx, repo, in, iopts)
	if err != nil {
		if created {
			if derr := store.Delete(context.WithoutCancel(ctx), img.ID); derr != nil {
				err = errors.Join(err, fmt.Errorf("removing the image again: %w", derr))
			}
		}
		return nil, err
	}
	rep.Done()
	return &Fetched{Ref: ref, Image: img, Import: res, Created: created}, nil
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
