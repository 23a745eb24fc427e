package ostreeext_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/ostreeext"
	"github.com/bootc-go/bootc/tests/encapsulate"
)

// chunkByDir puts usr/bin in chunk 0, usr/share/doc in 1, usr/lib in 2, the rest in 3.
func chunkByDir(p string) int {
	switch {
	case strings.HasPrefix(p, "usr/bin/"):
		return 0
	case strings.HasPrefix(p, "usr/share/doc/"):
		return 1
	case strings.HasPrefix(p, "usr/lib/"):
		return 2
	}
	return 3
}

// An update where one of four chunks changed reads only that chunk and the commit layer,
// and writes only the objects that are new.
func TestChunkedUpdate(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	v1 := e.commitTree(t, "v1", nil)
	v2 := e.commitTree(t, "v2", map[string]string{"usr/share/doc/c/README": "doc c, version 2"})
	opts := encapsulate.Options{Chunks: 4, ChunkOf: chunkByDir}
	enc1, err := encapsulate.Encapsulate(ctx, e.src, v1, e.layout, "v1", opts)
	must(t, err)
	enc2, err := encapsulate.Encapsulate(ctx, e.src, v2, e.layout, "v2", opts)
	must(t, err)
	for i := 1; i <= 4; i++ {
		same := enc1.Layers[i].Digest == enc2.Layers[i].Digest
		if same != (i != 2) {
			t.Fatalf("chunk %d: digest unchanged = %v (the encapsulator is not deterministic?)", i, same)
		}
	}
	repoDir := filepath.Join(e.dir, "repo")
	repo := newRepo(t, repoDir)
	if _, err := ostreeext.ImportImage(ctx, repo, imageFromLayout(t, e.layout, "v1", nil), ostreeext.Options{}); err != nil {
		t.Fatal(err)
	}
	oc := &openCounter{opened: map[string]int{}}
	res, err := ostreeext.ImportImage(ctx, repo, imageFromLayout(t, e.layout, "v2", oc), ostreeext.Options{})
	must(t, err)
	if res.BaseCommit != v2 {
		t.Fatalf("base %s, want %s", res.BaseCommit, v2)
	}
	want := map[string]int{enc2.Layers[0].Digest.String(): 1, enc2.Layers[2].Digest.String(): 1}
	if len(oc.opened) != len(want) || oc.opened[enc2.Layers[0].Digest.String()] != 1 || oc.opened[enc2.Layers[2].Digest.String()] != 1 {
		t.Errorf("layers read %v, want only the commit layer and chunk 2: %v", oc.opened, want)
	}
	if res.ChunksImported != 2 || res.Reused != 3 {
		t.Errorf("imported %d ostree layers, reused %d; want 2 and 3", res.ChunksImported, res.Reused)
	}
	// New: the changed file, the dirtrees of usr/share/doc/c, usr/share/doc, usr/share,
	// usr and the root, and the commit.
	if res.Objects.Written != 7 {
		t.Errorf("%d objects written (%d reused), want 7", res.Objects.Written, res.Objects.Reused)
	}
	fsck(t, repoDir)
}
