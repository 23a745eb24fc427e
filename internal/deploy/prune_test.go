package deploy

import (
	"slices"
	"testing"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/ostree"
)

// TestPruneDecisions checks which image refs prune keeps: the ones a deployment's origin
// names and the ones whose commit a deployment runs (a host whose origin names another
// image, or none, must keep the image it boots).
func TestPruneDecisions(t *testing.T) {
	origin := func(ref string) *ostree.KeyFile {
		kf, err := ostree.ParseKeyFile("[origin]\ncontainer-image-reference=" + ref + "\n")
		if err != nil {
			t.Fatal(err)
		}
		return kf
	}
	tracked := dep(0, "default", "c1", false)
	tracked.Origin = origin("ostree-unverified-registry:quay.io/x:1")
	plain := dep(1, "default", "c2", false) // no origin
	k := pruneKeepSet([]*ostree.Deployment{tracked, plain})
	refX1 := imgref.ImageRef(imgref.ImageReference{Transport: imgref.TransportRegistry, Name: "quay.io/x:1"})
	refX2 := imgref.ImageRef(imgref.ImageReference{Transport: imgref.TransportRegistry, Name: "quay.io/x:2"})
	for _, tc := range []struct {
		name, ref, commit string
		keep              bool
	}{
		{"tracked image", refX1, "other-commit", true},
		{"image of a running commit", refX2, "c2", true},
		{"image nobody runs", refX2, "c3", false},
	} {
		if got := k.keepsImage(tc.ref, tc.commit); got != tc.keep {
			t.Errorf("%s: keepsImage(%s, %s) = %v, want %v", tc.name, tc.ref, tc.commit, got, tc.keep)
		}
	}
	// An origin that does not parse as an image reference keeps nothing by name, but its
	// commit still.
	bad := dep(0, "default", "c4", false)
	bad.Origin = origin("nonsense")
	kb := pruneKeepSet([]*ostree.Deployment{bad})
	if kb.keepsImage(refX1, "c9") || !kb.keepsImage(refX1, "c4") {
		t.Errorf("keep set of a deployment with a bad origin: %+v", kb)
	}
}

func TestLayerRefs(t *testing.T) {
	const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	man := `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d1 + `","size":1},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + d1 + `","size":10},` +
		`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + d2 + `","size":20}]}`
	want := []string{imgref.BlobRef(d1), imgref.BlobRef(d2)}
	if got := layerRefs(man); !slices.Equal(got, want) {
		t.Errorf("layerRefs = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "{", `{"layers":"x"}`} {
		if got := layerRefs(bad); len(got) != 0 {
			t.Errorf("layerRefs(%q) = %v, want none", bad, got)
		}
	}
}
