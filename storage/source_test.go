package storage

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bootc-go/bootc/storage/storagetest"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"github.com/ulikunitz/xz"
	"go.podman.io/image/v5/types"
)

// readLayer reads layer i of src whole and returns it with the blob bytes reported.
func readLayer(t *testing.T, src *Source, i int) ([]byte, int64, error) {
	t.Helper()
	var n atomic.Int64
	rc, err := src.OpenLayer(context.Background(), i, func(k int64) { n.Add(k) })
	if err != nil {
		return nil, 0, err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return b, n.Load(), err
}

// TestOpenSourceOCI opens OCI layouts without copying them: intact layers stream their
// original tars (concurrently), broken blobs are refused naming them, manifest lists are
// resolved, and the policy and architecture are checked before any layer is read.
func TestOpenSourceOCI(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "layout")
	gen, err := storagetest.WriteOCI(dir, "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	accept := testPolicy(t, acceptAnything)

	src, err := OpenSource(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: accept})
	if err != nil {
		t.Fatalf("OpenSource: %v", err)
	}
	if src.ManifestDigest != gen.ManifestDigest || src.ConfigDigest != gen.ConfigDigest || !bytes.Equal(src.Config, gen.Config) || len(src.Layers) != 3 || src.InPlace {
		t.Errorf("source %s config %s layers %d inPlace %v", src.ManifestDigest, src.ConfigDigest, len(src.Layers), src.InPlace)
	}
	var wg sync.WaitGroup
	for i, l := range gen.Layers {
		if sl := src.Layers[i]; sl.Digest != l.Digest || sl.DiffID != l.DiffID || sl.Size != l.Size || sl.MediaType != l.MediaType || sl.Store != nil {
			t.Errorf("layer %d = %+v, want %s %s", i, sl, l.Digest, l.DiffID)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, n, err := readLayer(t, src, i)
			if err != nil {
				t.Errorf("layer %d: %v", i, err)
				return
			}
			if !bytes.Equal(b, l.Tar) || n != l.Size {
				t.Errorf("layer %d: %d bytes (digest %s), %d blob bytes reported; want the original tar, %d", i, len(b), digest.FromBytes(b), n, l.Size)
			}
		}()
	}
	wg.Wait()
	if err := src.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	// Broken blobs.
	for _, tc := range []struct {
		name  string
		brk   storagetest.Break
		wants []string
	}{
		{"wrong digest", storagetest.WrongDigest, []string{"digest mismatch"}},
		{"truncated gzip", storagetest.TruncatedGzip, nil},
		{"missing blob", storagetest.MissingBlob, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := threeLayers("broken")
			spec.Breaks = map[int]storagetest.Break{1: tc.brk}
			bad, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "bad", spec)
			if err != nil {
				t.Fatal(err)
			}
			src, err := OpenSource(ctx, PullOptions{Source: bad.Reference(), SignaturePolicy: accept})
			if err != nil {
				t.Fatalf("OpenSource: %v", err)
			}
			defer src.Close()
			if _, _, err := readLayer(t, src, 0); err != nil {
				t.Errorf("intact layer 0: %v", err)
			}
			_, _, err = readLayer(t, src, 1)
			if err == nil || !strings.Contains(err.Error(), bad.Layers[1].Digest.String()) {
				t.Fatalf("broken layer 1: %v, want an error naming %s", err, bad.Layers[1].Digest)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("broken layer 1: %v, want %q", err, w)
				}
			}
		})
	}

	// Refusals before any layer is read.
	for _, tc := range []struct {
		name string
		opts PullOptions
		is   error
		want string
	}{
		{"architecture", PullOptions{Source: gen.Reference(), SignaturePolicy: accept, Architecture: "arm64"}, ErrArchitecture, ""},
		{"insecure policy for a signed image", PullOptions{Source: gen.Reference(), SignaturePolicy: accept, RequireSignedPolicy: true}, ErrInsecurePolicy, ""},
		{"rejected by policy", PullOptions{Source: gen.Reference(), SignaturePolicy: testPolicy(t, `{"default":[{"type":"reject"}]}`)}, nil, "signature policy"},
		{"unknown transport", PullOptions{Source: "nope:x"}, ErrUnknownTransport, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := OpenSource(ctx, tc.opts)
			if err == nil {
				src.Close()
				t.Fatal("OpenSource succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) || tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("OpenSource: %v, want %v / %q", err, tc.is, tc.want)
			}
		})
	}

	// A manifest list picks the architecture.
	amd, arm := threeLayers("amd64"), threeLayers("arm64")
	arm.Architecture = "arm64"
	list, err := storagetest.WriteOCIList(filepath.Join(t.TempDir(), "list"), "multi", arm, amd)
	if err != nil {
		t.Fatal(err)
	}
	for i, arch := range []string{"arm64", "amd64"} {
		src, err := OpenSource(ctx, PullOptions{Source: list.Reference(), SignaturePolicy: accept, Architecture: arch})
		if err != nil {
			t.Fatalf("OpenSource %s: %v", arch, err)
		}
		if src.ListDigest != list.Digest || !bytes.Equal(src.ListManifest, list.Index) || src.ManifestDigest != list.Images[i].ManifestDigest {
			t.Errorf("%s: list %s manifest %s, want %s %s", arch, src.ListDigest, src.ManifestDigest, list.Digest, list.Images[i].ManifestDigest)
		}
		if b, _, err := readLayer(t, src, 2); err != nil || !bytes.Equal(b, list.Images[i].Layers[2].Tar) {
			t.Errorf("%s: top layer: %v", arch, err)
		}
		src.Close()
	}
}

// TestOpenSourceStore: with a store, layers the store has are given as store layers; a
// containers-storage source of the same store is read in place.
func TestOpenSourceStore(t *testing.T) {
	s := newTestStore(t, nil)
	ctx := context.Background()
	gen, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	accept := testPolicy(t, acceptAnything)
	v2, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout2"), "v2", threeLayers("v2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: accept, Name: "localhost/src:v1"}); err != nil {
		t.Fatal(err)
	}
	src, err := s.OpenSource(ctx, PullOptions{Source: v2.Reference(), SignaturePolicy: accept})
	if err != nil {
		t.Fatalf("OpenSource v2: %v", err)
	}
	for i, l := range src.Layers {
		if (l.Store != nil) != (i < 2) {
			t.Errorf("v2 layer %d: store layer %+v, want one for the shared layers only", i, l.Store)
		}
		if l.Store != nil && (l.Store.DiffID != l.DiffID || l.Store.Dir == "" && s.Driver() == "overlay") {
			t.Errorf("v2 layer %d: store layer %+v", i, l.Store)
		}
	}
	src.Close()

	in, err := s.OpenSource(ctx, PullOptions{Source: "containers-storage:localhost/src:v1", SignaturePolicy: accept})
	if err != nil {
		t.Fatalf("OpenSource in place: %v", err)
	}
	defer in.Close()
	if !in.InPlace || in.ManifestDigest != gen.ManifestDigest || len(in.Layers) != 3 {
		t.Fatalf("in place: %v %s %d layers", in.InPlace, in.ManifestDigest, len(in.Layers))
	}
	for i, l := range gen.Layers {
		if in.Layers[i].Store == nil || in.Layers[i].DiffID != l.DiffID || in.Layers[i].Digest != l.Digest {
			t.Errorf("in place layer %d: %+v", i, in.Layers[i])
		}
		b, _, err := readLayer(t, in, i)
		if err != nil || !bytes.Equal(b, l.Tar) {
			t.Errorf("in place layer %d: %v", i, err)
		}
	}
}

// TestOpenSourceRegistry counts what OpenSource and OpenLayer fetch from a registry: one
// manifest request and the config to open, then only the layers read, each once.
func TestOpenSourceRegistry(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	reg := storagetest.StartRegistry(t)
	tmp := t.TempDir()
	amd, arm := threeLayers("amd64"), threeLayers("arm64")
	arm.Architecture = "arm64"
	list, err := storagetest.WriteOCIList(filepath.Join(tmp, "layout"), "multi", arm, amd)
	if err != nil {
		t.Fatal(err)
	}
	pushSys := &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolTrue, BlobInfoCacheDir: filepath.Join(tmp, "push-cache")}
	repo := "docker://" + reg.Host() + "/bootc/src"
	if err := storagetest.Copy(ctx, list.Reference(), repo+":multi", pushSys); err != nil {
		t.Fatalf("push: %v\n%s", err, reg.Output())
	}
	regConf, err := reg.RegistriesConf(tmp)
	if err != nil {
		t.Fatal(err)
	}
	want := list.Images[1]
	reg.Counter.Reset()
	src, err := OpenSource(ctx, PullOptions{Source: repo + ":multi", RegistriesConf: regConf, SignaturePolicy: testPolicy(t, acceptAnything), Architecture: "amd64"})
	if err != nil {
		t.Fatalf("OpenSource: %v", err)
	}
	defer src.Close()
	// storagetest.Copy pushes the instance for this system (amd64), not the list.
	if src.ManifestDigest != want.ManifestDigest {
		t.Errorf("manifest %s, want %s", src.ManifestDigest, want.ManifestDigest)
	}
	// One manifest request, the config, nothing else.
	if n := reg.Counter.ManifestGets(); n != 1 {
		t.Errorf("OpenSource made %d manifest requests, want 1", n)
	}
	for d := range reg.Counter.Blobs() {
		if d != want.ConfigDigest {
			t.Errorf("OpenSource fetched blob %s", d)
		}
	}
	b, n, err := readLayer(t, src, 2)
	if err != nil || !bytes.Equal(b, want.Layers[2].Tar) || n != want.Layers[2].Size {
		t.Fatalf("layer 2: %v, %d bytes reported", err, n)
	}
	for i, l := range want.Layers {
		st := reg.Counter.Blob(l.Digest)
		if i == 2 && (st.Requests != 1 || st.Bytes != l.Size) || i != 2 && st.Requests != 0 {
			t.Errorf("layer %d: %+v", i, st)
		}
	}
	t.Logf("requests: %d, blobs %v", reg.Counter.Requests(), reg.Counter.Blobs())

	// The store fill as bootc does it: every layer streamed once from the source, its files
	// kept outside the store, then PutImage; a later Pull fetches no layer.
	s := newTestStore(t, nil)
	src2, err := s.OpenSource(ctx, PullOptions{Source: repo + ":multi", RegistriesConf: regConf, SignaturePolicy: testPolicy(t, acceptAnything)})
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	objs := filepath.Join(filepath.Dir(s.GraphRoot()), "objects")
	if err := os.MkdirAll(objs, 0o755); err != nil {
		t.Fatal(err)
	}
	var layers []PutLayer
	for i := range src2.Layers {
		b, _, err := readLayer(t, src2, i)
		if err != nil {
			t.Fatal(err)
		}
		rec := recordLayer(t, b, objs, nil)
		src2.RecordDiffID(i)
		layers = append(layers, PutLayer{TarSplit: rec.tarSplit, Resolve: func(n string) (string, error) { return rec.files[n], nil }})
	}
	img, stats, err := s.PutImage(ctx, src2.ImageSpec(reg.Host()+"/bootc/src:multi", layers))
	if err != nil {
		t.Fatalf("PutImage: %v", err)
	}
	checkLayers(t, s.Store, img, want)
	t.Logf("PutImage stats %+v", stats)
	reg.Counter.Reset()
	pulled, err := s.Pull(ctx, PullOptions{Source: repo + ":multi", RegistriesConf: regConf, SignaturePolicy: testPolicy(t, acceptAnything)})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if pulled.ID != img.ID || pulled.Report.LayersFetched != 0 {
		t.Errorf("Pull after PutImage: %s report %+v, want %s and no layer fetched", pulled.ID, pulled.Report, img.ID)
	}
	for i, l := range want.Layers {
		if st := reg.Counter.Blob(l.Digest); st.Requests != 0 {
			t.Errorf("Pull after PutImage fetched layer %d: %+v", i, st)
		}
	}
	t.Logf("Pull after PutImage: %d requests, blobs %v", reg.Counter.Requests(), reg.Counter.Blobs())
}

// blobSource is an ImageSource serving blobs from memory (only GetBlob is implemented).
type blobSource struct {
	types.ImageSource
	blobs map[digest.Digest][]byte
}

// GetBlob serves a blob from memory.
func (b *blobSource) GetBlob(_ context.Context, info types.BlobInfo, _ types.BlobInfoCache) (io.ReadCloser, int64, error) {
	blob, ok := b.blobs[info.Digest]
	if !ok {
		return nil, 0, errors.New("no such blob")
	}
	return io.NopCloser(bytes.NewReader(blob)), int64(len(blob)), nil
}

// Close does nothing.
func (b *blobSource) Close() error { return nil }

// TestOpenLayerCompressions decodes each compression once and verifies the blob digest
// (table-driven, on blobs served from memory).
func TestOpenLayerCompressions(t *testing.T) {
	tarball, err := storagetest.LayerTar(threeLayers("c").Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	compress := map[string]func([]byte) []byte{
		"none": func(b []byte) []byte { return b },
		"gzip": func(b []byte) []byte {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			w.Write(b)
			w.Close()
			return buf.Bytes()
		},
		"zstd": func(b []byte) []byte {
			w, _ := zstd.NewWriter(nil)
			defer w.Close()
			return w.EncodeAll(b, nil)
		},
		"xz": func(b []byte) []byte {
			var buf bytes.Buffer
			w, _ := xz.NewWriter(&buf)
			w.Write(b)
			w.Close()
			return buf.Bytes()
		},
	}
	for _, tc := range []struct {
		name, comp string
		tamper     func([]byte) []byte
		wantErr    string
	}{
		{"none", "none", nil, ""},
		{"gzip", "gzip", nil, ""},
		{"zstd", "zstd", nil, ""},
		{"xz", "xz", nil, ""},
		{"gzip wrong digest", "gzip", nil, "digest mismatch"},
		{"zstd truncated", "zstd", func(b []byte) []byte { return b[:len(b)/2] }, "sha256:"},
		{"gzip trailing garbage", "gzip", func(b []byte) []byte { return append(b, "garbage"...) }, "sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob := compress[tc.comp](tarball)
			d := digest.FromBytes(blob)
			if tc.tamper != nil {
				blob = tc.tamper(blob)
				d = digest.FromBytes(blob)
			}
			if tc.wantErr == "digest mismatch" {
				// Serve another blob under d: only the digest check can tell.
				other := bytes.Clone(tarball)
				other[len(other)/2] ^= 0xff
				blob = compress[tc.comp](other)
			}
			src := &Source{
				Reference: "test:" + tc.name,
				Layers:    []SourceLayer{{Digest: d, Size: int64(len(blob))}},
				is:        &blobSource{blobs: map[digest.Digest][]byte{d: blob}},
				fetch:     []types.BlobInfo{{Digest: d, Size: int64(len(blob))}},
			}
			b, n, err := readLayer(t, src, 0)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), d.String()) {
					t.Fatalf("read: %v, want an error naming %s (%q)", err, d, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(b, tarball) || n != int64(len(blob)) {
				t.Fatalf("read: %v, %d bytes (want %d), %d blob bytes reported (want %d)", err, len(b), len(tarball), n, len(blob))
			}
		})
	}
}
