package storage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/storage/storagetest"
	"github.com/opencontainers/go-digest"
)

// TestPodmanInterop uses podman (Debian package podman) as an independent oracle on the same
// store: podman lists the image bootc pulled; an image podman builds on top of it is read in
// place by Pull (no copy), its layers stream with their diff IDs, and Prune leaves it alone.
func TestPodmanInterop(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		testskip.Skip(t, "tool:podman", "podman not installed (Debian package podman): skipping the podman interoperability oracle")
	}
	s := newTestStore(t, nil)
	ctx := context.Background()
	tmp := t.TempDir()
	gen, err := storagetest.WriteOCI(filepath.Join(tmp, "layout"), "v1", threeLayers("v1"))
	if err != nil {
		t.Fatal(err)
	}
	policy := testPolicy(t, acceptAnything)
	base, err := s.Pull(ctx, PullOptions{Source: gen.Reference(), SignaturePolicy: policy, Name: "localhost/base:v1"})
	if err != nil {
		t.Fatal(err)
	}

	runPodman := func(args ...string) string {
		t.Helper()
		full := append([]string{
			"--root", s.GraphRoot(), "--runroot", s.RunRoot(), "--storage-driver", s.Driver(),
			"--tmpdir", filepath.Join(tmp, "libpod"), "--events-backend", "none", "--cgroup-manager", "cgroupfs",
		}, args...)
		cmd := exec.CommandContext(ctx, podman, full...)
		cmd.Env = append(os.Environ(), "CONTAINERS_REGISTRIES_CONF="+filepath.Join(tmp, "registries.conf"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	writeFile(t, filepath.Join(tmp, "registries.conf"), "unqualified-search-registries = []\n")

	if out := runPodman("images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"); !strings.Contains(out, base.ID[:12]+" localhost/base:v1") {
		t.Errorf("podman does not list the image bootc pulled:\n%s", out)
	}

	buildCtx := filepath.Join(tmp, "build")
	if err := os.MkdirAll(buildCtx, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(buildCtx, "Containerfile"), "FROM localhost/base:v1\nCOPY hello /usr/share/hello\nLABEL built=podman\n")
	writeFile(t, filepath.Join(buildCtx, "hello"), "hello from podman\n")
	runPodman("build", "--signature-policy", policy, "--isolation", "chroot", "--pull=never", "-t", "localhost/built:1", buildCtx)
	diffIDs := strings.Fields(strings.Trim(strings.TrimSpace(runPodman("image", "inspect", "--format", "{{.RootFS.Layers}}", "localhost/built:1")), "[]"))

	img, err := s.Pull(ctx, PullOptions{Source: "containers-storage:localhost/built:1", SignaturePolicy: policy})
	if err != nil {
		t.Fatalf("Pull in place of the podman-built image: %v", err)
	}
	if !img.Report.InPlace || img.Pulled {
		t.Errorf("podman image: report %+v, pulled %v; want in place, not marked", img.Report, img.Pulled)
	}
	layers := img.Layers()
	if len(layers) != 4 || len(diffIDs) != 4 {
		t.Fatalf("podman image has %d layers (podman says %v), want 4", len(layers), diffIDs)
	}
	for i, l := range layers {
		if string(l.UncompressedDigest) != diffIDs[i] {
			t.Errorf("layer %d diff ID %s, podman says %s", i, l.UncompressedDigest, diffIDs[i])
		}
		if i < 3 && l.ID != base.Layers()[i].ID {
			t.Errorf("layer %d is not shared with the base image", i)
		}
		rc, err := s.LayerDiff(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		d, err := digest.FromReader(rc)
		rc.Close()
		if err != nil || d != l.UncompressedDigest {
			t.Errorf("layer %d streams as %s (%v), want %s", i, d, err, l.UncompressedDigest)
		}
	}
	if img.OCIConfig.Config.Labels["built"] != "podman" {
		t.Errorf("labels %v", img.OCIConfig.Config.Labels)
	}

	// Prune with nothing to keep removes bootc's base image but not podman's image (whose
	// layers, shared with the base, stay).
	deleted, err := s.Prune(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deleted, []string{base.ID}) {
		t.Errorf("Prune deleted %v, want only %s", deleted, base.ID)
	}
	if out := runPodman("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "localhost/built:1") || strings.Contains(out, "localhost/base:v1") {
		t.Errorf("after Prune podman lists:\n%s", out)
	}
	if _, err := s.Image(ctx, "localhost/built:1"); err != nil {
		t.Errorf("podman image gone after Prune: %v", err)
	}
}
