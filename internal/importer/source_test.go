package importer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// plainImport imports data as the one layer of an image through ImportImage, from one
// plain source, and returns the layer commit.
func plainImport(t *testing.T, repo *ostree.Repo, data []byte, diffID string) string {
	t.Helper()
	img := imageOf(t, "plain", importer.Layer{Digest: diffID, DiffID: diffID, Sources: []importer.Source{bytesSource("blob", data, nil)}})
	res, err := importer.ImportImage(context.Background(), repo, img, importOpts)
	if err != nil {
		t.Fatal(err)
	}
	return res.LayerCommits[0]
}

// tarOf writes entries as a layer tar and returns it with its diff ID.
func tarOf(t *testing.T, entries []fixtures.Entry) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := fixtures.WriteTar(&buf, entries, fixtures.TarOptions{Prefix: "./"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), fmt.Sprintf("sha256:%x", sha256.Sum256(buf.Bytes()))
}

// imageOf is an unbootable test image whose layers are given as Layer values.
func imageOf(t testing.TB, name string, layers ...importer.Layer) importer.Image {
	t.Helper()
	var diffIDs []string
	var descs []map[string]any
	for _, l := range layers {
		diffIDs = append(diffIDs, l.DiffID)
		descs = append(descs, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l.Digest, "size": l.Size})
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "layers": descs})
	return importer.Image{Target: imgref.ImageReference{Transport: imgref.TransportOCI, Name: "/srv/" + name},
		ManifestDigest: fmt.Sprintf("sha256:%x", sha256.Sum256(man)), Manifest: man, Config: cfg, Layers: layers}
}

func bytesSource(name string, data []byte, opened *atomic.Int32) importer.Source {
	return importer.Source{Name: name, Open: func(context.Context) (io.ReadCloser, error) {
		if opened != nil {
			opened.Add(1)
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

var importOpts = importer.Options{Architecture: "amd64", AllowUnbootable: true, Rules: importer.PathRules{VarToFactory: true}}

// allKinds is a layer with every entry kind the importer handles: files of many sizes,
// owners, modes and xattrs, hardlinks, symlinks, directories, etc/ and var/ content (moved
// by the path rules), a whiteout, an opaque directory and filtered content (tmp/).
func allKinds() []fixtures.Entry {
	return append(layerTree(),
		fixtures.Entry{Path: "var", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "var/lib", Kind: fixtures.Dir, Mode: 0o755},
		fixtures.Entry{Path: "var/lib/state", Kind: fixtures.File, Mode: 0o644, Content: []byte("state")},
		fixtures.Entry{Path: "var/lib/state-link", Kind: fixtures.Hardlink, Target: "var/lib/state"},
		fixtures.Entry{Path: "etc/passwd-link", Kind: fixtures.Hardlink, Target: "etc/passwd"},
		fixtures.Entry{Path: "usr/lib/.wh.gone", Kind: fixtures.File, Mode: 0o644},
		fixtures.Entry{Path: "usr/lib/xdir/.wh..wh..opq", Kind: fixtures.File, Mode: 0o644},
		fixtures.Entry{Path: "tmp/junk", Kind: fixtures.File, Mode: 0o644, Content: []byte("junk")},
	)
}

// entryChecksum is the object checksum a regular file entry must get, computed from the
// fixture independently of the importer (xattrs in reverse tar order, as libarchive).
func entryChecksum(t *testing.T, e fixtures.Entry) string {
	t.Helper()
	mode := uint32(e.Mode.Perm())
	if e.Mode&os.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if e.Mode&os.ModeSetgid != 0 {
		mode |= 0o2000
	}
	meta := ostree.FileMeta{UID: uint32(e.UID), GID: uint32(e.GID), Mode: mode}
	// archive/tar writes PAX xattr records sorted by name; the importer reverses them.
	names := map[string][]byte{}
	var keys []string
	for _, x := range e.Xattrs {
		names[x.Name] = x.Value
		keys = append(keys, x.Name)
	}
	sortStrings(keys)
	for i := len(keys) - 1; i >= 0; i-- {
		meta.Xattrs = append(meta.Xattrs, ostree.Xattr{Name: keys[i], Value: names[keys[i]]})
	}
	data := e.Data()
	c, err := ostree.ContentChecksum(meta, int64(len(data)), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestLayerSourcesFallback(t *testing.T) {
	ctx := context.Background()
	data, diffID := tarOf(t, layerTree())
	corrupt := bytes.Clone(data)
	corrupt[len(corrupt)/2] ^= 0xff // file content changed: the tar parses, the diff ID does not match

	type call struct{ source, err string }
	var mu sync.Mutex
	var calls []call
	failed := func(name string) func(error) {
		return func(err error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, call{name, err.Error()})
		}
	}
	src := func(name string, d []byte) importer.Source {
		s := bytesSource(name, d, nil)
		s.OnFailed = failed(name)
		return s
	}
	openErr := importer.Source{Name: "unreadable", OnFailed: failed("unreadable"),
		Open: func(context.Context) (io.ReadCloser, error) { return nil, errors.New("layer lock busy") }}
	truncated := src("truncated", data[:len(data)/3])

	tests := []struct {
		name      string
		sources   []importer.Source
		wantErr   string
		wantCalls []string // sources whose OnFailed was called, in order
	}{
		{"first works", []importer.Source{src("good", data), src("never", corrupt)}, "", nil},
		{"diff ID mismatch, then good", []importer.Source{src("corrupt", corrupt), src("good", data)}, "", []string{"corrupt"}},
		{"open error, truncated, then good", []importer.Source{openErr, truncated, src("good", data)}, "", []string{"unreadable", "truncated"}},
		{"all fail", []importer.Source{src("corrupt", corrupt), openErr}, "from unreadable: layer lock busy", []string{"corrupt", "unreadable"}},
	}
	// The commit every successful import must give: a plain import.
	ref, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "ref"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	want := plainImport(t, ref, data, diffID)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
			if err != nil {
				t.Fatal(err)
			}
			defer repo.Close()
			img := imageOf(t, "fallback", importer.Layer{Digest: diffID, DiffID: diffID, Size: int64(len(data)), Sources: tt.sources})
			res, err := importer.ImportImage(ctx, repo, img, importOpts)
			var got []string
			for _, c := range calls {
				got = append(got, c.source)
				if !strings.Contains(c.err, c.source) {
					t.Errorf("OnFailed error of %s does not name it: %s", c.source, c.err)
				}
			}
			if !reflect.DeepEqual(got, tt.wantCalls) {
				t.Errorf("OnFailed calls %v, want %v (%v)", got, tt.wantCalls, calls)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "diff ID") {
					t.Fatalf("want an error naming every source's failure (%q), got %v", tt.wantErr, err)
				}
				if refs, _ := repo.ListRefs(ctx, ""); len(refs) != 0 {
					t.Fatalf("refs written by a failed import: %v", refs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Imported != 1 || res.LayerCommits[0] != want {
				t.Fatalf("layer commit %v, want %s (%+v)", res.LayerCommits, want, res)
			}
		})
	}
}

func TestLegacyOpenStillWorks(t *testing.T) {
	ctx := context.Background()
	repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	data, diffID := tarOf(t, layerTree())
	var opened atomic.Int32
	corrupt := bytes.Clone(data)
	corrupt[len(corrupt)/2] ^= 0xff
	var failed error
	img := imageOf(t, "legacy", importer.Layer{Digest: diffID, DiffID: diffID,
		Sources: []importer.Source{{Name: "store", OnFailed: func(err error) { failed = err },
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(corrupt)), nil }}},
		Open: bytesSource("", data, &opened).Open})
	if _, err := importer.ImportImage(ctx, repo, img, importOpts); err != nil {
		t.Fatal(err)
	}
	if opened.Load() != 1 || failed == nil {
		t.Fatalf("Open called %d times, store failure %v: want Open as the last source", opened.Load(), failed)
	}
}

// TestTarSplitReassembles imports layers and rebuilds each tar from its recorded tar-split
// and the repository's objects: byte for byte the original (sha256 = diff ID).
func TestTarSplitReassembles(t *testing.T) {
	ctx := context.Background()
	modes := []ostree.RepoMode{ostree.ModeArchive}
	if os.Geteuid() == 0 {
		modes = append(modes, ostree.ModeBare)
	}
	layers := map[string][]fixtures.Entry{
		"rich":    layerTree(),
		"base":    unfiltered(baseLayer()),
		"derived": derivedLayer(),
	}
	for _, mode := range modes {
		for name, entries := range layers {
			t.Run(fmt.Sprintf("%s/%s", mode, name), func(t *testing.T) {
				repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), mode)
				if err != nil {
					t.Fatal(err)
				}
				defer repo.Close()
				data, diffID := tarOf(t, entries)
				img := imageOf(t, name, importer.Layer{Digest: diffID, DiffID: diffID, Sources: []importer.Source{bytesSource("blob", data, nil)}})
				res, err := importer.ImportImage(ctx, repo, img, importOpts)
				if err != nil {
					t.Fatal(err)
				}
				split, err := importer.LayerTarSplit(ctx, repo, res.LayerCommits[0])
				if err != nil {
					t.Fatal(err)
				}
				lookup, err := importer.LayerObjects(ctx, repo, res.LayerCommits[0], importOpts.Rules)
				if err != nil {
					t.Fatal(err)
				}
				getter := repoGetter{ctx: ctx, repo: repo, lookup: lookup}
				rc := asm.NewOutputTarStream(getter, storage.NewJSONUnpacker(bytes.NewReader(split)))
				h := sha256.New()
				if _, err := io.Copy(h, rc); err != nil {
					t.Fatalf("reassembling: %v", err)
				}
				if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != diffID {
					t.Fatalf("reassembled tar has digest %s, want %s", got, diffID)
				}
			})
		}
	}

	t.Run("not recorded", func(t *testing.T) {
		repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		data, _ := tarOf(t, layerTree())
		commit, _, err := importTar(t, repo, data, importer.LayerOptions{}) // ImportLayer alone records nothing
		if err != nil {
			t.Fatal(err)
		}
		_, err = importer.LayerTarSplit(ctx, repo, commit)
		if !errors.Is(err, importer.ErrNoTarSplit) || !strings.Contains(err.Error(), commit) {
			t.Fatalf("want ErrNoTarSplit naming the commit, got %v", err)
		}

		// Options.NoTarSplit: nothing recorded, the diff ID still checked.
		o := importOpts
		o.NoTarSplit = true
		data2, diffID2 := tarOf(t, derivedLayer())
		corrupt := bytes.Clone(data2)
		corrupt[len(corrupt)/2] ^= 1
		bad := imageOf(t, "nosplit-bad", importer.Layer{Digest: diffID2, DiffID: diffID2, Sources: []importer.Source{bytesSource("blob", corrupt, nil)}})
		if _, err := importer.ImportImage(ctx, repo, bad, o); err == nil || !strings.Contains(err.Error(), "diff ID") {
			t.Fatalf("NoTarSplit: want a diff ID mismatch, got %v", err)
		}
		good := imageOf(t, "nosplit", importer.Layer{Digest: diffID2, DiffID: diffID2, Sources: []importer.Source{bytesSource("blob", data2, nil)}})
		res, err := importer.ImportImage(ctx, repo, good, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := importer.LayerTarSplit(ctx, repo, res.LayerCommits[0]); !errors.Is(err, importer.ErrNoTarSplit) {
			t.Fatalf("NoTarSplit: want ErrNoTarSplit, got %v", err)
		}
	})
}

// unfiltered drops the entries whose content the importer does not keep (tmp/ children):
// such layers cannot be reassembled from the repository.
func unfiltered(es []fixtures.Entry) []fixtures.Entry {
	var out []fixtures.Entry
	for _, e := range es {
		if !strings.HasPrefix(e.Path, "tmp/") {
			out = append(out, e)
		}
	}
	return out
}

// repoGetter reads each regular file's content from its repository object.
type repoGetter struct {
	ctx    context.Context
	repo   *ostree.Repo
	lookup importer.ObjectLookup
}

func (g repoGetter) Get(name string) (io.ReadCloser, error) {
	csum, ok := g.lookup(name)
	if !ok {
		return nil, fmt.Errorf("%s: no object", name)
	}
	if p, err := g.repo.ObjectPath(csum); err == nil {
		return os.Open(p)
	}
	f, err := g.repo.LoadFile(g.ctx, csum, 1<<30)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(f.Content)), nil
}

func TestLayerObjects(t *testing.T) {
	ctx := context.Background()
	repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	entries := allKinds()
	data, diffID := tarOf(t, entries)
	img := imageOf(t, "objects", importer.Layer{Digest: diffID, DiffID: diffID, Sources: []importer.Source{bytesSource("blob", data, nil)}})
	res, err := importer.ImportImage(ctx, repo, img, importOpts)
	if err != nil {
		t.Fatal(err)
	}
	lookup, err := importer.LayerObjects(ctx, repo, res.LayerCommits[0], importOpts.Rules)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]fixtures.Entry{}
	for _, e := range entries {
		byPath[e.Path] = e
	}
	n := 0
	for _, e := range entries {
		name := "./" + e.Path
		if e.Kind == fixtures.Dir {
			name += "/"
		}
		got, ok := lookup(name)
		var want string
		switch {
		case strings.HasPrefix(e.Path, "tmp/"): // filtered: not kept
		case e.Kind == fixtures.File:
			want = entryChecksum(t, e)
		case e.Kind == fixtures.Hardlink:
			want = entryChecksum(t, byPath[e.Target])
		}
		if want == "" {
			if ok {
				t.Errorf("%s (kind %d): found %s, want not found", name, e.Kind, got)
			}
			continue
		}
		n++
		if !ok || got != want {
			t.Errorf("%s: lookup = %q, %v; want %s", name, got, ok, want)
		}
		// The same entry written without "./" is found too.
		if got2, ok := lookup(e.Path); !ok || got2 != want {
			t.Errorf("%s without ./: lookup = %q, %v", e.Path, got2, ok)
		}
	}
	if n < 20 {
		t.Fatalf("only %d regular entries checked", n)
	}
	for _, name := range []string{"usr/nonexistent", "../etc/passwd", "/etc/passwd", "", "./", "usr/etc/passwd-missing"} {
		if c, ok := lookup(name); ok {
			t.Errorf("%q: found %s, want not found", name, c)
		}
	}
	// etc/ entries are stored under usr/etc/: both names reach the object.
	if a, _ := lookup("etc/passwd"); a == "" {
		t.Error("etc/passwd not found")
	} else if b, _ := lookup("usr/etc/passwd"); a != b {
		t.Errorf("usr/etc/passwd = %q, etc/passwd = %q", b, a)
	}
}

// TestAdoptMode imports a layer whose files are also unpacked in a directory on the
// repository's filesystem (as a containers-storage diff directory is): the commit equals a
// normal import, files are hardlinked instead of copied, the repository passes fsck, a
// second import only hashes and links, and a directory whose file differs from the stream
// makes that source fail over to the next.
func TestAdoptMode(t *testing.T) {
	ostreetest.RequireRoot(t)
	ostreetest.RequireCLI(t)
	ctx := context.Background()
	base := t.TempDir()
	// Files with two or more xattrs are left out of the fsck part: libostree reads xattrs
	// back sorted by name, so an object whose checksum uses the tar's (libarchive's) order
	// fails fsck in any bare repository, adopted or not (the ostree CLI's own tar import
	// has the same problem). They are checked separately below.
	var entries []fixtures.Entry
	for _, e := range allKinds() {
		if len(e.Xattrs) > 1 && e.Kind == fixtures.File {
			e.Xattrs = e.Xattrs[:1]
		}
		entries = append(entries, e)
	}
	data, diffID := tarOf(t, entries)
	dir := filepath.Join(base, "diff")
	if err := fixtures.Write(dir, entries); err != nil {
		t.Fatal(err)
	}

	normal, err := ostree.CreateRepo(ctx, filepath.Join(base, "normal"), ostree.ModeBare)
	if err != nil {
		t.Fatal(err)
	}
	defer normal.Close()
	want := plainImport(t, normal, data, diffID)

	repo, err := ostree.CreateRepo(ctx, filepath.Join(base, "repo"), ostree.ModeBare)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	adoptSrc := bytesSource("store", data, nil)
	adoptSrc.AdoptDir = dir
	img := imageOf(t, "adopt", importer.Layer{Digest: diffID, DiffID: diffID, Sources: []importer.Source{adoptSrc}})
	res, err := importer.ImportImage(ctx, repo, img, importOpts)
	if err != nil {
		t.Fatal(err)
	}
	if res.LayerCommits[0] != want {
		t.Fatalf("adopt-mode layer commit %s, normal import %s", res.LayerCommits[0], want)
	}
	if res.Stats.Adopted < 20 {
		t.Fatalf("only %d files adopted: %+v", res.Stats.Adopted, res.Stats)
	}
	lookup, err := importer.LayerObjects(ctx, repo, want, importOpts.Rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"usr/share/sized-3145735", "etc/passwd", "usr/share/owned/file", "usr/bin/su", "var/lib/state"} {
		csum, ok := lookup(name)
		if !ok {
			t.Fatalf("%s: no object", name)
		}
		obj, _ := repo.ObjectPath(csum)
		a, err1 := os.Stat(obj)
		b, err2 := os.Stat(filepath.Join(dir, name))
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			t.Errorf("%s: object %s is not the store's file (%v %v)", name, obj, err1, err2)
		}
	}
	if _, err := importer.LayerTarSplit(ctx, repo, want); err != nil {
		t.Errorf("adopt mode recorded no tar-split: %v", err)
	}
	ostreetest.CLI(t, "--repo="+repo.Path(), "fsck")

	// Again into a fresh image name, the layer ref removed: every object is present.
	if err := repo.DeleteRef(ctx, imgref.BlobRef(diffID)); err != nil {
		t.Fatal(err)
	}
	if err := repo.DeleteRef(ctx, imgref.ImageRef(img.Target)); err != nil {
		t.Fatal(err)
	}
	res2, err := importer.ImportImage(ctx, repo, img, importOpts)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Imported != 1 || res2.Stats.Adopted != 0 || res2.Stats.Present < 20 || res2.LayerCommits[0] != want {
		t.Fatalf("re-import: %+v", res2)
	}

	t.Run("file differs from the stream", func(t *testing.T) {
		repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeBare)
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		bad := filepath.Join(t.TempDir(), "diff")
		if err := fixtures.Write(bad, entries); err != nil {
			t.Fatal(err)
		}
		// A large file (streamed, so copied from the directory when not adopted) and a
		// small one (copied from the stream) with other content of the same size.
		for _, p := range []string{"usr/share/sized-3145735", "usr/bin/tool"} {
			b, _ := os.ReadFile(filepath.Join(bad, p))
			b[0] ^= 1
			if err := os.WriteFile(filepath.Join(bad, p), b, 0); err != nil {
				t.Fatal(err)
			}
		}
		store := bytesSource("store", data, nil)
		store.AdoptDir = bad
		var storeErr error
		store.OnFailed = func(err error) { storeErr = err }
		img := imageOf(t, "adopt-bad", importer.Layer{Digest: diffID, DiffID: diffID,
			Sources: []importer.Source{store, bytesSource("registry", data, nil)}})
		res, err := importer.ImportImage(ctx, repo, img, importOpts)
		if err != nil {
			t.Fatal(err)
		}
		if storeErr == nil || !strings.Contains(storeErr.Error(), "sized-3145735") {
			t.Fatalf("want the store source to fail naming the changed file, got %v", storeErr)
		}
		if res.LayerCommits[0] != want {
			t.Fatalf("layer commit %s, want %s", res.LayerCommits[0], want)
		}
		ostreetest.CLI(t, "--repo="+repo.Path(), "fsck")
	})

	t.Run("several xattrs", func(t *testing.T) {
		e := fixtures.Entry{Path: "usr/lib/two", Kind: fixtures.File, Mode: 0o644, Size: 100, Seed: 3,
			Xattrs: []fixtures.Xattr{{Name: "user.a", Value: []byte("1")}, {Name: "user.b", Value: []byte("2")}}}
		es := append(append([]fixtures.Entry{}, entries...), e)
		data, diffID := tarOf(t, es)
		d := filepath.Join(t.TempDir(), "diff")
		if err := fixtures.Write(d, es); err != nil {
			t.Fatal(err)
		}
		want := plainImport(t, normal, data, diffID)
		repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeBare)
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		src := bytesSource("store", data, nil)
		src.AdoptDir = d
		res, err := importer.ImportImage(ctx, repo, imageOf(t, "two", importer.Layer{Digest: diffID, DiffID: diffID,
			Sources: []importer.Source{src}}), importOpts)
		if err != nil {
			t.Fatal(err)
		}
		if res.LayerCommits[0] != want {
			t.Fatalf("layer commit %s, want %s", res.LayerCommits[0], want)
		}
		lookup, _ := importer.LayerObjects(ctx, repo, want, importOpts.Rules)
		csum, _ := lookup(e.Path)
		obj, _ := repo.ObjectPath(csum)
		a, _ := os.Stat(obj)
		b, _ := os.Stat(filepath.Join(d, e.Path))
		if a == nil || b == nil || os.SameFile(a, b) {
			t.Fatalf("a file whose xattr order differs from libostree's was adopted (or is missing)")
		}
	})
}

// TestImportConcurrent imports several layers at once with an exclusive key: results are
// those of a serial import and no two sources with the key overlap.
func TestImportConcurrent(t *testing.T) {
	ctx := context.Background()
	var layers [][]fixtures.Entry
	for i := range 6 {
		layers = append(layers, []fixtures.Entry{
			{Path: "usr", Kind: fixtures.Dir, Mode: 0o755},
			{Path: fmt.Sprintf("usr/f%d", i), Kind: fixtures.File, Mode: 0o644, Size: int64(100000 * (i + 1)), Seed: uint64(i)},
		})
	}
	layers = append(layers, layers[2]) // a layer twice: imported once
	var active, maxActive, keyActive, maxKey atomic.Int32
	mk := func(parallel int) (importer.Image, *ostree.Repo) {
		var ls []importer.Layer
		for i, es := range layers {
			data, diffID := tarOf(t, es)
			key := ""
			if i%2 == 0 {
				key = "store"
			}
			ls = append(ls, importer.Layer{Digest: diffID, DiffID: diffID, Sources: []importer.Source{{Name: "slow", Exclusive: key,
				Open: func(context.Context) (io.ReadCloser, error) {
					n := active.Add(1)
					for m := maxActive.Load(); n > m && !maxActive.CompareAndSwap(m, n); m = maxActive.Load() {
					}
					if key != "" {
						k := keyActive.Add(1)
						for m := maxKey.Load(); k > m && !maxKey.CompareAndSwap(m, k); m = maxKey.Load() {
						}
					}
					return &doneReader{r: bytes.NewReader(data), done: func() {
						time.Sleep(20 * time.Millisecond)
						active.Add(-1)
						if key != "" {
							keyActive.Add(-1)
						}
					}}, nil
				}}}})
		}
		repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { repo.Close() })
		return imageOf(t, fmt.Sprint("p", parallel), ls...), repo
	}
	img1, repo1 := mk(1)
	o := importOpts
	o.Parallel = 1
	serial, err := importer.ImportImage(ctx, repo1, img1, o)
	if err != nil {
		t.Fatal(err)
	}
	if maxActive.Load() != 1 {
		t.Fatalf("Parallel=1 ran %d sources at once", maxActive.Load())
	}
	maxActive.Store(0)
	maxKey.Store(0)
	img4, repo4 := mk(4)
	o.Parallel = 4
	par, err := importer.ImportImage(ctx, repo4, img4, o)
	if err != nil {
		t.Fatal(err)
	}
	c1, err1 := repo1.ReadCommit(ctx, serial.Commit)
	c4, err4 := repo4.ReadCommit(ctx, par.Commit)
	if err1 != nil || err4 != nil {
		t.Fatal(err1, err4)
	}
	if !reflect.DeepEqual(par.LayerCommits, serial.LayerCommits) || c1.RootContents != c4.RootContents || c1.RootMeta != c4.RootMeta {
		t.Fatalf("concurrent import differs:\n%v\n%v", par.LayerCommits, serial.LayerCommits)
	}
	if par.Imported != 6 || par.Reused != 1 {
		t.Fatalf("imported %d, reused %d; want 6, 1", par.Imported, par.Reused)
	}
	if maxActive.Load() < 2 || maxActive.Load() > 4 {
		t.Errorf("Parallel=4 ran at most %d sources at once", maxActive.Load())
	}
	if maxKey.Load() != 1 {
		t.Errorf("%d sources sharing an exclusive key ran at once", maxKey.Load())
	}
}

// doneReader calls done once when closed.
type doneReader struct {
	r    io.Reader
	done func()
	once sync.Once
}

func (d *doneReader) Read(p []byte) (int, error) { return d.r.Read(p) }
func (d *doneReader) Close() error               { d.once.Do(d.done); return nil }

// TestRefusedLayerDoesNotBlameSource: a layer whose content is refused (a device node)
// fails at once: the source gave the right stream (diff ID checked), so its OnFailed is not
// called and the next source is not read.
func TestRefusedLayerDoesNotBlameSource(t *testing.T) {
	ctx := context.Background()
	repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	data, diffID := tarOf(t, append(layerTree(), fixtures.Entry{Path: "usr/null", Kind: fixtures.CharDev}))
	var failed error
	var opened atomic.Int32
	store := bytesSource("store", data, nil)
	store.OnFailed = func(err error) { failed = err }
	img := imageOf(t, "refused", importer.Layer{Digest: diffID, DiffID: diffID,
		Sources: []importer.Source{store, bytesSource("registry", data, &opened)}})
	_, err = importer.ImportImage(ctx, repo, img, importOpts)
	if err == nil || !strings.Contains(err.Error(), "device nodes") || !strings.Contains(err.Error(), "from store") {
		t.Fatalf("want the device-node error from the store source, got %v", err)
	}
	if failed != nil || opened.Load() != 0 {
		t.Fatalf("store blamed (%v) or registry opened (%d times) for a layer that is bad everywhere", failed, opened.Load())
	}
}

// TestImportConcurrentFailure: one bad layer among several imported at once fails the
// import with that layer's error, and no ref is written.
func TestImportConcurrentFailure(t *testing.T) {
	ctx := context.Background()
	repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	var ls []importer.Layer
	var bad string
	for i := range 5 {
		es := []fixtures.Entry{{Path: "usr", Kind: fixtures.Dir, Mode: 0o755},
			{Path: fmt.Sprintf("usr/f%d", i), Kind: fixtures.File, Mode: 0o644, Size: 200000, Seed: uint64(i)}}
		if i == 3 {
			es = append(es, fixtures.Entry{Path: "usr/fifo", Kind: fixtures.Fifo})
		}
		data, diffID := tarOf(t, es)
		if i == 3 {
			bad = diffID
		}
		ls = append(ls, importer.Layer{Digest: diffID, DiffID: diffID, Sources: []importer.Source{bytesSource("blob", data, nil)}})
	}
	o := importOpts
	o.Parallel = 4
	_, err = importer.ImportImage(ctx, repo, imageOf(t, "concurrent-bad", ls...), o)
	if err == nil || !strings.Contains(err.Error(), "layer "+bad) || !strings.Contains(err.Error(), "FIFOs") {
		t.Fatalf("want the FIFO error of layer %s, got %v", bad, err)
	}
	if refs, _ := repo.ListRefs(ctx, ""); len(refs) != 0 {
		t.Fatalf("refs written: %v", refs)
	}
}
