package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// upstreamImage is an image as upstream bootc (ostree-ext) leaves it in the repository: a
// commit with the manifest digest, the manifest and the image config as metadata.
type upstreamImage struct {
	ref          string // the origin's container-image-reference
	digest       string
	arch         string
	created      string // config "created"
	labels       string // config labels, JSON
	layerDigests []string
}

func (u upstreamImage) config() string {
	return fmt.Sprintf(`{"architecture":%q,"os":"linux","created":%q,"config":{"Labels":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}`,
		u.arch, u.created, u.labels, strings.Repeat("d", 64))
}

func (u upstreamImage) manifest() string {
	var layers []string
	for _, d := range u.layerDigests {
		layers = append(layers, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":1234}`, d))
	}
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[%s]}`,
		strings.Repeat("c", 64), len(u.config()), strings.Join(layers, ","))
}

// deployUpstream commits a bootable tree with u's metadata into the sysroot's repository and
// deploys it with `ostree admin deploy --origin-file`, as a host installed by upstream bootc
// looks; it returns the commit.
func (h *testHost) deployUpstream(t *testing.T, u upstreamImage) string {
	t.Helper()
	r, err := imgref.Parse(u.ref)
	if err != nil {
		t.Fatal(err)
	}
	tree := t.TempDir()
	if err := fixtures.Write(tree, fixtures.BootableTree("upstream")); err != nil {
		t.Fatal(err)
	}
	ostreeCmd := func(args ...string) string {
		out, err := exec.Command("ostree", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := ostreeCmd("commit", "--repo="+h.sysroot+"/ostree/repo", "--branch="+imgref.ImageRef(r.Imgref),
		"--tree=dir="+tree, "--no-bindings", "--timestamp=2025-01-01T00:00:00Z",
		"--add-metadata-string=ostree.manifest-digest="+u.digest,
		"--add-metadata-string=ostree.manifest="+u.manifest(),
		"--add-metadata-string=ostree.container.image-config="+u.config())
	origin := filepath.Join(t.TempDir(), "origin")
	if err := os.WriteFile(origin, []byte("[origin]\ncontainer-image-reference="+u.ref+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ostreeCmd("admin", "deploy", "--sysroot="+h.sysroot, "--os=default", "--origin-file="+origin,
		"--karg=root=LABEL=root", "--karg=rw", imgref.ImageRef(r.Imgref))
	return commit
}

// TestStatusOfUpstreamDeployment reads a sysroot deployed by the ostree command-line tool
// the way upstream bootc deploys (origin container-image-reference, ostree-ext commit
// metadata): status in JSON, YAML and human-readable form (golden files) shows the image,
// digest, version, timestamp and architecture of both deployments. v41 uses the legacy
// "version" label and the config's creation time; v42 the OCI labels, which win over the
// config's creation time.
func TestStatusOfUpstreamDeployment(t *testing.T) {
	h := newTestHost(t)
	names := map[string]string{}
	c41 := h.deployUpstream(t, upstreamImage{
		ref:          "ostree-unverified-registry:quay.io/example/os:41",
		digest:       "sha256:" + strings.Repeat("41", 32),
		arch:         "arm64",
		created:      "2024-11-05T10:20:30.123456789Z",
		labels:       `{"containers.bootc":"1","version":"41.20241105.0"}`,
		layerDigests: []string{"sha256:" + strings.Repeat("a1", 32)},
	})
	c42 := h.deployUpstream(t, upstreamImage{
		ref:    "ostree-unverified-registry:quay.io/example/os:42",
		digest: "sha256:" + strings.Repeat("42", 32),
		arch:   "amd64",
		// The label wins over this.
		created:      "2025-01-01T00:00:00Z",
		labels:       `{"containers.bootc":"1","org.opencontainers.image.version":"42.20250301.0","org.opencontainers.image.created":"2025-03-01T08:09:10+02:00","version":"ignored"}`,
		layerDigests: []string{"sha256:" + strings.Repeat("a1", 32), "sha256:" + strings.Repeat("a2", 32)},
	})
	names[c41], names[c42] = "COMMIT-41", "COMMIT-42"

	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"status.json", []string{"status", "--format", "json"}},
		{"status.yaml", []string{"status", "--format", "yaml"}},
		{"status.txt", []string{"status", "--format", "humanreadable"}},
		{"status-verbose.txt", []string{"status", "--format", "humanreadable", "--verbose"}},
		{"status-booted.yaml", []string{"status", "--booted"}}, // not a terminal: YAML
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got, _ := h.bootc(t, tc.args...)
			for c, n := range names {
				got = strings.ReplaceAll(got, c, n)
			}
			path := filepath.Join("testdata", "upstream", tc.golden)
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				os.WriteFile(path, []byte(got), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("bootc %s differs from %s:\n--- got\n%s\n--- want\n%s", strings.Join(tc.args, " "), path, got, want)
			}
		})
	}
	// ostree agrees on what boots next.
	if first := strings.SplitN(h.adminStatus(t), "\n", 2)[0]; !strings.Contains(first, c42) {
		t.Errorf("ostree admin status does not list v42 first:\n%s", first)
	}
}
