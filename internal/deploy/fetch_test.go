package deploy

import (
	"path/filepath"
	"testing"

	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/transports/alltransports"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/storage"
)

// TestPullOptionsFor: the pull options carry the reference imgref parsed as containers/image's
// value (the same image as Source names), so that storage does not parse Source again; a
// containers-storage reference is left to storage, which resolves it against its store.
func TestPullOptionsFor(t *testing.T) {
	layout := filepath.Join(t.TempDir(), "oci")
	for _, tc := range []struct {
		ref    string
		parsed bool
		signed bool
	}{
		{"ostree-unverified-registry:quay.io/example/os:42", true, false},
		{"ostree-image-signed:docker://quay.io/example/os@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true, true},
		{"ostree-unverified-image:oci:" + layout + ":v1", true, false},
		{"ostree-unverified-image:dir:" + layout, true, false},
		{"ostree-unverified-image:containers-storage:localhost/os:1", false, false},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			ref, err := imgref.Parse(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			po, err := PullOptionsFor(ref, storage.PullOptions{SourceStore: "[vfs@/x+/y]"})
			if err != nil {
				t.Fatal(err)
			}
			if po.Source != ref.Imgref.ContainersImageName() || po.RequireSignedPolicy != tc.signed || po.SourceStore != "[vfs@/x+/y]" {
				t.Errorf("PullOptionsFor = Source %q, RequireSignedPolicy %v, SourceStore %q", po.Source, po.RequireSignedPolicy, po.SourceStore)
			}
			if !tc.parsed {
				if po.SourceRef != nil {
					t.Errorf("SourceRef = %s, want none", transports.ImageName(po.SourceRef))
				}
				return
			}
			if po.SourceRef == nil {
				t.Fatal("no SourceRef")
			}
			want, err := alltransports.ParseImageName(po.Source)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := transports.ImageName(po.SourceRef), transports.ImageName(want); got != want {
				t.Errorf("SourceRef = %s, want %s (Source parsed by containers/image)", got, want)
			}
		})
	}
}
