package ostreeext_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/ostreeext"
	"github.com/bootc-go/bootc/tests/encapsulate"
)

// toV0 rewrites a version 1 layer with version 0's extended attributes: each
// .file-xattrs-link becomes a sysroot/ostree/repo/xattrs/CHECKSUM file (once) and a
// .file.xattrs hardlink to it.
func toV0(t *testing.T, in []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(in))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		body, err := io.ReadAll(tr)
		must(t, err)
		if strings.HasSuffix(h.Name, ".file-xattrs-link") {
			sum := sha256.Sum256(body)
			x := "sysroot/ostree/repo/xattrs/" + hex.EncodeToString(sum[:])
			if !seen[x] {
				seen[x] = true
				must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: x, Mode: 0o644, Size: int64(len(body)), ModTime: h.ModTime}))
				_, err := tw.Write(body)
				must(t, err)
			}
			must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: strings.TrimSuffix(h.Name, "-xattrs-link") + ".xattrs",
				Linkname: x, ModTime: h.ModTime}))
			continue
		}
		must(t, tw.WriteHeader(h))
		_, err = tw.Write(body)
		must(t, err)
	}
	must(t, tw.Close())
	return out.Bytes()
}

// Format version 0's extended attributes are read too.
func TestImportFormatV0(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	commit := e.commitTree(t, "base", nil)
	enc, err := encapsulate.Encapsulate(ctx, e.src, commit, e.layout, "v1", encapsulate.Options{Chunks: 2, Uncompressed: true})
	must(t, err)
	for _, l := range enc.Layers {
		p := filepath.Join(e.layout, "blobs/sha256", l.Digest.Encoded())
		b, err := os.ReadFile(p)
		must(t, err)
		must(t, os.WriteFile(p, toV0(t, b), 0o644))
	}
	img := imageFromLayout(t, e.layout, "v1", nil)
	for i := range img.Layers {
		img.Layers[i].DiffID = "" // the blobs were rewritten in place
	}
	repoDir := filepath.Join(e.dir, "repo")
	repo := newRepo(t, repoDir)
	res, err := ostreeext.ImportImage(ctx, repo, img, ostreeext.Options{})
	must(t, err)
	if res.BaseCommit != commit {
		t.Fatalf("base %s, want %s", res.BaseCommit, commit)
	}
	fsck(t, repoDir)
	if a, b := listTree(t, e.srcRepo, commit), listTree(t, repoDir, commit); a != b {
		t.Fatalf("tree differs:\n%s", a+"\n---\n"+b)
	}
}
