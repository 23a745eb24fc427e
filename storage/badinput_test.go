package storage

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/storage/storagetest"
)

// TestPullBadInputs checks that each bad input is refused with an error naming the object at
// fault, and that the store's image list is unchanged afterwards.
func TestPullBadInputs(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	tmp := t.TempDir()
	layout := filepath.Join(tmp, "layout")
	gen := func(tag string, spec storagetest.ImageSpec) *storagetest.Image {
		img, err := storagetest.WriteOCI(layout, tag, spec)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	broken := func(tag string, b storagetest.Break) *storagetest.Image {
		spec := threeLayers(tag)
		// The top layer: the others are shared with "good", which is in the store already,
		// so they would never be read.
		spec.Breaks = map[int]storagetest.Break{2: b}
		return gen(tag, spec)
	}
	good := gen("good", threeLayers("good"))
	truncated := broken("truncated", storagetest.TruncatedGzip)
	wrong := broken("wrong-digest", storagetest.WrongDigest)
	missing := broken("missing", storagetest.MissingBlob)
	otherArch := threeLayers("arm")
	otherArch.Architecture = "arm64"
	if runtime.GOARCH == "arm64" {
		otherArch.Architecture = "amd64"
	}
	arm := gen("other-arch", otherArch)
	// Shares its first two layers with "good": only the top layer and the config count, twice
	// (staged in the temporary directory, then extracted, on the same filesystem here).
	space := gen("space", threeLayers("space"))
	spaceNeed := 2 * (space.Layers[2].Size + int64(len(space.Config)))

	accept := testPolicy(t, acceptAnything)
	reject := testPolicy(t, `{"default":[{"type":"reject"}]}`)
	keyPath := filepath.Join(tmp, "dummy-key.gpg")
	writeFile(t, keyPath, "not a real key: no signature will ever be checked against it\n")
	signedBy := testPolicy(t, fmt.Sprintf(`{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":%q}]}`, keyPath))

	cases := []struct {
		name   string
		opts   PullOptions
		free   uint64 // free space to report; 0: plenty
		is     error  // sentinel the error must wrap, if any
		inMsg  []string
		noPull bool // the error comes before any policy or network access
	}{
		{name: "unknown transport", opts: PullOptions{Source: "nosuchtransport:foo/bar"}, is: ErrUnknownTransport, inMsg: []string{`"nosuchtransport"`, "nosuchtransport:foo/bar"}},
		{name: "no transport", opts: PullOptions{Source: "quay.io/x/y"}, is: ErrUnknownTransport, inMsg: []string{"quay.io/x/y"}},
		{name: "upstream syntax is not a transport", opts: PullOptions{Source: "ostree-unverified-registry:quay.io/x/y"}, is: ErrUnknownTransport, inMsg: []string{`"ostree-unverified-registry"`}},
		{name: "malformed docker reference", opts: PullOptions{Source: "docker://Quay.io/UPPER/case"}, inMsg: []string{"docker://Quay.io/UPPER/case"}},
		{name: "missing layout", opts: PullOptions{Source: "oci:" + filepath.Join(tmp, "nope") + ":v1", SignaturePolicy: accept}, inMsg: []string{filepath.Join(tmp, "nope")}},
		{name: "corrupt gzip", opts: PullOptions{Source: truncated.Reference(), SignaturePolicy: accept}, inMsg: []string{truncated.Layers[2].Digest.String()}},
		{name: "digest mismatch", opts: PullOptions{Source: wrong.Reference(), SignaturePolicy: accept}, inMsg: []string{wrong.Layers[2].Digest.Encoded()}},
		{name: "missing blob", opts: PullOptions{Source: missing.Reference(), SignaturePolicy: accept}, inMsg: []string{missing.Layers[2].Digest.Encoded()}},
		{name: "other architecture", opts: PullOptions{Source: arm.Reference(), SignaturePolicy: accept}, is: ErrArchitecture, inMsg: []string{arm.Reference(), `"` + otherArch.Architecture + `"`, `"` + runtime.GOARCH + `"`}},
		{name: "policy rejects", opts: PullOptions{Source: good.Reference(), SignaturePolicy: reject}, inMsg: []string{good.Reference(), "rejected"}},
		{name: "unsigned, policy requires a signature", opts: PullOptions{Source: good.Reference(), SignaturePolicy: signedBy}, inMsg: []string{good.Reference(), "signature"}},
		{name: "signed pull, insecure policy", opts: PullOptions{Source: good.Reference(), SignaturePolicy: accept, RequireSignedPolicy: true}, is: ErrInsecurePolicy, inMsg: []string{accept, "insecureAcceptAnything"}},
		{name: "missing policy file", opts: PullOptions{Source: good.Reference(), SignaturePolicy: filepath.Join(tmp, "no-policy.json")}, inMsg: []string{filepath.Join(tmp, "no-policy.json")}},
		{name: "disk full", opts: PullOptions{Source: space.Reference(), SignaturePolicy: accept}, free: uint64(spaceNeed) - 1, is: ErrInsufficientSpace, inMsg: []string{space.Reference(), fmt.Sprintf("needs at least %d bytes", spaceNeed), fmt.Sprintf("only %d bytes", spaceNeed-1)}},
	}
	var free uint64
	s := newTestStore(t, func(string) (uint64, error) {
		if free != 0 {
			return free, nil
		}
		return 1 << 40, nil
	})
	// One image is already there, so that "unchanged" is not trivially "empty".
	if _, err := s.Pull(ctx, PullOptions{Source: good.Reference(), SignaturePolicy: accept, Name: "localhost/already:here"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := s.Images(ctx)
			if err != nil {
				t.Fatal(err)
			}
			free = tc.free
			defer func() { free = 0 }()
			o := tc.opts
			o.Name = "localhost/bad/" + strings.ReplaceAll(tc.name, " ", "-") + ":latest"
			o.Name = strings.Map(func(r rune) rune {
				if r == ',' {
					return -1
				}
				return r
			}, o.Name)
			img, err := s.Pull(ctx, o)
			if err == nil {
				t.Fatalf("Pull succeeded (image %s), want an error", img.ID)
			}
			t.Logf("error: %v", err)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error does not wrap %v", tc.is)
			}
			for _, m := range tc.inMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error does not mention %q", m)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines")
			}
			after, err := s.Images(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(before, after, func(a, b ImageSummary) bool { return a.ID == b.ID && slices.Equal(a.Names, b.Names) }) {
				t.Errorf("image list changed: before %v, after %v", before, after)
			}
		})
	}
}
