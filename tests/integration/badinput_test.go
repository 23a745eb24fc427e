package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// TestBadInput feeds each kind of bad input through the whole pull and import path: each
// gives a clear error naming what is at fault, and the repository's refs and the store's
// images stay as they were.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	tmp := t.TempDir()
	layout := filepath.Join(tmp, "oci")
	good := writeImage(t, layout, "good", storagetest.ImageSpec{Layers: richLayers()})
	if _, err := e.fetch(t, "ostree-unverified-image:"+good.Reference(), nil); err != nil {
		t.Fatal(err)
	}
	refsBefore, imagesBefore := e.refs(t), e.images(t)

	with := func(extra ...storagetest.File) [][]storagetest.File {
		return [][]storagetest.File{append(kernelFiles(), extra...)}
	}
	reject := filepath.Join(tmp, "reject.json")
	if err := os.WriteFile(reject, []byte(`{"default":[{"type":"reject"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	signedBy := filepath.Join(tmp, "signed.json")
	if err := os.WriteFile(signedBy, []byte(`{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/dev/null"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		spec   storagetest.ImageSpec
		ref    string // instead of an image built from spec
		policy string
		want   []string // all must be in the error
	}{
		{name: "dotdot", spec: storagetest.ImageSpec{Layers: with(file("usr/../../escape", 0o644, "x"))}, want: []string{".."}},
		{name: "absolute path", spec: storagetest.ImageSpec{Layers: with(file("/usr/abs", 0o644, "x"))}, want: []string{"/usr/abs"}},
		{name: "hardlink outside", spec: storagetest.ImageSpec{Layers: with(storagetest.File{Path: "usr/link", Type: tar.TypeLink, Linkname: "../../etc/shadow"})}, want: []string{"sha256:"}},
		{name: "device node", spec: storagetest.ImageSpec{Layers: with(storagetest.File{Path: "usr/null", Type: tar.TypeChar})}, want: []string{"usr/null", "device"}},
		{name: "through symlink", spec: storagetest.ImageSpec{Layers: with(
			storagetest.File{Path: "usr/sl", Type: tar.TypeSymlink, Linkname: "/etc"},
			file("usr/sl/passwd", 0o644, "x"))}, want: []string{"sha256:"}},
		{name: "corrupt gzip", spec: storagetest.ImageSpec{Layers: [][]storagetest.File{kernelFiles()}, Breaks: map[int]storagetest.Break{0: storagetest.TruncatedGzip}}, want: []string{"sha256:"}},
		{name: "digest mismatch", spec: storagetest.ImageSpec{Layers: [][]storagetest.File{kernelFiles()}, Breaks: map[int]storagetest.Break{0: storagetest.WrongDigest}}, want: []string{"sha256:"}},
		{name: "missing blob", spec: storagetest.ImageSpec{Layers: [][]storagetest.File{kernelFiles()}, Breaks: map[int]storagetest.Break{0: storagetest.MissingBlob}}, want: []string{"sha256:"}},
		{name: "not bootable", spec: storagetest.ImageSpec{Layers: [][]storagetest.File{{dir("usr/", 0o755), file("usr/x", 0o644, "x")}}}, want: []string{"not bootable"}},
		{name: "other architecture", spec: storagetest.ImageSpec{Layers: [][]storagetest.File{kernelFiles()}, Architecture: "arm64"}, want: []string{"arm64", "amd64"}},
		{name: "unsigned, policy rejects", spec: storagetest.ImageSpec{Layers: [][]storagetest.File{kernelFiles()}}, policy: reject, want: []string{"rejected"}},
		{name: "unsigned, policy wants signatures", spec: storagetest.ImageSpec{Layers: [][]storagetest.File{kernelFiles()}}, policy: signedBy, want: []string{"signature"}},
		{name: "signed reference, permissive policy", ref: "ostree-image-signed:" + good.Reference(), want: []string{"insecureAcceptAnything"}},
		{name: "unknown transport", ref: "ostree-unverified-image:nosuch:/x", want: []string{"nosuch"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := tt.ref
			if ref == "" {
				img := writeImage(t, layout, "bad"+string(rune('a'+i)), tt.spec)
				ref = "ostree-unverified-image:" + img.Reference()
			}
			_, err := e.fetch(t, ref, func(o *deploy.FetchOptions) {
				if tt.policy != "" {
					o.Pull.SignaturePolicy = tt.policy
				}
			})
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error is not one line: %q", err)
			}
			if got := e.refs(t); !reflect.DeepEqual(got, refsBefore) {
				t.Errorf("refs changed:\n%v\n%v", refsBefore, got)
			}
			if got := e.images(t); !reflect.DeepEqual(got, imagesBefore) {
				t.Errorf("store images changed:\n%v\n%v", imagesBefore, got)
			}
		})
	}
}
