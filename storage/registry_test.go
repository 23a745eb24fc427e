package storage

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/storage/storagetest"
	"go.podman.io/image/v5/types"
)

// TestRegistryLayerReuse pushes two versions of an image that differ in their top layer to a
// local registry, pulls the first, then the second, and checks through the counting proxy that
// the second pull fetched only the changed layer.
func TestRegistryLayerReuse(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	reg := storagetest.StartRegistry(t)
	addrs, err := storagetest.ListeningAddrs(reg.PID())
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) == 0 {
		t.Fatal("registry listens on nothing")
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Fatalf("registry listens on %s; only 127.0.0.1 is allowed (all: %v)", a, addrs)
		}
	}

	tmp := t.TempDir()
	layout := filepath.Join(tmp, "layout")
	v1, err := storagetest.WriteOCI(layout, "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := storagetest.WriteOCI(layout, "v2", threeLayers("v2"))
	if err != nil {
		t.Fatal(err)
	}
	if v1.Layers[0].Digest != v2.Layers[0].Digest || v1.Layers[1].Digest != v2.Layers[1].Digest || v1.Layers[2].Digest == v2.Layers[2].Digest {
		t.Fatal("generated v1 and v2 should share exactly their first two layers")
	}
	pushSys := &types.SystemContext{
		DockerInsecureSkipTLSVerify: types.OptionalBoolTrue,
		BlobInfoCacheDir:            filepath.Join(tmp, "push-cache"),
	}
	repo := "docker://" + reg.Host() + "/bootc/test"
	for _, img := range []*storagetest.Image{v1, v2} {
		if err := storagetest.Copy(ctx, img.Reference(), repo+":"+img.Tag, pushSys); err != nil {
			t.Fatalf("push: %v\nregistry output:\n%s", err, reg.Output())
		}
	}
	regConf, err := reg.RegistriesConf(tmp)
	if err != nil {
		t.Fatal(err)
	}
	policy := testPolicy(t, acceptAnything)
	opts := func(tag string) PullOptions {
		return PullOptions{Source: repo + ":" + tag, RegistriesConf: regConf, SignaturePolicy: policy, UserAgent: "bootc/test"}
	}

	// Inspect costs one manifest request and the config blob, nothing else.
	reg.Counter.Reset()
	ri, err := Inspect(ctx, opts("v1"))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if ri.ManifestDigest != v1.ManifestDigest || ri.ConfigDigest != v1.ConfigDigest || len(ri.Layers) != 3 {
		t.Errorf("Inspect = %s config %s, %d layers; want %s, %s, 3", ri.ManifestDigest, ri.ConfigDigest, len(ri.Layers), v1.ManifestDigest, v1.ConfigDigest)
	}
	if n := reg.Counter.ManifestGets(); n != 1 {
		t.Errorf("Inspect made %d manifest requests, want 1", n)
	}
	for _, l := range v1.Layers {
		if st := reg.Counter.Blob(l.Digest); st.Requests != 0 {
			t.Errorf("Inspect fetched layer %s: %+v", l.Digest, st)
		}
	}

	s := newTestStore(t, nil)
	reg.Counter.Reset()
	img1, err := s.Pull(ctx, opts("v1"))
	if err != nil {
		t.Fatalf("Pull v1: %v", err)
	}
	if img1.ManifestDigest != v1.ManifestDigest || img1.Names[0] != reg.Host()+"/bootc/test:v1" {
		t.Errorf("v1: manifest %s names %v", img1.ManifestDigest, img1.Names)
	}
	checkLayers(t, s.Store, img1, v1)
	for i, l := range v1.Layers {
		if st := reg.Counter.Blob(l.Digest); st.Requests != 1 || st.Bytes != l.Size {
			t.Errorf("v1 layer %d (%s): %+v, want 1 request of %d bytes", i, l.Digest, st, l.Size)
		}
	}

	reg.Counter.Reset()
	var skipped []int
	o2 := opts("v2")
	o2.Progress = func(ev ProgressEvent) {
		if ev.Kind == ProgressSkipped {
			skipped = append(skipped, ev.Layer)
		}
	}
	img2, err := s.Pull(ctx, o2)
	if err != nil {
		t.Fatalf("Pull v2: %v", err)
	}
	checkLayers(t, s.Store, img2, v2)
	fetched := reg.Counter.Blobs()
	t.Logf("v2 pull: blob requests %v, manifest requests %d", fetched, reg.Counter.ManifestGets())
	for i, l := range v2.Layers {
		st := fetched[l.Digest]
		want := 0
		if i == 2 {
			want = 1
		}
		if st.Requests != want {
			t.Errorf("v2 layer %d (%s): %d requests, want %d", i, l.Digest, st.Requests, want)
		}
	}
	for d := range fetched {
		if d != v2.Layers[2].Digest && d != v2.ConfigDigest {
			t.Errorf("v2 pull fetched unexpected blob %s", d)
		}
	}
	if r := img2.Report; r.LayersFetched != 1 || r.LayersReused != 2 {
		t.Errorf("v2 report %+v, want 1 fetched, 2 reused", r)
	}
	if len(skipped) != 2 {
		t.Errorf("skipped layers %v, want [0 1] in some order", skipped)
	}
	// The v2 image's shared layers are the same store layers as v1's (same parents).
	l1, l2 := img1.Layers(), img2.Layers()
	if l1[0].ID != l2[0].ID || l1[1].ID != l2[1].ID || l1[2].ID == l2[2].ID {
		t.Errorf("layer IDs v1 %v / v2 %v: want the first two shared", layerIDs(l1), layerIDs(l2))
	}
}

func layerIDs(ls []Layer) []string {
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	return ids
}
