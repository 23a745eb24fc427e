package storage

import (
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/types"
)

// ProgressKind says what a ProgressEvent reports.
type ProgressKind int

const (
	// ProgressStart: fetching a blob started.
	ProgressStart ProgressKind = iota
	// ProgressBytes: Fetched bytes of the blob have been read so far.
	ProgressBytes
	// ProgressDone: the blob was fetched completely (Fetched bytes).
	ProgressDone
	// ProgressSkipped: the blob was not fetched because the store already has it.
	ProgressSkipped
	// ProgressApplying: every byte of the layer has been read (Fetched == Total); the
	// store now writes it (decompresses and applies it, seconds for a large layer) before
	// the layer's ProgressDone. Only for layers whose size is known.
	ProgressApplying
)

// String returns the kind's name.
func (k ProgressKind) String() string {
	switch k {
	case ProgressStart:
		return "start"
	case ProgressBytes:
		return "bytes"
	case ProgressDone:
		return "done"
	case ProgressSkipped:
		return "skipped"
	case ProgressApplying:
		return "applying"
	}
	return "unknown"
}

// ProgressEvent reports progress on one blob (a layer, or the config) during Pull.
type ProgressEvent struct {
	// Kind says what happened.
	Kind ProgressKind
	// Digest and MediaType identify the blob, as listed in the manifest.
	Digest    digest.Digest
	MediaType string
	// Layer is the blob's index among the image's layers (base = 0), -1 for the config.
	Layer int
	// Total is the blob's size, -1 if unknown.
	Total int64
	// Fetched is the number of bytes read so far (ProgressBytes, ProgressDone).
	Fetched uint64
}

// PullReport summarises a pull: what was fetched and what was already in the store.
type PullReport struct {
	// InPlace: the source was this store; nothing was copied.
	InPlace bool
	// LayersFetched and LayersReused count the image's layers fetched and skipped.
	LayersFetched, LayersReused int
	// BytesFetched is the number of blob bytes read from the source (layers and config).
	BytesFetched uint64
}

// pullTracker follows the progress events of one copy: it resolves blob digests to layer
// indexes, remembers which blobs are in flight (to name them when the copy fails) and counts
// fetched and skipped layers.
type pullTracker struct {
	mu       sync.Mutex
	layerIdx map[digest.Digest]int
	config   digest.Digest
	inFlight map[digest.Digest]bool
	rep      PullReport
}

func newPullTracker(ri *RemoteImage) *pullTracker {
	t := &pullTracker{layerIdx: map[digest.Digest]int{}, config: ri.ConfigDigest, inFlight: map[digest.Digest]bool{}}
	// Sources such as containers-storage serve layers uncompressed, under their diff IDs.
	for i, l := range ri.Layers {
		for _, d := range []digest.Digest{l.Digest, l.DiffID} {
			if _, ok := t.layerIdx[d]; !ok && d != "" {
				t.layerIdx[d] = i
			}
		}
	}
	return t
}

// observe records p and converts it to a ProgressEvent.
func (t *pullTracker) observe(p types.ProgressProperties) ProgressEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := p.Artifact.Digest
	idx, isLayer := t.layerIdx[d]
	if !isLayer {
		idx = -1
	}
	ev := ProgressEvent{Digest: d, MediaType: p.Artifact.MediaType, Layer: idx, Total: p.Artifact.Size, Fetched: p.Offset}
	switch p.Event {
	case types.ProgressEventNewArtifact:
		ev.Kind = ProgressStart
		t.inFlight[d] = true
	case types.ProgressEventRead:
		ev.Kind = ProgressBytes
	case types.ProgressEventDone:
		ev.Kind = ProgressDone
		delete(t.inFlight, d)
		t.rep.BytesFetched += p.Offset
		if isLayer {
			t.rep.LayersFetched++
		}
	case types.ProgressEventSkipped:
		ev.Kind = ProgressSkipped
		delete(t.inFlight, d)
		if isLayer {
			t.rep.LayersReused++
		}
	default:
		ev.Kind = ProgressBytes
	}
	return ev
}

// report returns the counts so far.
func (t *pullTracker) report() PullReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rep
}

// blame wraps a copy error, naming the blobs that started but did not finish (the ones that
// failed) unless the error already names one.
func (t *pullTracker) blame(source string, err error) error {
	t.mu.Lock()
	blobs := make([]digest.Digest, 0, len(t.inFlight))
	for d := range t.inFlight {
		blobs = append(blobs, d)
	}
	t.mu.Unlock()
	slices.Sort(blobs)
	return blameBlobs(source, blobs, err)
}
