package storage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bootc-go/bootc/storage/storagetest"
	"github.com/opencontainers/go-digest"
)

// threeLayers is a small multi-layer image: a base with directories, files, a symlink and a
// hard link; a middle layer with owned files and an xattr; a small top layer.
func threeLayers(top string) storagetest.ImageSpec {
	return storagetest.ImageSpec{
		Labels: map[string]string{"containers.bootc": "1", "org.example.top": top},
		Layers: [][]storagetest.File{
			{
				{Path: "usr/", Type: tar.TypeDir},
				{Path: "usr/bin/", Type: tar.TypeDir},
				{Path: "usr/bin/tool", Mode: 0o755, Content: storagetest.Bytes("tool", 64<<10)},
				{Path: "usr/bin/tool-link", Type: tar.TypeSymlink, Linkname: "tool"},
				{Path: "usr/bin/tool-hard", Type: tar.TypeLink, Linkname: "usr/bin/tool"},
				{Path: "etc/", Type: tar.TypeDir},
				{Path: "etc/os-release", Content: []byte("ID=test\n")},
			},
			{
				{Path: "usr/share/", Type: tar.TypeDir},
				{Path: "usr/share/data", Content: storagetest.Bytes("data", 32<<10), UID: 1000, GID: 1000},
				{Path: "usr/share/attr", Content: []byte("x"), Xattrs: map[string]string{"user.test": "value"}},
			},
			{
				{Path: "etc/version", Content: []byte(top + "\n")},
			},
		},
	}
}

// tarNames lists the entry names of a tar stream.
func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		names = append(names, h.Name)
	}
}

// checkLayers compares a pulled image's layers with the generated ones, including the
// streamed diff of each layer.
func checkLayers(t *testing.T, s *Store, img *Image, want *storagetest.Image) {
	t.Helper()
	layers := img.Layers()
	if len(layers) != len(want.Layers) {
		t.Fatalf("image %s has %d layers, want %d", img.ID, len(layers), len(want.Layers))
	}
	for i, l := range layers {
		w := want.Layers[i]
		if l.CompressedDigest != w.Digest || l.UncompressedDigest != w.DiffID || l.MediaType != w.MediaType || l.CompressedSize != w.Size {
			t.Errorf("layer %d = %+v, want digest %s diffID %s type %s size %d", i, l, w.Digest, w.DiffID, w.MediaType, w.Size)
		}
		if l.UncompressedSize != int64(len(w.Tar)) {
			t.Errorf("layer %d uncompressed size %d, want %d", i, l.UncompressedSize, len(w.Tar))
		}
		rc, err := s.LayerDiff(context.Background(), l)
		if err != nil {
			t.Fatalf("LayerDiff(%d): %v", i, err)
		}
		got, err := io.ReadAll(rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("reading diff of layer %d: %v", i, err)
		}
		if d := digest.FromBytes(got); d != w.DiffID {
			t.Errorf("layer %d diff digest %s, want diff ID %s", i, d, w.DiffID)
		}
		if !bytes.Equal(got, w.Tar) {
			t.Errorf("layer %d diff differs from the original tar: entries %v, want %v", i, tarNames(t, got), tarNames(t, w.Tar))
		}
	}
}

// testPolicy writes a policy.json accepting anything and returns its path.
func testPolicy(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.json")
	writeFile(t, p, content)
	return p
}

const acceptAnything = `{"default":[{"type":"insecureAcceptAnything"}]}`

func TestPullOCI(t *testing.T) {
	s := newTestStore(t, nil)
	ctx := context.Background()
	gen, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	policy := testPolicy(t, acceptAnything)

	var mu sync.Mutex
	var events []ProgressEvent
	img, err := s.Pull(ctx, PullOptions{
		Source:          gen.Reference(),
		SignaturePolicy: policy,
		Progress: func(ev ProgressEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if want := gen.ConfigDigest.Encoded(); img.ID != want {
		t.Errorf("image ID %s, want the config digest %s", img.ID, want)
	}
	if img.ManifestDigest != gen.ManifestDigest || !bytes.Equal(img.Manifest, gen.Manifest) {
		t.Errorf("manifest %s, want %s (byte-identical)", img.ManifestDigest, gen.ManifestDigest)
	}
	if img.ConfigDigest != gen.ConfigDigest || !bytes.Equal(img.Config, gen.Config) {
		t.Errorf("config %s differs from the generated %s", img.ConfigDigest, gen.ConfigDigest)
	}
	if img.OCIConfig == nil || img.OCIConfig.Architecture != "amd64" || img.OCIConfig.Config.Labels["containers.bootc"] != "1" || len(img.OCIConfig.RootFS.DiffIDs) != 3 {
		t.Errorf("parsed config = %+v", img.OCIConfig)
	}
	if !img.Pulled {
		t.Error("image not marked as pulled by bootc")
	}
	if len(img.Names) != 1 || !strings.HasPrefix(img.Names[0], "localhost/bootc/oci:") {
		t.Errorf("names %v, want one generated localhost/bootc/oci:<hash> name", img.Names)
	}
	if r := img.Report; r == nil || r.LayersFetched != 3 || r.LayersReused != 0 || r.BytesFetched == 0 {
		t.Errorf("report %+v, want 3 layers fetched", img.Report)
	}
	checkLayers(t, s.Store, img, gen)

	// Progress: a start, an applying (right after the bytes event reporting the whole
	// layer read) and a done event per layer, in that order.
	mu.Lock()
	for i, l := range gen.Layers {
		var kinds []ProgressKind
		var prev *ProgressEvent
		for _, ev := range events {
			if ev.Digest == l.Digest {
				if ev.Layer != i {
					t.Errorf("event for %s says layer %d, want %d", l.Digest, ev.Layer, i)
				}
				if ev.Kind == ProgressApplying && (prev == nil || prev.Kind != ProgressBytes || prev.Fetched != uint64(l.Size) || ev.Total != l.Size) {
					t.Errorf("layer %d: applying event %+v after %+v, want it after the bytes event of all %d bytes", i, ev, prev, l.Size)
				}
				if ev.Kind != ProgressBytes {
					kinds = append(kinds, ev.Kind)
				}
				prev = &ev
			}
		}
		if !slices.Equal(kinds, []ProgressKind{ProgressStart, ProgressApplying, ProgressDone}) {
			t.Errorf("layer %d events %v, want start, applying, done", i, kinds)
		}
	}
	mu.Unlock()

	// The same image by name, and pulling it again fetches no layer.
	byName, err := s.Image(ctx, img.Names[0])
	if err != nil || byName.ID != img.ID {
		t.Fatalf("Image(%s) = %v, %v", img.Names[0], byName, err)
	}
	again, err := s.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: policy})
	if err != nil {
		t.Fatalf("second Pull: %v", err)
	}
	if again.ID != img.ID || again.Report.LayersFetched != 0 || again.Report.LayersReused != 3 {
		t.Errorf("second pull: ID %s report %+v, want %s with 3 layers reused", again.ID, again.Report, img.ID)
	}

	// An explicit name.
	named, err := s.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: policy, Name: "localhost/test/named:v1"})
	if err != nil {
		t.Fatalf("Pull with a name: %v", err)
	}
	if named.ID != img.ID || !slices.Contains(named.Names, "localhost/test/named:v1") {
		t.Errorf("named pull: %s %v", named.ID, named.Names)
	}
}

// TestConcurrentPulls pulls two images sharing layers at the same time into one store, and
// reads a layer while a pull runs.
func TestConcurrentPulls(t *testing.T) {
	s := newTestStore(t, nil)
	ctx := context.Background()
	layout := filepath.Join(t.TempDir(), "layout")
	policy := testPolicy(t, acceptAnything)
	var gens []*storagetest.Image
	for _, tag := range []string{"a", "b", "c"} {
		g, err := storagetest.WriteOCI(layout, tag, threeLayers(tag))
		if err != nil {
			t.Fatal(err)
		}
		gens = append(gens, g)
	}
	first, err := s.Pull(ctx, PullOptions{Source: gens[0].Reference(), SignaturePolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(gens))
	for i, g := range gens[1:] {
		wg.Go(func() {
			img, err := s.Pull(ctx, PullOptions{Source: g.Reference(), SignaturePolicy: policy})
			if err == nil && img.ConfigDigest != g.ConfigDigest {
				err = io.ErrUnexpectedEOF
			}
			errs[i+1] = err
		})
	}
	wg.Go(func() {
		rc, err := s.LayerDiff(ctx, first.Layers()[0])
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		errs[0] = err
	})
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
}

// TestLayerDiffCancel: reading a layer diff stops when the context is cancelled.
func TestLayerDiffCancel(t *testing.T) {
	s := newTestStore(t, nil)
	gen, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Pull(context.Background(), PullOptions{Source: gen.Reference(), SignaturePolicy: testPolicy(t, acceptAnything)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := s.LayerDiff(ctx, img.Layers()[0])
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.Copy(io.Discard, rc); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
	// The open reader holds the layer store's write lock: close it before anything else.
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LayerDiff(context.Background(), Layer{ID: "nosuchlayer"}); err == nil || !strings.Contains(err.Error(), "nosuchlayer") {
		t.Errorf("LayerDiff of a missing layer: %v", err)
	}
}

// TestPullManifestList: from a multi-architecture index, Pull and Inspect choose the instance
// for the requested architecture.
func TestPullManifestList(t *testing.T) {
	ctx := context.Background()
	amd, arm := threeLayers("amd64"), threeLayers("arm64")
	arm.Architecture = "arm64"
	list, err := storagetest.WriteOCIList(filepath.Join(t.TempDir(), "layout"), "multi", arm, amd)
	if err != nil {
		t.Fatal(err)
	}
	for i, arch := range []string{"arm64", "amd64"} {
		ri, err := Inspect(ctx, PullOptions{Source: list.Reference(), Architecture: arch})
		if err != nil {
			t.Fatalf("Inspect %s: %v", arch, err)
		}
		if ri.ListDigest != list.Digest || ri.ManifestDigest != list.Images[i].ManifestDigest || ri.OCIConfig.Architecture != arch {
			t.Errorf("Inspect %s: list %s manifest %s arch %s; want %s %s", arch, ri.ListDigest, ri.ManifestDigest, ri.OCIConfig.Architecture, list.Digest, list.Images[i].ManifestDigest)
		}
	}
	if _, err := Inspect(ctx, PullOptions{Source: list.Reference(), Architecture: "s390x"}); err == nil || !strings.Contains(err.Error(), "s390x") || !strings.Contains(err.Error(), list.Digest.String()) {
		t.Errorf("Inspect for an architecture the list lacks: %v", err)
	}

	s := newTestStore(t, nil)
	policy := testPolicy(t, acceptAnything)
	img, err := s.Pull(ctx, PullOptions{Source: list.Reference(), SignaturePolicy: policy, Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if img.ManifestDigest != list.Images[1].ManifestDigest || img.OCIConfig.Architecture != "amd64" {
		t.Errorf("pulled %s (%s), want the amd64 instance %s", img.ManifestDigest, img.OCIConfig.Architecture, list.Images[1].ManifestDigest)
	}
	checkLayers(t, s.Store, img, list.Images[1])
}
