package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/storage/storagetest"
	"go.podman.io/image/v5/types"
)

// storeSpec is the containers-storage store specification of s.
func (s *testStore) storeSpec() string {
	return "[" + s.Driver() + "@" + s.GraphRoot() + "+" + s.RunRoot() + "]"
}

// TestPullInPlace: a containers-storage source naming an image of the same store is returned
// as is; nothing is copied or fetched.
func TestPullInPlace(t *testing.T) {
	s := newTestStore(t, nil)
	ctx := context.Background()
	gen, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	policy := testPolicy(t, acceptAnything)
	orig, err := s.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: policy, Name: "localhost/inplace:v1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		"containers-storage:localhost/inplace:v1",
		"containers-storage:localhost/inplace:v1@" + gen.ManifestDigest.String(),
		"containers-storage:" + orig.ID,
		"containers-storage:" + s.storeSpec() + "localhost/inplace:v1",
	} {
		t.Run(src, func(t *testing.T) {
			before, err := s.Images(ctx)
			if err != nil {
				t.Fatal(err)
			}
			layersBefore, err := s.store.Layers()
			if err != nil {
				t.Fatal(err)
			}
			var events int
			img, err := s.Pull(ctx, PullOptions{Source: src, SignaturePolicy: policy, Progress: func(ProgressEvent) { events++ }})
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if img.ID != orig.ID || img.ManifestDigest != orig.ManifestDigest {
				t.Errorf("got image %s (%s), want %s (%s)", img.ID, img.ManifestDigest, orig.ID, orig.ManifestDigest)
			}
			if img.Report == nil || !img.Report.InPlace || events != 0 {
				t.Errorf("report %+v, %d progress events: want in place, none", img.Report, events)
			}
			checkLayers(t, s.Store, img, gen)
			after, _ := s.Images(ctx)
			layersAfter, _ := s.store.Layers()
			if len(before) != len(after) || len(layersBefore) != len(layersAfter) {
				t.Errorf("store changed: images %d -> %d, layers %d -> %d", len(before), len(after), len(layersBefore), len(layersAfter))
			}
		})
	}

	_, err = s.Pull(ctx, PullOptions{Source: "containers-storage:localhost/not-there:v1", SignaturePolicy: policy})
	if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), "localhost/not-there:v1") {
		t.Errorf("missing in-place image: %v", err)
	}
	// The signature policy applies to images read in place too.
	reject := testPolicy(t, `{"default":[{"type":"reject"}]}`)
	_, err = s.Pull(ctx, PullOptions{Source: "containers-storage:localhost/inplace:v1", SignaturePolicy: reject})
	if err == nil || !strings.Contains(err.Error(), "localhost/inplace:v1") || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("in-place pull with a rejecting policy: %v", err)
	}
	_, err = s.Pull(ctx, PullOptions{Source: "containers-storage:localhost/inplace:v1", SignaturePolicy: policy, RequireSignedPolicy: true})
	if !errors.Is(err, ErrInsecurePolicy) {
		t.Errorf("in-place signed pull with an insecure policy: %v", err)
	}
}

// TestPullFromOtherStore copies from another containers-storage store named by a store
// specification.
func TestPullFromOtherStore(t *testing.T) {
	ctx := context.Background()
	other := newTestStore(t, nil)
	s := newTestStore(t, nil)
	gen, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	policy := testPolicy(t, acceptAnything)
	if _, err := other.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: policy, Name: "localhost/elsewhere:v1"}); err != nil {
		t.Fatal(err)
	}
	img, err := s.Pull(ctx, PullOptions{Source: "containers-storage:" + other.storeSpec() + "localhost/elsewhere:v1", SignaturePolicy: policy})
	if err != nil {
		t.Fatalf("Pull from the other store: %v", err)
	}
	if img.Report.InPlace || img.Report.LayersFetched != 3 || !slices.Contains(img.Names, "localhost/elsewhere:v1") {
		t.Errorf("image %v report %+v: want a copy of 3 layers named localhost/elsewhere:v1", img.Names, img.Report)
	}
	// containers-storage serves uncompressed layers: the copy's manifest lists diff IDs, and
	// Layers() still pairs each with its diff ID.
	for i, l := range img.Layers() {
		if l.UncompressedDigest != gen.Layers[i].DiffID {
			t.Errorf("layer %d diff ID %s, want %s", i, l.UncompressedDigest, gen.Layers[i].DiffID)
		}
	}
	t.Logf("manifest of the copy: %s", img.Manifest)
	// The source store is still usable and was only read.
	if imgs, err := other.Images(ctx); err != nil || len(imgs) != 1 {
		t.Errorf("other store: %v, %v", imgs, err)
	}
}

// TestInspect reads manifest, config and layers of an OCI layout without a store (no root
// needed), and of an image in the store without writing anything.
func TestInspect(t *testing.T) {
	ctx := context.Background()
	spec := threeLayers("v1")
	gen, err := storagetest.WriteOCI(filepath.Join(t.TempDir(), "layout"), "v1", spec)
	if err != nil {
		t.Fatal(err)
	}
	ri, err := Inspect(ctx, PullOptions{Source: gen.Reference()})
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if ri.ManifestDigest != gen.ManifestDigest || string(ri.Manifest) != string(gen.Manifest) || ri.ConfigDigest != gen.ConfigDigest || string(ri.Config) != string(gen.Config) {
		t.Errorf("Inspect: manifest %s config %s; want %s %s", ri.ManifestDigest, ri.ConfigDigest, gen.ManifestDigest, gen.ConfigDigest)
	}
	if ri.ListDigest != "" {
		t.Errorf("list digest %s for a plain manifest", ri.ListDigest)
	}
	c := ri.OCIConfig
	if c == nil || c.Architecture != "amd64" || c.OS != "linux" || c.Config.Labels["org.example.top"] != "v1" || c.Created == nil || !c.Created.Equal(storagetest.Epoch) {
		t.Errorf("config %+v", c)
	}
	if len(ri.Layers) != len(gen.Layers) {
		t.Fatalf("%d layers, want %d", len(ri.Layers), len(gen.Layers))
	}
	for i, l := range ri.Layers {
		w := gen.Layers[i]
		if l.Digest != w.Digest || l.Size != w.Size || l.MediaType != w.MediaType || l.DiffID != w.DiffID {
			t.Errorf("layer %d = %+v, want %s %d %s %s", i, l, w.Digest, w.Size, w.MediaType, w.DiffID)
		}
	}
	if err := ri.CheckArchitecture("amd64"); err != nil {
		t.Errorf("CheckArchitecture(amd64): %v", err)
	}
	if err := ri.CheckArchitecture("s390x"); !errors.Is(err, ErrArchitecture) || !strings.Contains(err.Error(), `"s390x"`) || !strings.Contains(err.Error(), `"amd64"`) {
		t.Errorf("CheckArchitecture(s390x) = %v", err)
	}
	if _, err := Inspect(ctx, PullOptions{Source: "containers-storage:localhost/x"}); err == nil || !strings.Contains(err.Error(), "needs an open store") {
		t.Errorf("Inspect of containers-storage without a store: %v", err)
	}

	t.Run("store", func(t *testing.T) {
		s := newTestStore(t, nil)
		before := treeListing(t, s.root)
		ri, err := s.Inspect(ctx, PullOptions{Source: gen.Reference()})
		if err != nil || ri.ManifestDigest != gen.ManifestDigest {
			t.Fatalf("Inspect: %v, %v", ri, err)
		}
		if after := treeListing(t, s.root); !slices.Equal(before, after) {
			t.Errorf("Inspect wrote to the store: before %v\nafter %v", before, after)
		}
		if imgs, _ := s.Images(ctx); len(imgs) != 0 {
			t.Errorf("images after Inspect: %v", imgs)
		}
		// A containers-storage image is inspected in place.
		if _, err := s.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: testPolicy(t, acceptAnything), Name: "localhost/inspect:v1"}); err != nil {
			t.Fatal(err)
		}
		before = treeListing(t, s.root)
		ri, err = s.Inspect(ctx, PullOptions{Source: "containers-storage:localhost/inspect:v1"})
		if err != nil {
			t.Fatalf("Inspect in place: %v", err)
		}
		if ri.ManifestDigest != gen.ManifestDigest || ri.ConfigDigest != gen.ConfigDigest || len(ri.Layers) != 3 || ri.Layers[2].DiffID != gen.Layers[2].DiffID {
			t.Errorf("in-place Inspect = %+v", ri)
		}
		if after := treeListing(t, s.root); !slices.Equal(before, after) {
			t.Errorf("in-place Inspect wrote to the store: before %v\nafter %v", before, after)
		}
	})
}

// treeListing lists the paths and sizes of regular files below root (lock files excluded:
// opening a store takes locks).
func treeListing(t *testing.T, root string) []string {
	t.Helper()
	var res []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".lock") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		res = append(res, strings.TrimPrefix(p, root)+" "+info.Mode().String()+" "+sizeOf(info))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sizeOf(info fs.FileInfo) string {
	if info.Mode().IsRegular() {
		return strconv.FormatInt(info.Size(), 10)
	}
	return "-"
}

// TestPrune: Prune deletes only the images Pull created and not kept; images created
// otherwise (here by a plain containers/image copy, as podman would) survive, and so do
// images bootc created that their user tagged.
func TestPrune(t *testing.T) {
	s := newTestStore(t, nil)
	ctx := context.Background()
	layout := filepath.Join(t.TempDir(), "layout")
	policy := testPolicy(t, acceptAnything)
	pull := func(tag string) *Image {
		gen, err := storagetest.WriteOCI(layout, tag, threeLayers(tag))
		if err != nil {
			t.Fatal(err)
		}
		img, err := s.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: policy, Name: "localhost/prune:" + tag})
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	keep, drop1, drop2, tagged := pull("keep"), pull("drop1"), pull("drop2"), pull("tagged")
	// A name the user gives (podman tag, bootc image copy-to-storage) keeps the image; names
	// bootc gives do not, nor do foreign names on images marked before names were recorded.
	if name, err := s.Tag(ctx, tagged.ID, "localhost/mine"); err != nil || name != "localhost/mine:latest" {
		t.Fatalf("Tag: %q, %v", name, err)
	}
	if again, err := s.Pull(ctx, PullOptions{Source: "oci:" + layout + ":drop1", SignaturePolicy: policy, Name: "localhost/prune:drop1-again"}); err != nil || again.ID != drop1.ID {
		t.Fatalf("pulling drop1 again under another name: %v", err)
	}
	if err := s.writeMarker(drop2.ID, pulledMarker{Source: "old"}); err != nil {
		t.Fatal(err)
	}
	if err := s.store.AddNames(drop2.ID, []string{"localhost/other:x"}); err != nil {
		t.Fatal(err)
	}

	// "podman pull": copied into the same store by containers/image directly, unmarked.
	gen, err := storagetest.WriteOCI(layout, "podman", threeLayers("podman"))
	if err != nil {
		t.Fatal(err)
	}
	sys := &types.SystemContext{BlobInfoCacheDir: filepath.Join(t.TempDir(), "cache"), BigFilesTemporaryDir: t.TempDir()}
	if err := storagetest.Copy(ctx, gen.Reference(), "containers-storage:"+s.storeSpec()+"localhost/podman-built:latest", sys); err != nil {
		t.Fatal(err)
	}
	podmanImg, err := s.Image(ctx, "localhost/podman-built")
	if err != nil {
		t.Fatal(err)
	}
	if podmanImg.Pulled {
		t.Fatal("an image created outside Pull is marked as pulled by bootc")
	}
	// Pulling an image that already exists (created by someone else) does not take it over.
	again, err := s.Pull(ctx, PullOptions{Source: "oci:" + layout + ":podman", SignaturePolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != podmanImg.ID || again.Pulled {
		t.Errorf("re-pull of the podman image: %s pulled=%v", again.ID, again.Pulled)
	}

	deleted, err := s.Prune(ctx, []string{"localhost/prune:keep", "localhost/gone:forever"})
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	want := []string{drop1.ID, drop2.ID}
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Errorf("Prune deleted %v, want %v", deleted, want)
	}
	imgs, err := s.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, i := range imgs {
		left = append(left, i.ID)
	}
	wantLeft := []string{keep.ID, podmanImg.ID, tagged.ID}
	slices.Sort(wantLeft)
	if !slices.Equal(left, wantLeft) {
		t.Errorf("images left %v, want %v", left, wantLeft)
	}
	// The kept image is intact (its layers, shared with the deleted ones, are still there).
	k, err := s.Image(ctx, keep.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range k.Layers() {
		rc, err := s.LayerDiff(ctx, l)
		if err != nil {
			t.Fatalf("kept layer %s: %v", l.ID, err)
		}
		rc.Close()
	}
	// Delete removes any image, when asked.
	if err := s.Delete(ctx, "localhost/podman-built:latest"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Image(ctx, podmanImg.ID); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("deleted image still found: %v", err)
	}
	if err := s.Delete(ctx, "localhost/podman-built:latest"); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("second Delete: %v", err)
	}
}

// TestClose: Close is idempotent, leaves no mount behind, and the store refuses use after it.
func TestClose(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	root, run := t.TempDir(), t.TempDir()
	o := Options{Root: root, RunRoot: run, Driver: "overlay", TempDir: filepath.Join(root, "tmp"), BlobInfoCacheDir: filepath.Join(root, "cache"), Log: testLogger(t)}
	s1, err := Open(ctx, o)
	if err != nil {
		testskip.Skipf(t, "overlay", "overlay unavailable: %v", err)
	}
	// A second Store on the same roots shares containers-storage's store: closing one keeps
	// the other usable.
	s2, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(mountsUnder(t, root, run)) == 0 {
		t.Log("the overlay driver mounted nothing while open")
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s1.Images(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Images after Close: %v", err)
	}
	if _, err := s2.Images(ctx); err != nil {
		t.Errorf("the other Store broke when the first was closed: %v", err)
	}
	if err := s2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertNoMounts(t, root, run)
	// Reopening after a full close works.
	s3, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoMounts(t, root, run)
	if _, err := os.Stat(filepath.Join(root, "overlay")); err != nil {
		t.Errorf("graph root not created: %v", err)
	}
}

// TestOpenDefaults: without options, Open follows storage.conf (CONTAINERS_STORAGE_CONF), and
// BOOTC_STORAGE_ROOT moves the graph root, with a run root of its own.
func TestOpenDefaults(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	dir := t.TempDir()
	confRoot, confRun, envRoot := filepath.Join(dir, "conf-root"), filepath.Join(dir, "conf-run"), filepath.Join(dir, "env-root")
	conf := filepath.Join(dir, "storage.conf")
	writeFile(t, conf, "[storage]\ndriver = \"overlay\"\ngraphroot = \""+confRoot+"\"\nrunroot = \""+confRun+"\"\n")
	t.Setenv("CONTAINERS_STORAGE_CONF", conf)
	t.Setenv(EnvStorageRoot, "")
	os.Unsetenv(EnvStorageRoot)

	s, err := Open(ctx, Options{Log: testLogger(t)})
	if err != nil {
		testskip.Skipf(t, "overlay", "overlay unavailable: %v", err)
	}
	if s.GraphRoot() != confRoot || s.RunRoot() != confRun || s.Driver() != "overlay" {
		t.Errorf("storage.conf store: %s %s %s", s.GraphRoot(), s.RunRoot(), s.Driver())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	t.Setenv(EnvStorageRoot, envRoot)
	s, err = Open(ctx, Options{Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	derived := derivedRunRoot(envRoot, 0, "")
	t.Cleanup(func() {
		_ = os.RemoveAll(derived)
		_ = os.Remove(filepath.Dir(derived)) // only if empty
	})
	if s.GraphRoot() != envRoot || s.RunRoot() != derived {
		t.Errorf("BOOTC_STORAGE_ROOT store: %s %s, want %s %s", s.GraphRoot(), s.RunRoot(), envRoot, derived)
	}
	if s.blobInfoCacheDir != filepath.Join(envRoot, "bootc-blob-info-cache") {
		t.Errorf("blob info cache %s", s.blobInfoCacheDir)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The explicit option beats the environment.
	s, err = Open(ctx, Options{Root: confRoot, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if s.GraphRoot() != confRoot || s.RunRoot() != confRun {
		t.Errorf("explicit root: %s %s", s.GraphRoot(), s.RunRoot())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoMounts(t, dir, derived)
}
