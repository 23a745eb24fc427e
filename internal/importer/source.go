package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/bootc-go/bootc/ostree"
)

// Source is one way to read a layer, such as "the containers-storage layer" or "the
// registry blob". A Layer lists its sources in order of preference; ImportImage tries them
// in turn until one gives a stream that imports and matches the layer's diff ID.
type Source struct {
	// Name names the source in errors and logs.
	Name string
	// Open returns the layer's uncompressed tar. It is called at most once per import of
	// the layer, and only when the layer is not in the repository.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// AdoptDir, if set, is a directory holding the layer's files unpacked at their tar
	// paths (a containers-storage overlay diff directory). The layer is then imported in
	// adopt mode: regular files are hardlinked into a bare repository from there, once
	// checked identical, instead of being copied (LayerOptions.AdoptDir).
	AdoptDir string
	// Exclusive, if set, is a key that sources which must not be read at the same time
	// share (containers-storage readers hold the store's layer lock): at most one source
	// per key is being imported at a time.
	Exclusive string
	// OnFailed, if set, is called with the error when this source could not be read or
	// its stream did not match the layer (diff ID, tar format), before the next source is
	// tried. It is not called for cancellation.
	OnFailed func(err error)
}

// sources returns the layer's sources; the single Open function counts as a last one.
func (l Layer) sources() []Source {
	out := l.Sources
	if l.Open != nil {
		out = append(out[:len(out):len(out)], Source{Name: "layer stream", Open: l.Open})
	}
	return out
}

// scheduler bounds concurrent layer imports and serialises sources sharing an Exclusive
// key. Keys are taken before slots, so a task waiting for a key holds no slot.
type scheduler struct {
	slots chan struct{}
	mu    sync.Mutex
	keys  map[string]chan struct{}
}

func newScheduler(n int) *scheduler {
	return &scheduler{slots: make(chan struct{}, n), keys: map[string]chan struct{}{}}
}

// acquire waits for key (if any) and a slot; release undoes it.
func (s *scheduler) acquire(ctx context.Context, key string) (release func(), err error) {
	var k chan struct{}
	if key != "" {
		s.mu.Lock()
		k = s.keys[key]
		if k == nil {
			k = make(chan struct{}, 1)
			s.keys[key] = k
		}
		s.mu.Unlock()
		select {
		case k <- struct{}{}:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		if k != nil {
			<-k
		}
		return nil, context.Cause(ctx)
	}
	return func() {
		<-s.slots
		if k != nil {
			<-k
		}
	}, nil
}

// importLayerSources imports a layer from the first of its sources that works.
func importLayerSources(ctx context.Context, repo *ostree.Repo, sched *scheduler, l Layer, lopts LayerOptions, noTarSplit bool) (string, Stats, error) {
	srcs := l.sources()
	if len(srcs) == 0 {
		return "", Stats{}, errors.New("not in the repository and no way to read it")
	}
	var errs []error
	for n, src := range srcs {
		release, err := sched.acquire(ctx, src.Exclusive)
		if err != nil {
			return "", Stats{}, err
		}
		commit, st, err := importFromSource(ctx, repo, l, src, lopts, n < len(srcs)-1, noTarSplit)
		release()
		if err == nil {
			return commit, st, nil
		}
		if ctx.Err() != nil {
			return "", Stats{}, err
		}
		var refused *refusedError
		if errors.As(err, &refused) {
			// The stream is the layer (diff ID checked) and the layer itself is bad: every
			// source would give the same; this one is not at fault.
			return "", Stats{}, fmt.Errorf("from %s: %w", src.Name, refused.err)
		}
		err = fmt.Errorf("from %s: %w", src.Name, err)
		if src.OnFailed != nil {
			src.OnFailed(err)
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return "", Stats{}, errs[0]
	}
	return "", Stats{}, errors.Join(errs...)
}

// importFromSource reads one source: the stream is checked against the diff ID (whatever
// produced it, a registry blob or a tar reassembled by containers-storage from files on
// disk, must give the layer the config names, or its commit is not used) and its tar-split
// is recorded in the layer commit's detached metadata.
//
// When the import fails and prove is set (other sources remain), the rest of the stream is
// read to check it against the diff ID anyway: if it matches, the layer content itself was
// refused (bad input, the same from every source) and a *refusedError says so.
func importFromSource(ctx context.Context, repo *ostree.Repo, l Layer, src Source, lopts LayerOptions, prove, noTarSplit bool) (string, Stats, error) {
	if src.Open == nil {
		return "", Stats{}, errors.New("source has no Open function")
	}
	rc, err := src.Open(ctx)
	if err != nil {
		return "", Stats{}, err
	}
	defer rc.Close()
	var r io.Reader = rc
	h := sha256.New()
	verify := strings.HasPrefix(l.DiffID, "sha256:")
	if verify {
		r = io.TeeReader(rc, h)
	}
	lopts.AdoptDir = src.AdoptDir
	var ts *tarSplitRecorder
	in := r
	if !noTarSplit {
		ts = recordTarSplit(r)
		lopts.onHeader, lopts.onFile = ts.header, ts.file
		in = ts
	}
	commit, st, err := ImportLayer(ctx, repo, in, lopts)
	if err != nil {
		if prove && verify && ctx.Err() == nil && !errors.Is(err, errAdoptDir) {
			if _, rerr := io.Copy(io.Discard, r); rerr == nil &&
				"sha256:"+hex.EncodeToString(h.Sum(nil)) == l.DiffID {
				return "", st, &refusedError{err: err}
			}
		}
		return "", st, err
	}
	var split []byte
	if ts != nil {
		split, err = ts.finish()
	} else if _, err = io.Copy(io.Discard, r); err != nil {
		err = fmt.Errorf("reading the end of the layer: %w", err)
	}
	if err != nil {
		return "", st, err
	}
	if verify {
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != l.DiffID {
			return "", st, fmt.Errorf("layer content has digest %s, not its diff ID %s", got, l.DiffID)
		}
	}
	if split != nil {
		if err := repo.WriteDetachedMetadata(ctx, commit, ostree.Metadata{MetaTarSplit: split}); err != nil {
			return "", st, err
		}
	}
	return commit, st, nil
}

// refusedError is an import failure on a stream that is the layer (its digest is the diff
// ID): the layer's content is refused, whatever source it comes from.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }
