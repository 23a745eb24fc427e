package importer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/tests/fixtures"
)

var openedMu sync.Mutex

// testImage builds an in-memory image from layer entry lists.
func testImage(t *testing.T, name, arch string, layers ...[]fixtures.Entry) (importer.Image, map[string]int) {
	t.Helper()
	opened := map[string]int{}
	img := importer.Image{Target: imgref.ImageReference{Transport: imgref.TransportOCI, Name: "/srv/" + name}}
	var diffIDs []string
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	var descs []desc
	for _, entries := range layers {
		var buf bytes.Buffer
		if err := fixtures.WriteTar(&buf, entries, fixtures.TarOptions{Prefix: "./"}); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		digest := fmt.Sprintf("sha256:%x", sha256.Sum256(data))
		diffIDs = append(diffIDs, digest)
		descs = append(descs, desc{"application/vnd.oci.image.layer.v1.tar", digest, int64(len(data))})
		img.Layers = append(img.Layers, importer.Layer{Digest: digest, DiffID: digest, Size: int64(len(data)),
			Open: func(context.Context) (io.ReadCloser, error) {
				openedMu.Lock() // layers are imported concurrently
				defer openedMu.Unlock()
				opened[digest]++
				return io.NopCloser(bytes.NewReader(data)), nil
			}})
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": arch, "os": "linux", "created": "2024-08-07T12:00:00Z",
		"config": map[string]any{"Labels": map[string]string{"containers.bootc": "1"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": desc{"application/vnd.oci.image.config.v1+json", fmt.Sprintf("sha256:%x", sha256.Sum256(cfg)), int64(len(cfg))},
		"layers": descs})
	img.Config, img.Manifest = cfg, man
	img.ManifestDigest = fmt.Sprintf("sha256:%x", sha256.Sum256(man))
	return img, opened
}

var kernel = []fixtures.Entry{
	{Path: "usr", Kind: fixtures.Dir, Mode: 0o755},
	{Path: "usr/lib", Kind: fixtures.Dir, Mode: 0o755},
	{Path: "usr/lib/modules", Kind: fixtures.Dir, Mode: 0o755},
	{Path: "usr/lib/modules/6.1.0", Kind: fixtures.Dir, Mode: 0o755},
	{Path: "usr/lib/modules/6.1.0/vmlinuz", Kind: fixtures.File, Mode: 0o644, Size: 1000, Seed: 1},
}

func baseLayer() []fixtures.Entry {
	return append(append([]fixtures.Entry{}, kernel...),
		fixtures.Entry{Path: "usr/bin", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "usr/bin/gone", Kind: fixtures.File, Mode: 0o755, Content: []byte("gone")},
		fixtures.Entry{Path: "usr/bin/tool", Kind: fixtures.File, Mode: 0o755, Content: []byte("tool v1")},
		fixtures.Entry{Path: "usr/bin/tool2", Kind: fixtures.Hardlink, Target: "usr/bin/tool"},
		fixtures.Entry{Path: "usr/share", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "usr/share/opaque", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "usr/share/opaque/old", Kind: fixtures.File, Mode: 0o644, Content: []byte("old")},
		fixtures.Entry{Path: "usr/share/becomesdir", Kind: fixtures.File, Mode: 0o644, Content: []byte("f")},
		fixtures.Entry{Path: "usr/share/becomesfile", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "usr/share/becomesfile/x", Kind: fixtures.File, Mode: 0o644, Content: []byte("x")},
		fixtures.Entry{Path: "usr/share/mode", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "etc", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "etc/hostname", Kind: fixtures.File, Mode: 0o644},
		fixtures.Entry{Path: "etc/resolv.conf", Kind: fixtures.File, Mode: 0o644, Content: []byte("nameserver 1.1.1.1\n")},
		fixtures.Entry{Path: "etc/hosts", Kind: fixtures.File, Mode: 0o644, Content: []byte("127.0.0.1 localhost\n")},
		fixtures.Entry{Path: "var", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "var/lib", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "var/lib/state", Kind: fixtures.File, Mode: 0o644, Content: []byte("s")},
		fixtures.Entry{Path: "tmp", Kind: fixtures.Dir, Mode: 0o1777},
		fixtures.Entry{Path: "tmp/junk", Kind: fixtures.File, Mode: 0o644, Content: []byte("j")},
		fixtures.Entry{Path: "opt", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "opt/app", Kind: fixtures.File, Mode: 0o755, Content: []byte("app")},
		fixtures.Entry{Path: "bin", Kind: fixtures.Symlink, Target: "usr/bin"},
	)
}

func derivedLayer() []fixtures.Entry {
	return []fixtures.Entry{
		{Path: "usr/bin/.wh.gone", Kind: fixtures.File, Mode: 0o644},
		{Path: "usr/bin/tool", Kind: fixtures.File, Mode: 0o755, Content: []byte("tool v2")},
		{Path: "usr/share/opaque", Kind: fixtures.Dir, Mode: 0o755},
		{Path: "usr/share/opaque/.wh..wh..opq", Kind: fixtures.File, Mode: 0o644},
		{Path: "usr/share/opaque/new", Kind: fixtures.File, Mode: 0o644, Content: []byte("new")},
		{Path: "usr/share/becomesdir", Kind: fixtures.Dir, Mode: 0o700},
		{Path: "usr/share/becomesdir/y", Kind: fixtures.File, Mode: 0o644, Content: []byte("y")},
		{Path: "usr/share/becomesfile", Kind: fixtures.File, Mode: 0o600, Content: []byte("now a file")},
		{Path: "usr/share/mode", Kind: fixtures.Dir, Mode: 0o2750, GID: 42},
		{Path: "etc/motd", Kind: fixtures.File, Mode: 0o644, Content: []byte("hi\n")},
		{Path: "etc/hostname", Kind: fixtures.File, Mode: 0o644},
	}
}

// checkoutSnapshot checks rev out (user mode) and describes every path.
func checkoutSnapshot(t *testing.T, repo *ostree.Repo, rev string) map[string]string {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "co")
	if err := repo.Checkout(context.Background(), rev, dest, ostree.CheckoutOptions{User: true}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dest, p)
		info, _ := os.Lstat(p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		case d.IsDir():
			out[rel] = fmt.Sprintf("dir %o", info.Sys().(*syscall.Stat_t).Mode&0o7777)
		default:
			b, _ := os.ReadFile(p)
			out[rel] = fmt.Sprintf("file %q", b)
		}
		return nil
	})
	return out
}

func TestImportImageMerge(t *testing.T) {
	ctx := context.Background()
	repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	img, opened := testImage(t, "app", "amd64", baseLayer(), derivedLayer())
	res, err := importer.ImportImage(ctx, repo, img, importer.Options{
		Rules: importer.PathRules{VarToFactory: true}, Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 || res.Reused != 0 || len(opened) != 2 {
		t.Fatalf("result %+v, opened %v", res, opened)
	}
	snap := checkoutSnapshot(t, repo, res.Commit)
	want := map[string]string{
		"usr/bin/tool":                    `file "tool v2"`,
		"usr/bin/tool2":                   `file "tool v1"`,
		"usr/share/opaque/new":            `file "new"`,
		"usr/share/becomesdir":            "dir 700",
		"usr/share/becomesdir/y":          `file "y"`,
		"usr/share/becomesfile":           `file "now a file"`,
		"usr/share/mode":                  "dir 2750",
		"usr/etc/hosts":                   `file "127.0.0.1 localhost\n"`,
		"usr/etc/resolv.conf":             `file "nameserver 1.1.1.1\n"`,
		"usr/etc/motd":                    `file "hi\n"`,
		"usr/share/factory/var/lib/state": `file "s"`,
		"var":                             "dir 755",
		"tmp":                             "dir 1777",
		"opt/app":                         `file "app"`,
		"bin":                             "-> usr/bin",
	}
	for p, w := range want {
		if snap[p] != w {
			t.Errorf("%s = %q, want %q", p, snap[p], w)
		}
	}
	for _, p := range []string{"usr/bin/gone", "usr/bin/.wh.gone", "usr/share/opaque/old", "usr/share/opaque/.wh..wh..opq",
		"usr/share/becomesfile/x", "usr/etc/hostname", "tmp/junk", "var/lib", "etc"} {
		if v, ok := snap[p]; ok {
			t.Errorf("%s should not exist (%s)", p, v)
		}
	}
	if res.Stats.Filtered["tmp"] != 1 || res.Stats.Whiteouts != 2 {
		t.Errorf("stats: %+v", res.Stats)
	}

	// Metadata and refs as upstream.
	c, err := repo.ReadCommit(ctx, imgref.ImageRef(img.Target))
	if err != nil {
		t.Fatal(err)
	}
	if c.Checksum != res.Commit || c.Metadata[importer.MetaManifestDigest] != img.ManifestDigest ||
		!strings.Contains(c.Metadata[importer.MetaManifest].(string), `"schemaVersion":2`) ||
		!strings.Contains(c.Metadata[importer.MetaConfig].(string), `"architecture":"amd64"`) ||
		c.Timestamp.Format("2006-01-02T15:04:05Z") != "2024-08-07T12:00:00Z" {
		t.Fatalf("image commit: %+v", c)
	}
	refs, _ := repo.ListRefs(ctx, "ostree/container")
	if len(refs) != 3 {
		t.Fatalf("refs: %v", refs)
	}

	// Re-import of an image sharing the base: only the new layer is read.
	changed := derivedLayer()
	changed[1].Content = []byte("tool v3")
	img2, opened2 := testImage(t, "app:v2", "amd64", baseLayer(), changed)
	res2, err := importer.ImportImage(ctx, repo, img2, importer.Options{Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Imported != 1 || res2.Reused != 1 || len(opened2) != 1 || res2.LayerCommits[0] != res.LayerCommits[0] {
		t.Fatalf("second import %+v, opened %v", res2, opened2)
	}

	// A layer known by diff ID under another digest (recompressed) is reused.
	img3, opened3 := testImage(t, "app:v3", "amd64", baseLayer(), derivedLayer())
	for i := range img3.Layers {
		img3.Layers[i].Digest = "sha256:" + strings.Repeat(fmt.Sprint(i+1), 64)
	}
	res3, err := importer.ImportImage(ctx, repo, img3, importer.Options{Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if res3.Imported != 0 || len(opened3) != 0 || !reflect.DeepEqual(res3.LayerCommits, res.LayerCommits) {
		t.Fatalf("diff ID reuse: %+v, opened %v", res3, opened3)
	}
}

func refsOf(t *testing.T, repo *ostree.Repo) []string {
	refs, err := repo.ListRefs(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for r, c := range refs {
		out = append(out, r+"="+c)
	}
	sort.Strings(out)
	return out
}

func TestImportBadInput(t *testing.T) {
	ctx := context.Background()
	repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	good, _ := testImage(t, "good", "amd64", baseLayer())
	if _, err := importer.ImportImage(ctx, repo, good, importer.Options{Architecture: "amd64"}); err != nil {
		t.Fatal(err)
	}
	before := refsOf(t, repo)

	with := func(extra ...fixtures.Entry) []fixtures.Entry {
		return append(append([]fixtures.Entry{}, kernel...), extra...)
	}
	tests := []struct {
		name   string
		layers [][]fixtures.Entry
		arch   string
		want   string
	}{
		{"dotdot", [][]fixtures.Entry{with(fixtures.Entry{Path: "usr/../../evil", Kind: fixtures.File, Content: []byte("x")})}, "amd64", `"./usr/../../evil": path`},
		{"hardlink escaping", [][]fixtures.Entry{with(fixtures.Entry{Path: "usr/l", Kind: fixtures.Hardlink, Target: "../etc/shadow"})}, "amd64", "hardlink target"},
		{"hardlink to missing", [][]fixtures.Entry{with(fixtures.Entry{Path: "usr/l", Kind: fixtures.Hardlink, Target: "usr/nothing"})}, "amd64", "not a file earlier"},
		{"device node", [][]fixtures.Entry{with(fixtures.Entry{Path: "usr/null", Kind: fixtures.CharDev})}, "amd64", "device nodes"},
		{"fifo", [][]fixtures.Entry{with(fixtures.Entry{Path: "usr/fifo", Kind: fixtures.Fifo})}, "amd64", "FIFOs"},
		{"through symlink", [][]fixtures.Entry{with(
			fixtures.Entry{Path: "usr/link", Kind: fixtures.Symlink, Target: "/etc"},
			fixtures.Entry{Path: "usr/link/passwd", Kind: fixtures.File, Content: []byte("x")})}, "amd64", `"usr/link", which is not a directory`},
		{"no kernel", [][]fixtures.Entry{{{Path: "usr", Kind: fixtures.Dir, Mode: 0o755}}}, "amd64", "not bootable"},
		{"other arch", [][]fixtures.Entry{baseLayer()}, "arm64", `architecture "arm64"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, _ := testImage(t, "bad-"+tt.name, tt.arch, tt.layers...)
			_, err := importer.ImportImage(ctx, repo, img, importer.Options{Architecture: "amd64"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error containing %q, got %v", tt.want, err)
			}
			if after := refsOf(t, repo); !reflect.DeepEqual(after, before) {
				t.Fatalf("refs changed:\n%v\n%v", before, after)
			}
		})
	}

	t.Run("truncated", func(t *testing.T) {
		img, _ := testImage(t, "trunc", "amd64", baseLayer())
		open := img.Layers[0].Open
		img.Layers[0].Digest = "sha256:" + strings.Repeat("e", 64)
		img.Layers[0].DiffID = ""
		img.Layers[0].Open = func(ctx context.Context) (io.ReadCloser, error) {
			rc, _ := open(ctx)
			b, _ := io.ReadAll(rc)
			return io.NopCloser(bytes.NewReader(b[:len(b)/2+100])), nil
		}
		_, err := importer.ImportImage(ctx, repo, img, importer.Options{Architecture: "amd64"})
		if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("want io.ErrUnexpectedEOF, got %v", err)
		}
		if after := refsOf(t, repo); !reflect.DeepEqual(after, before) {
			t.Fatalf("refs changed")
		}
	})
}
