package ostreeext_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/ostreeext"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/tests/encapsulate"
)

// Bad ostree-native images are refused with one line naming the fault, and leave the
// repository without refs or the commit.
func TestBadImages(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	commit := e.commitTree(t, "base", nil)
	write := func(tag string, opts encapsulate.Options) *encapsulate.Image {
		opts.Uncompressed = true
		enc, err := encapsulate.Encapsulate(ctx, e.src, commit, filepath.Join(e.dir, "oci-"+tag), tag, opts)
		must(t, err)
		return enc
	}
	blob := func(enc *encapsulate.Image, i int) string {
		return filepath.Join(enc.Dir, "blobs/sha256", enc.Layers[i].Digest.Encoded())
	}
	noDiffIDs := func(img importer.Image) importer.Image {
		for i := range img.Layers {
			img.Layers[i].DiffID = ""
		}
		return img
	}
	for _, tc := range []struct {
		name    string
		img     func() importer.Image
		wantErr string
	}{
		{"label names another commit", func() importer.Image {
			enc := write("label", encapsulate.Options{Labels: map[string]string{"ostree.commit": strings.Repeat("0", 64)}})
			return imageFromLayout(t, enc.Dir, enc.Tag, nil)
		}, "label ostree.commit names commit 0000"},
		{"truncated commit layer", func() importer.Image {
			enc := write("trunc", encapsulate.Options{})
			b, err := os.ReadFile(blob(enc, 0))
			must(t, err)
			must(t, os.WriteFile(blob(enc, 0), b[:len(b)/2], 0o644))
			return noDiffIDs(imageFromLayout(t, enc.Dir, enc.Tag, nil))
		}, "commit layer"},
		{"chunk lacks its objects", func() importer.Image {
			enc := write("missing", encapsulate.Options{Chunks: 2, ChunkOf: chunkByDir})
			b, err := os.ReadFile(blob(enc, 1))
			must(t, err)
			must(t, os.WriteFile(blob(enc, 2), b, 0o644)) // chunk 2 repeats chunk 1
			return noDiffIDs(imageFromLayout(t, enc.Dir, enc.Tag, nil))
		}, "is missing"},
		{"layer does not match its diff ID", func() importer.Image {
			enc := write("diffid", encapsulate.Options{Chunks: 2, ChunkOf: chunkByDir})
			img := imageFromLayout(t, enc.Dir, enc.Tag, nil)
			img.Layers[1].DiffID = img.Layers[2].DiffID
			return img
		}, "not its diff ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := newRepo(t, filepath.Join(e.dir, "repo-"+strings.ReplaceAll(tc.name, " ", "-")))
			_, err := ostreeext.ImportImage(ctx, repo, tc.img(), ostreeext.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line containing %q", err, tc.wantErr)
			}
			refs, lerr := repo.ListRefs(ctx, "")
			must(t, lerr)
			if len(refs) != 0 {
				t.Errorf("refs left: %v", refs)
			}
			if have, herr := repo.HasObject(ctx, ostree.ObjectCommit, commit); herr != nil || have {
				t.Errorf("commit object left (%v)", herr)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// A source whose stream is not the layer is reported and the next one is used, as the
// generic importer does.
func TestSourceFallback(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	commit := e.commitTree(t, "base", nil)
	enc, err := encapsulate.Encapsulate(ctx, e.src, commit, e.layout, "v1", encapsulate.Options{Chunks: 2, ChunkOf: chunkByDir, Uncompressed: true})
	must(t, err)
	img := imageFromLayout(t, e.layout, "v1", nil)
	var failed []string
	for i := range img.Layers {
		b, err := os.ReadFile(filepath.Join(enc.Dir, "blobs/sha256", enc.Layers[i].Digest.Encoded()))
		must(t, err)
		bad := []byte(strings.Replace(string(b), "doc b", "DOC B", 1))
		if i == 0 {
			bad = b[:len(b)/3] // truncated
		}
		img.Layers[i].Sources = []importer.Source{{Name: "broken store", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(bad)), nil
		}, OnFailed: func(err error) { failed = append(failed, err.Error()) }}}
	}
	repo := newRepo(t, filepath.Join(e.dir, "repo"))
	res, err := ostreeext.ImportImage(ctx, repo, img, ostreeext.Options{})
	must(t, err)
	if res.BaseCommit != commit {
		t.Fatalf("base %s, want %s", res.BaseCommit, commit)
	}
	// The commit layer was truncated and chunk 1 (usr/share/doc) tampered with; chunk 2's
	// "broken" copy is intact and used.
	if len(failed) != 2 {
		t.Fatalf("sources reported failed: %q, want 2", failed)
	}
	for _, f := range failed {
		if !strings.HasPrefix(f, "from broken store: ") || strings.Contains(f, "\n") {
			t.Errorf("failure report %q", f)
		}
	}
	fsck(t, filepath.Join(e.dir, "repo"))
}
