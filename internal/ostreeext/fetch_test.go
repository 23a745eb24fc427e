package ostreeext_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
	"github.com/bootc-go/bootc/tests/encapsulate"
	"github.com/rs/zerolog"
	"go.podman.io/image/v5/types"
)

// Through today's deploy.Fetch (pull into containers-storage, then importer.ImportImage,
// which hands the image to this package): an update of a 4-chunk image in which one chunk
// changed fetches only that chunk and the commit layer (small: metadata objects) from the
// registry, besides the manifest and config, and imports only those two layers.
func TestRegistryChunkedUpdate(t *testing.T) {
	if _, err := os.Stat(storagetest.RegistryBinary); err != nil {
		testskip.Skip(t, "registry", "needs "+storagetest.RegistryBinary)
	}
	ctx := context.Background()
	e := newEnv(t)
	v1 := e.commitTree(t, "v1", nil)
	v2 := e.commitTree(t, "v2", map[string]string{"usr/share/doc/c/README": "doc c, version 2"})
	opts := encapsulate.Options{Chunks: 4, ChunkOf: chunkByDir}
	enc1, err := encapsulate.Encapsulate(ctx, e.src, v1, e.layout, "v1", opts)
	must(t, err)
	enc2, err := encapsulate.Encapsulate(ctx, e.src, v2, e.layout, "v2", opts)
	must(t, err)

	reg := storagetest.StartRegistry(t)
	push := &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolTrue, BlobInfoCacheDir: filepath.Join(e.dir, "cache")}
	for _, enc := range []*encapsulate.Image{enc1, enc2} {
		if err := storagetest.Copy(ctx, enc.Reference(), "docker://"+reg.Host()+"/os:"+enc.Tag, push); err != nil {
			t.Fatalf("push: %v\n%s", err, reg.Output())
		}
	}
	conf, err := reg.RegistriesConf(e.dir)
	must(t, err)
	policy := filepath.Join(e.dir, "policy.json")
	must(t, os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644))
	root := filepath.Join(e.dir, "storage")
	runRoot, err := os.MkdirTemp("", "bc")
	must(t, err)
	store, err := storage.Open(ctx, storage.Options{Root: root, RunRoot: runRoot, Driver: "overlay",
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	must(t, err)
	t.Cleanup(func() {
		store.Close()
		ostreetest.RemoveMounted(runRoot)
	})
	repo := newRepo(t, filepath.Join(e.dir, "repo"))
	fetch := func(tag string) *deploy.Fetched {
		r, err := imgref.Parse("ostree-unverified-registry:" + reg.Host() + "/os:" + tag)
		must(t, err)
		f, err := deploy.Fetch(ctx, store, repo, r, deploy.FetchOptions{
			Pull:   storage.PullOptions{SignaturePolicy: policy, RegistriesConf: conf},
			Import: importer.Options{Rules: importer.DefaultRules()},
		})
		must(t, err)
		return f
	}
	f1 := fetch("v1")
	if f1.Import.LayerCommits[0] != v1 {
		t.Fatalf("v1 base layer commit %s, want %s", f1.Import.LayerCommits[0], v1)
	}
	reg.Counter.Reset()
	f2 := fetch("v2")
	if f2.Import.LayerCommits[0] != v2 || f2.Import.Imported != 2 || f2.Import.Reused != 3 {
		t.Fatalf("v2: base %s (want %s), imported %d reused %d (want 2 and 3)", f2.Import.LayerCommits[0], v2,
			f2.Import.Imported, f2.Import.Reused)
	}
	// The registry serves the blobs under the digests of the pushed (recompressed) layers:
	// take them from the manifest fetched.
	var other int64
	var chunk int64
	layers := f2.Layers()
	for d, st := range reg.Counter.Blobs() {
		switch {
		case d.String() == layers[2].Digest.String():
			chunk = st.Bytes
		default:
			other += st.Bytes
		}
	}
	if chunk == 0 {
		t.Fatalf("the changed chunk was not fetched: %v", reg.Counter.Blobs())
	}
	if other > 64<<10 {
		t.Errorf("%d bytes fetched besides the changed chunk (%d bytes), want at most the config and 64 KiB: %v",
			other, chunk, reg.Counter.Blobs())
	}
	t.Logf("v2: changed chunk %d bytes, everything else %d bytes", chunk, other)
}
