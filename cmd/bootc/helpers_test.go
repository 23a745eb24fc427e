package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"

	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// tags are the build tags of the module (for the bootc binary built by tests).
const tags = "containers_image_openpgp exclude_graphdriver_btrfs"

// try runs bootc against the test host and returns the exit code, stdout and stderr.
func (h *testHost) try(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return bootcWith(t, h.adjust, append([]string{"--sysroot", h.sysroot, "--storage-root", h.storage}, args...)...)
}

// checkOneLineError checks a failed command: a non-zero exit and exactly one line on stderr,
// "error: ..." containing each of wants.
func checkOneLineError(t *testing.T, code int, stdout, stderr string, wants ...string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit code 0, want non-zero\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
		t.Fatalf("stderr is not one \"error: ...\" line:\n%s", stderr)
	}
	for _, w := range wants {
		if !strings.Contains(lines[0], w) {
			t.Errorf("error %q does not mention %q", lines[0], w)
		}
	}
}

// hostStatus is the part of `bootc status --format json` the tests look at.
type hostStatus struct {
	Spec struct {
		BootOrder string `json:"bootOrder"`
		Image     *struct {
			Image     string `json:"image"`
			Transport string `json:"transport"`
		} `json:"image"`
	} `json:"spec"`
	Status struct {
		Staged, Booted, Rollback *bootEntry
	} `json:"status"`
}

type imageStatus struct {
	ImageDigest string  `json:"imageDigest"`
	Version     *string `json:"version"`
}

type bootEntry struct {
	Image        *imageStatus `json:"image"`
	CachedUpdate *imageStatus `json:"cachedUpdate"`
	Ostree       struct {
		Checksum     string `json:"checksum"`
		DeploySerial int    `json:"deploySerial"`
		Stateroot    string `json:"stateroot"`
	} `json:"ostree"`
}

// status returns `bootc status --format json`, parsed.
func (h *testHost) status(t *testing.T) *hostStatus {
	t.Helper()
	out, _ := h.bootc(t, "status", "--format", "json")
	var st hostStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, out)
	}
	return &st
}

// deployDir returns the directory of a deployment of the offline sysroot.
func (h *testHost) deployDir(e *bootEntry) string {
	return filepath.Join(h.sysroot, "ostree/deploy", e.Ostree.Stateroot, "deploy",
		fmt.Sprintf("%s.%d", e.Ostree.Checksum, e.Ostree.DeploySerial))
}

// storeImages lists the IDs of the images in the test host's containers-storage store.
func (h *testHost) storeImages(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	s, err := storage.Open(ctx, storage.Options{Root: h.storage})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	imgs, err := s.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range imgs {
		ids = append(ids, i.ID)
	}
	slices.Sort(ids)
	return "store images: " + strings.Join(ids, " ")
}

// fullState is state plus the commit of each ref (read from the repository's refs/heads,
// so that a moved ref shows) and the images in the store.
func (h *testHost) fullState(t *testing.T) string {
	t.Helper()
	heads := filepath.Join(h.sysroot, "ostree/repo/refs/heads")
	var refs []string
	err := filepath.WalkDir(heads, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(heads, p)
		refs = append(refs, rel+" -> "+strings.TrimSpace(string(b)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return h.state(t) + "\n" + strings.Join(refs, "\n") + "\n" + h.storeImages(t)
}

// fsck checks the sysroot's repository with the ostree command-line tool.
func (h *testHost) fsck(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("ostree", "fsck", "--repo="+h.sysroot+"/ostree/repo").CombinedOutput(); err != nil {
		t.Fatalf("ostree fsck: %v\n%s", err, out)
	}
}

// testRegistry is a local registry the test host pulls from, and an OCI layout the test
// writes images into before pushing them.
type testRegistry struct {
	reg    *storagetest.Registry
	layout string
	sys    *types.SystemContext
}

// startRegistry starts a registry and points containers/image's registries.conf at it.
func startRegistry(t *testing.T) *testRegistry {
	t.Helper()
	return useRegistry(t, storagetest.StartRegistry(t))
}

// startAuthRegistry is startRegistry for a registry that requires basic authentication as
// user with password; the test's own pushes authenticate.
func startAuthRegistry(t *testing.T, user, password string) *testRegistry {
	t.Helper()
	r := useRegistry(t, storagetest.StartAuthRegistry(t, user, password))
	r.sys.DockerAuthConfig = &types.DockerAuthConfig{Username: user, Password: password}
	return r
}

// useRegistry points containers/image's registries.conf at reg.
func useRegistry(t *testing.T, reg *storagetest.Registry) *testRegistry {
	t.Helper()
	work := t.TempDir()
	conf, err := reg.RegistriesConf(work)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_REGISTRIES_CONF", conf)
	// containers/image caches the registries.conf it read first, keyed by the paths in the
	// SystemContext (empty here), not by the variable's value.
	sysregistriesv2.InvalidateCache()
	t.Cleanup(sysregistriesv2.InvalidateCache)
	return &testRegistry{reg: reg, layout: filepath.Join(work, "oci"),
		sys: &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolTrue, BlobInfoCacheDir: filepath.Join(work, "cache")}}
}

// push writes spec into the layout and pushes it to the registry as os:<tag>; it returns
// the image.
func (r *testRegistry) push(t *testing.T, spec storagetest.ImageSpec, tag string) *storagetest.Image {
	t.Helper()
	img, err := storagetest.WriteOCI(r.layout, "push-"+tag, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := storagetest.Copy(context.Background(), img.Reference(), "docker://"+r.reg.Host()+"/os:"+tag, r.sys); err != nil {
		t.Fatalf("push: %v\n%s", err, r.reg.Output())
	}
	return img
}

// name returns the registry image name for tag.
func (r *testRegistry) name(tag string) string { return r.reg.Host() + "/os:" + tag }

// writeOCI writes spec into a new OCI layout under the test's temporary directory and
// returns the layout:tag name for `switch --transport oci`.
func writeOCI(t *testing.T, dir, tag string, spec storagetest.ImageSpec) string {
	t.Helper()
	if _, err := storagetest.WriteOCI(dir, tag, spec); err != nil {
		t.Fatal(err)
	}
	return dir + ":" + tag
}

// withFiles returns spec with files added to its last layer.
func withFiles(spec storagetest.ImageSpec, files ...storagetest.File) storagetest.ImageSpec {
	last := len(spec.Layers) - 1
	spec.Layers = append(slices.Clone(spec.Layers[:last]), append(slices.Clone(spec.Layers[last]), files...))
	return spec
}

func dir(p string) storagetest.File { return storagetest.File{Path: p + "/", Type: '5', Mode: 0o755} }

func file(p, content string) storagetest.File {
	return storagetest.File{Path: p, Mode: 0o644, Content: []byte(content)}
}

// readFile returns a file's content, or "<absent>" when it does not exist.
func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return "<absent>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
