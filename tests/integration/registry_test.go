package integration

import (
	"archive/tar"
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"go.podman.io/image/v5/types"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// versioned is a bootable four-layer image whose last, small layer carries the version.
func versioned(version string) storagetest.ImageSpec {
	layers := richLayers()
	layers = append(layers, []storagetest.File{
		dir("usr/", 0o755), dir("usr/lib/", 0o755),
		{Path: "usr/lib/version", Mode: 0o644, Content: []byte(version + "\n")},
		{Path: "usr/lib/version-link", Type: tar.TypeSymlink, Linkname: "version"},
	})
	return storagetest.ImageSpec{Layers: layers,
		Labels: map[string]string{"containers.bootc": "1", "org.opencontainers.image.version": version}}
}

// TestRegistryUpgradeFetchesOnlyChangedLayer imports v1 from a registry on 127.0.0.1, then
// v2 (one small layer changed): only that layer's blob is served and only one layer is
// imported.
func TestRegistryUpgradeFetchesOnlyChangedLayer(t *testing.T) {
	requireTools(t, storagetest.RegistryBinary)
	e := newEnv(t)
	ctx := context.Background()
	reg := storagetest.StartRegistry(t)
	tmp := t.TempDir()
	layout := filepath.Join(tmp, "layout")
	v1 := writeImage(t, layout, "v1", versioned("1"))
	v2 := writeImage(t, layout, "v2", versioned("2"))
	push := &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolTrue, BlobInfoCacheDir: filepath.Join(tmp, "cache")}
	for _, img := range []*storagetest.Image{v1, v2} {
		if err := storagetest.Copy(ctx, img.Reference(), "docker://"+reg.Host()+"/os:"+img.Tag, push); err != nil {
			t.Fatalf("push: %v\n%s", err, reg.Output())
		}
	}
	conf, err := reg.RegistriesConf(tmp)
	if err != nil {
		t.Fatal(err)
	}
	withConf := func(o *deploy.FetchOptions) { o.Pull.RegistriesConf = conf }

	reg.Counter.Reset()
	f1, err := e.fetch(t, "ostree-unverified-registry:"+reg.Host()+"/os:v1", withConf)
	if err != nil {
		t.Fatal(err)
	}
	if f1.Import.Imported != 4 {
		t.Fatalf("v1: imported %d layers, want 4", f1.Import.Imported)
	}

	reg.Counter.Reset()
	f2, err := e.fetch(t, "ostree-unverified-registry:"+reg.Host()+"/os:v2", withConf)
	if err != nil {
		t.Fatal(err)
	}
	changed := v2.Layers[3].Digest
	var layerBytes int64
	for d, st := range reg.Counter.Blobs() {
		switch {
		case d == changed:
			layerBytes = st.Bytes
		case d == v2.ManifestDigest || d.String() == v2.ConfigDigest.String():
		default:
			t.Errorf("blob %s fetched again (%d bytes)", d, st.Bytes)
		}
	}
	if layerBytes != v2.Layers[3].Size {
		t.Errorf("changed layer: %d bytes served, want %d", layerBytes, v2.Layers[3].Size)
	}
	if f2.Import.Imported != 1 || f2.Import.Reused != 3 {
		t.Fatalf("v2: imported %d, reused %d; want 1 and 3", f2.Import.Imported, f2.Import.Reused)
	}
	if !reflect.DeepEqual(f2.Import.LayerCommits[:3], f1.Import.LayerCommits[:3]) {
		t.Fatal("v2 does not share v1's layer commits")
	}
	t.Logf("v2: %d layer bytes served (of %d for the whole image), 1 of 4 layers imported", layerBytes, totalSize(v2))
}

func totalSize(img *storagetest.Image) int64 {
	var n int64
	for _, l := range img.Layers {
		n += l.Size
	}
	return n
}
