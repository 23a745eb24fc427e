// Package integration holds the root integration tests that run the whole import path:
// containers/image pulls into a containers-storage store in a temporary root, the importer
// writes into an ostree repository, and independent tools (podman, the ostree CLI) check the
// result. Tests skip with a reason when not root or when a tool is missing.
package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.podman.io/storage/pkg/reexec"

	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/storage"
)

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// env is one test's store and repository, in temporary directories.
type env struct {
	root string // graph root of the store
	// runRoot is the store's run root (podman wants it shorter than 50 characters).
	runRoot string
	store   *storage.Store
	repo    *ostree.Repo
	// policy is a policy.json accepting anything.
	policy string
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	ostreetest.RequireRoot(t)
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testskip.Skipf(t, "tool:"+tool, "needs %s (make deps installs it): %v", tool, err)
		}
	}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ostreetest.RequireRoot(t)
	ctx := context.Background()
	dir := t.TempDir()
	e := &env{root: filepath.Join(dir, "storage"), runRoot: shortDir(t), policy: filepath.Join(dir, "policy.json")}
	if err := os.WriteFile(e.policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	e.store, err = storage.Open(ctx, storage.Options{Root: e.root, RunRoot: e.runRoot,
		Driver: "overlay", Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	e.repo, err = ostree.CreateRepo(ctx, filepath.Join(dir, "repo"), ostree.ModeBare)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.repo.Close()
		if err := e.store.Close(); err != nil {
			t.Errorf("closing store: %v", err)
		}
		if err := ostreetest.RemoveMounted(dir); err != nil {
			t.Errorf("cleaning up: %v", err)
		}
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("mounts left behind: %v", m)
		}
	})
	return e
}

// shortDir makes a directory with a short path (podman refuses run roots of 50 characters
// or more), removed (with anything mounted below it) at the end of the test.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "bc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ostreetest.RemoveMounted(d); err != nil {
			t.Errorf("cleaning up %s: %v", d, err)
		}
	})
	return d
}

// mountsUnder lists mount points under dir.
func mountsUnder(dir string) []string {
	data, _ := os.ReadFile("/proc/self/mounts")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir) {
			out = append(out, f[1])
		}
	}
	return out
}

// refs lists the repository's refs as "ref=checksum", sorted.
func (e *env) refs(t *testing.T) []string {
	t.Helper()
	m, err := e.repo.ListRefs(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for r, c := range m {
		out = append(out, r+"="+c)
	}
	sort.Strings(out)
	return out
}

// images lists the store's image IDs.
func (e *env) images(t *testing.T) []string {
	t.Helper()
	imgs, err := e.store.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range imgs {
		out = append(out, i.ID)
	}
	return out
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
