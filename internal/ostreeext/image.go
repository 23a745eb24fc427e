package ostreeext

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
)

// Options control ImportImage beyond the generic importer's options.
type Options struct {
	importer.Options
	// Verify, if set, checks the signature of the image's commit before any of it is
	// written (see RemoteVerifier). A verifier on an image that is not ostree-native is an
	// error: there is no commit to verify.
	Verify Verifier
}

// Result describes an imported ostree-native image.
type Result struct {
	importer.Result
	// Native is set when the image was ostree-native (otherwise the generic importer
	// imported it and the fields below are empty).
	Native bool
	// BaseCommit is the ostree commit the image encapsulates (the image commit's parent).
	BaseCommit string
	// Verified describes the signatures checked on the base commit ("" when none were).
	Verified string
	// Objects counts the objects of the base layers imported now and found in the repo.
	Objects ObjectStats
	// ChunksImported counts the chunk layers (and the commit layer) read now.
	ChunksImported int
}

// ImportImage imports img into repo. An ostree-native image has its commit layer and
// chunk layers imported as ostree objects (the base commit is exactly the one the image
// names, detached metadata included) and its derived layers imported on top as generic
// layers; any other image goes to importer.ImportImage. Everything happens in one
// transaction: on error no ref changes.
func ImportImage(ctx context.Context, repo *ostree.Repo, img importer.Image, opts Options) (*Result, error) {
	layout, err := ParseLayout(img.Manifest, img.Config)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.Target, err)
	}
	if layout == nil {
		if opts.Verify != nil {
			return nil, fmt.Errorf("image %s is not an ostree-native image (no %s label): its signature cannot be verified with an ostree remote", img.Target, LabelFinalDiffID)
		}
		res, err := importer.ImportImage(ctx, repo, img, opts.Options)
		if err != nil {
			return nil, err
		}
		return &Result{Result: *res}, nil
	}
	if opts.Verify != nil && layout.Derived < len(img.Layers) {
		// As upstream: the signature covers the commit, not layers built on it.
		return nil, fmt.Errorf("image %s: cannot verify layered containers via an ostree remote (%d derived layers)", img.Target, len(img.Layers)-layout.Derived)
	}
	if layout.Derived > len(img.Layers) {
		return nil, fmt.Errorf("image %s: layout does not match its %d layers", img.Target, len(img.Layers))
	}
	if err := checkArch(img, opts.Architecture); err != nil {
		return nil, err
	}
	meta, err := importer.ImageMetadata(img)
	if err != nil {
		return nil, err
	}
	ts, err := importer.ImageTimestamp(img)
	if err != nil {
		return nil, err
	}
	res := &Result{Native: true}
	res.Stats.Filtered = map[string]int{}
	var newCommit string // a base commit object written now
	err = repo.WithTransaction(ctx, func(tx *ostree.Transaction) error {
		base, err := importBase(ctx, repo, tx, img, layout, opts, res, &newCommit)
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Target, err)
		}
		res.BaseCommit = base
		derived, err := importDerived(ctx, repo, tx, img, layout, base, opts, res)
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Target, err)
		}
		var merged *ostree.MutableTree
		if len(derived) == 0 {
			merged, err = repo.NewMutableTreeFromCommit(base)
		} else {
			merged, err = importer.MergeLayers(ctx, repo, append([]string{base}, derived...))
		}
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Target, err)
		}
		defer merged.Close()
		if err := importer.FinishTree(ctx, repo, merged, opts.AllowUnbootable); err != nil {
			return fmt.Errorf("image %s: %w", img.Target, err)
		}
		res.Commit, err = repo.WriteCommit(ctx, merged, ostree.CommitOptions{Parent: base, Metadata: meta, Timestamp: ts})
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Target, err)
		}
		tx.SetRef(imgref.ImageRef(img.Target), res.Commit)
		return nil
	})
	if err != nil {
		if newCommit != "" {
			// Not staged by the transaction (see writeHeldCommit): remove it by hand.
			if derr := repo.DeleteObject(ctx, ostree.ObjectCommit, newCommit); derr != nil {
				err = errors.Join(err, derr)
			}
		}
		return nil, err
	}
	return res, nil
}

func checkArch(img importer.Image, want string) error {
	var cfg struct {
		Architecture string `json:"architecture"`
	}
	if err := json.Unmarshal(img.Config, &cfg); err != nil {
		return fmt.Errorf("image %s: parsing config: %w", img.Target, err)
	}
	if want == "" {
		want = runtime.GOARCH
	}
	if cfg.Architecture != want {
		return fmt.Errorf("image %s is for architecture %q, not %q", img.Target, cfg.Architecture, want)
	}
	return nil
}

// verifiedReader checks the diff ID of the stream it reads once it is read to the end.
type verifiedReader struct {
	r      io.Reader
	h      hash.Hash
	diffID string
}

func newVerified(r io.Reader, diffID string) *verifiedReader {
	v := &verifiedReader{r: r, diffID: diffID}
	if strings.HasPrefix(diffID, "sha256:") {
		v.h = sha256.New()
		v.r = io.TeeReader(r, v.h)
	}
	return v
}

func (v *verifiedReader) Read(p []byte) (int, error) { return v.r.Read(p) }

// finish reads what is left (tar padding) and compares the digest.
func (v *verifiedReader) finish() error {
	if _, err := io.Copy(io.Discard, v.r); err != nil {
		return fmt.Errorf("reading the end of the layer: %w", err)
	}
	if v.h == nil {
		return nil
	}
	if got := "sha256:" + hex.EncodeToString(v.h.Sum(nil)); got != v.diffID {
		return fmt.Errorf("layer content has digest %s, not its diff ID %s", got, v.diffID)
	}
	return nil
}

// importBase imports the commit layer, then the chunk layers, each unless its blob ref is
// already there, and returns the base commit. The commit layer comes first so that a bad
// signature is refused before any chunk is fetched.
func importBase(ctx context.Context, repo *ostree.Repo, tx *ostree.Transaction, img importer.Image,
	layout *Layout, opts Options, res *Result, newCommit *string) (string, error) {
	order := append([]int{0}, layout.Chunks...)
	var base string
	var held *heldCommit
	imported := false
	for _, i := range order {
		l := img.Layers[i]
		ref := imgref.BlobRef(l.Digest)
		commit, err := repo.ResolveRev(ctx, ref, true)
		if err != nil {
			return "", err
		}
		if commit != "" {
			if opts.OnLayer != nil {
				opts.OnLayer(i, l, true)
			}
			res.Reused++
			if i == 0 && opts.Verify != nil {
				// Already imported (perhaps unverified): verify what the repo holds.
				if res.Verified, err = verifyStored(ctx, repo, commit, opts.Verify); err != nil {
					return "", fmt.Errorf("commit layer %s: %w", l.Digest, err)
				}
			}
		} else {
			if opts.OnLayer != nil {
				opts.OnLayer(i, l, false)
			}
			commit, err = importOstreeLayer(ctx, repo, i, l, i == 0, opts, res, &held)
			if err != nil {
				kind := "chunk layer"
				if i == 0 {
					kind = "commit layer"
				}
				return "", fmt.Errorf("%s %s: %w", kind, l.Digest, err)
			}
			res.Imported++
			res.ChunksImported++
			imported = true
		}
		tx.SetRef(ref, commit)
		res.LayerCommits = append(res.LayerCommits, commit)
		if i == 0 {
			base = commit
			if layout.Commit != "" && commit != layout.Commit {
				return "", fmt.Errorf("label %s names commit %s, but the commit layer %s holds %s", LabelCommit, layout.Commit, l.Digest, commit)
			}
		}
	}
	if held != nil {
		wrote, err := writeHeldCommit(ctx, repo, held, &res.Objects)
		if wrote {
			*newCommit = base
		}
		if err != nil {
			return "", fmt.Errorf("commit %s: %w", base, err)
		}
	}
	if imported {
		if err := checkComplete(ctx, repo, base); err != nil {
			return "", fmt.Errorf("commit %s: %w", base, err)
		}
	}
	return base, nil
}

func importOstreeLayer(ctx context.Context, repo *ostree.Repo, i int, l importer.Layer, commitLayer bool, opts Options, res *Result, held **heldCommit) (string, error) {
	var verify Verifier
	if commitLayer {
		verify = opts.Verify
	}
	return withSources(ctx, l, func(vr *verifiedReader) (string, error) {
		o := newObjectImporter(ctx, repo, commitLayer, verify)
		o.writers = opts.Writers
		if opts.OnBytes != nil {
			o.onBytes = func(n int64) { opts.OnBytes(i, n) }
		}
		if err := o.importTar(vr); err != nil {
			return "", err
		}
		if err := vr.finish(); err != nil {
			return "", err
		}
		res.Objects.add(o.stats)
		if commitLayer {
			res.Verified = o.verified
			*held = &heldCommit{checksum: o.checksum, data: o.commitBytes, meta: o.heldMeta}
			return o.checksum, nil
		}
		return writeObjectSetCommit(ctx, repo, o.objectSet)
	})
}

// refusedError is a failure of the layer itself (a refused signature, or content refused
// although the stream matches the diff ID): every source would give the same.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// withSources runs fn on the stream of each of the layer's sources (importer.Layer.Sources,
// then Open) in turn until one works, as the generic importer does: a source whose stream
// fails is reported (Source.OnFailed) and the next one tried, unless the failure is the
// layer's own (a refused signature, or a stream that matches the diff ID all the same).
// Adopt directories are not used: ostree-native layers carry objects, not a tree.
func withSources(ctx context.Context, l importer.Layer, fn func(vr *verifiedReader) (string, error)) (string, error) {
	srcs := l.Sources[:len(l.Sources):len(l.Sources)]
	if l.Open != nil {
		srcs = append(srcs, importer.Source{Name: "layer stream", Open: l.Open})
	}
	if len(srcs) == 0 {
		return "", errors.New("not in the repository and no way to read it")
	}
	var errs []error
	for n, src := range srcs {
		last := n == len(srcs)-1
		commit, err := func() (string, error) {
			if src.Open == nil {
				return "", errors.New("source has no Open function")
			}
			rc, err := src.Open(ctx)
			if err != nil {
				return "", err
			}
			defer rc.Close()
			vr := newVerified(rc, l.DiffID)
			commit, err := fn(vr)
			if err == nil {
				return commit, nil
			}
			var refused *refusedError
			if errors.As(err, &refused) {
				return "", err
			}
			if ctx.Err() == nil && !last && vr.h != nil && vr.finish() == nil {
				return "", &refusedError{err} // the stream is the layer: the layer itself is bad
			}
			return "", err
		}()
		if err == nil {
			return commit, nil
		}
		var refused *refusedError
		if ctx.Err() != nil || errors.As(err, &refused) {
			if len(srcs) > 1 {
				return "", fmt.Errorf("from %s: %w", src.Name, err)
			}
			return "", err
		}
		if len(srcs) > 1 {
			err = fmt.Errorf("from %s: %w", src.Name, err)
		}
		if src.OnFailed != nil {
			src.OnFailed(err)
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return "", errs[0]
	}
	return "", errors.Join(errs...)
}

// verifyStored verifies the signature of a commit already in the repository.
func verifyStored(ctx context.Context, repo *ostree.Repo, commit string, verify Verifier) (string, error) {
	b, err := repo.LoadObjectBytes(ctx, ostree.ObjectCommit, commit)
	if err != nil {
		return "", err
	}
	meta, err := repo.LoadDetachedMetadataBytes(ctx, commit)
	if err != nil {
		return "", err
	}
	text, err := verify(ctx, b, meta)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", commit, err)
	}
	return text, nil
}

// checkComplete checks that every object the commit's tree names is in the repository,
// so that a chunk layer that lacks objects is an error now rather than at deployment.
func checkComplete(ctx context.Context, repo *ostree.Repo, commit string) error {
	c, err := repo.ReadCommit(ctx, commit)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var walk func(tree, meta, path string) error
	walk = func(tree, meta, path string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, o := range []struct {
			typ ostree.ObjectType
			sum string
		}{{ostree.ObjectDirTree, tree}, {ostree.ObjectDirMeta, meta}} {
			have, err := repo.HasObject(ctx, o.typ, o.sum)
			if err != nil {
				return err
			}
			if !have {
				return fmt.Errorf("%s object %s of /%s is missing", o.typ, o.sum, path)
			}
		}
		if seen[tree] {
			return nil
		}
		seen[tree] = true
		files, dirs, err := repo.ReadDirTree(ctx, tree)
		if err != nil {
			return err
		}
		for _, f := range files {
			have, err := repo.HasObject(ctx, ostree.ObjectFile, f.Checksum)
			if err != nil {
				return err
			}
			if !have {
				return fmt.Errorf("file object %s of /%s is missing", f.Checksum, filepath.Join(path, f.Name))
			}
		}
		for _, d := range dirs {
			if err := walk(d.Tree, d.Meta, filepath.Join(path, d.Name)); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(c.RootContents, c.RootMeta, "")
}

// importDerived imports the layers after the final diff ID as generic layers, through
// filterDerived, and returns their layer commits.
func importDerived(ctx context.Context, repo *ostree.Repo, tx *ostree.Transaction, img importer.Image,
	layout *Layout, base string, opts Options, res *Result) ([]string, error) {
	if layout.Derived >= len(img.Layers) {
		return nil, nil
	}
	nonUsr, err := allowsNonUsr(ctx, repo, base)
	if err != nil {
		return nil, err
	}
	rules := opts.Rules
	rules.UsrOnly = !nonUsr
	byDiffID, err := importer.KnownDiffIDs(ctx, repo)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := layout.Derived; i < len(img.Layers); i++ {
		l := img.Layers[i]
		commit, err := repo.ResolveRev(ctx, imgref.BlobRef(l.Digest), true)
		if err != nil {
			return nil, err
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
			commit, err = importDerivedLayer(ctx, repo, i, l, rules, opts, res)
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			res.Imported++
		}
		tx.SetRef(imgref.BlobRef(l.Digest), commit)
		res.LayerCommits = append(res.LayerCommits, commit)
		out = append(out, commit)
	}
	return out, nil
}

func importDerivedLayer(ctx context.Context, repo *ostree.Repo, i int, l importer.Layer, rules importer.PathRules,
	opts Options, res *Result) (string, error) {
	return withSources(ctx, l, func(vr *verifiedReader) (string, error) {
		pr, pw := io.Pipe()
		filtered := map[string]int{}
		filterErr := make(chan error, 1)
		go func() {
			err := filterDerived(ctx, vr, pw, filepath.Join(repo.Path(), "tmp"), filtered)
			pw.CloseWithError(err)
			filterErr <- err
		}()
		lopts := importer.LayerOptions{Rules: rules, Writers: opts.Writers,
			Metadata: ostree.Metadata{importer.MetaImporter: importer.ImporterVersion}}
		if opts.OnBytes != nil {
			lopts.OnBytes = func(n int64) { opts.OnBytes(i, n) }
		}
		commit, st, err := importer.ImportLayer(ctx, repo, pr, lopts)
		if err != nil {
			pr.CloseWithError(err)
			<-filterErr
			return "", err
		}
		// The importer stops at the end-of-archive marker: let the filter finish.
		if _, err := io.Copy(io.Discard, pr); err != nil {
			return "", err
		}
		if err := <-filterErr; err != nil {
			return "", err
		}
		if err := vr.finish(); err != nil {
			return "", err
		}
		for k, v := range filtered {
			st.Filtered[k] += v
		}
		res.Stats.AddStats(st)
		return commit, nil
	})
}

func init() {
	importer.NativeImport = func(ctx context.Context, repo *ostree.Repo, img importer.Image, opts importer.Options) (*importer.Result, bool, error) {
		layout, err := ParseLayout(img.Manifest, img.Config)
		if err != nil {
			return nil, true, fmt.Errorf("image %s: %w", img.Target, err)
		}
		if layout == nil {
			return nil, false, nil
		}
		res, err := ImportImage(ctx, repo, img, Options{Options: opts})
		if err != nil {
			return nil, true, err
		}
		return &res.Result, true, nil
	}
}
