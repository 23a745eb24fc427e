package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/tests/encapsulate"
	"github.com/bootc-go/bootc/tests/image/testimage"
)

// TestNativeImageBoot is the ostree-native (encapsulated) proof (issue 14): the bootable
// test image's v1, as an ostree commit encapsulated in four chunks the way ostree-ext
// writes Fedora CoreOS and the Fedora/CentOS bootc bases, is installed with `bootc install
// to-disk` and boots; in the guest it is switched to a derived image of it (one layer on
// top, as `podman build FROM` makes), which boots next.
func TestNativeImageBoot(t *testing.T) {
	qemu, work, tm := startVMTest(t)
	imgs := testimage.Build(t)

	start := time.Now()
	src := filepath.Join(work, "steps-src")
	layout := filepath.Join(src, "oci")
	commit := importedCommit(t, imgs, filepath.Join(work, "scratch"))
	ctx := context.Background()
	repo, err := ostree.OpenRepo(ctx, filepath.Join(work, "scratch", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = encapsulate.Encapsulate(ctx, repo, commit, layout, "native", encapsulate.Options{Chunks: 4,
		Labels: map[string]string{"containers.bootc": "1", "org.opencontainers.image.version": "1"}})
	repo.Close()
	if err != nil {
		t.Fatalf("encapsulating the test image: %v", err)
	}
	if _, err := ociLayout(layout).derive(deriveSpec{from: "native", tag: "derived", version: "5",
		created: time.Date(2025, 1, 5, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatalf("deriving from the native image: %v", err)
	}
	if err := os.WriteFile(filepath.Join(src, "step.sh"), []byte("echo no steps yet\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	steps := newStepsDisk(t, src, filepath.Join(work, "steps.img"), filepath.Join(work, "steps-mnt"))
	tm.add("native image (encapsulated, 4 chunks) and steps disk %s", time.Since(start).Round(100*time.Millisecond))

	diskImg := filepath.Join(work, "disk.raw")
	took := installDisk(t, imgs.BootcBinary, "oci:"+layout+":native", stepsLayoutInGuest+":native", diskImg, work)
	tm.add("install native %s", took.Round(100*time.Millisecond))
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}

	vm := vmConfig{qemu: qemu, disk: diskImg, steps: steps.image, dir: work}
	accel, why := chooseAccel(t, vm)
	vm.accel = accel
	tm.add("accelerator %s: %s", accel, why)
	sc := &scenario{t: t, vm: vm, steps: steps, disk: diskImg, work: work, tm: tm}

	res := sc.boot("native", "", "1", stepScript("native",
		"status before",
		"run bootc switch --transport oci "+stepsLayoutInGuest+":derived",
		"status after",
		"finish reboot"), bootOptions{})
	sc.expectStatus(res, "before", "1", "", "")
	sc.expectStatus(res, "after", "1", "5", "")
	res = sc.boot("native-derived", "", "5", stepScript("native-derived",
		"status booted",
		"run ostree fsck",
		"finish poweroff"), bootOptions{})
	sc.expectStatus(res, "booted", "5", "", "1")
	sc.expectFsckClean(res, "on the derived ostree-native image")
}

// importedCommit imports the test image's v1 with bootc's importer into a scratch bare
// repository under dir and returns the image commit: an ostree commit of the bootable tree,
// the input an ostree-native image encapsulates.
func importedCommit(t *testing.T, imgs *testimage.Images, dir string) string {
	t.Helper()
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	repo, err := ostree.CreateRepo(ctx, filepath.Join(dir, "repo"), ostree.ModeBare)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	root, runRoot := filepath.Join(dir, "storage"), filepath.Join(dir, "run")
	t.Cleanup(func() {
		for _, d := range []string{root, runRoot} {
			if err := ostreetest.RemoveMounted(d); err != nil {
				t.Errorf("removing %s: %v", d, err)
			}
		}
	})
	store, err := storage.Open(ctx, storage.Options{Root: root, RunRoot: runRoot, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ref, err := imgref.Parse("ostree-unverified-image:" + imgs.Ref("v1"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := deploy.Fetch(ctx, store, repo, ref, deploy.FetchOptions{
		Pull:   storage.PullOptions{SignaturePolicy: policy},
		Import: importer.Options{Rules: importer.DefaultRules()},
	})
	if err != nil {
		t.Fatalf("importing %s: %v", imgs.Ref("v1"), err)
	}
	return f.Import.Commit
}
