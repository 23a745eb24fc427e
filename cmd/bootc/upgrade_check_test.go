package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/storage/storagetest"
)

// layersOf lists an image's layers as UpdateCheck does.
func layersOf(img *storagetest.Image) []deploy.CheckLayer {
	var out []deploy.CheckLayer
	for _, l := range img.Layers {
		out = append(out, deploy.CheckLayer{Digest: l.Digest.String(), Size: l.Size})
	}
	return out
}

// TestUpgradeCheckJSON is issue 12 item 3: `upgrade --check --format json` prints the
// available update (version, digest, layers, the layers to fetch with their sizes, the
// diff against the booted image) as one JSON document and exits 100; without an update
// it exits 0; on an error 1 with the error on stderr. The human --check prints
// upstream's three ManifestDiff lines and exits 0 either way.
func TestUpgradeCheckJSON(t *testing.T) {
	h := newTestHost(t)
	r := startRegistry(t)
	v1 := r.push(t, bootableImage("1"), "latest")
	h.bootc(t, "switch", "--quiet", r.name("latest"))
	v2 := r.push(t, bootableImage("2"), "latest")
	before := h.fullState(t)

	check := func(wantCode int) (*deploy.UpdateCheck, string) {
		t.Helper()
		code, out, errs := h.try(t, "upgrade", "--check", "--format", "json")
		if code != wantCode || errs != "" {
			t.Fatalf("upgrade --check --format json: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, wantCode, out, errs)
		}
		var c deploy.UpdateCheck
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil || strings.Count(out, "\n") != 1 {
			t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
		}
		return &c, out
	}

	c, raw := check(exitUpdateAvailable)
	base, top1, top2 := layersOf(v1)[0], layersOf(v1)[1], layersOf(v2)[1]
	if layersOf(v2)[0] != base {
		t.Fatalf("fixture: v1 and v2 should share their base layer")
	}
	want := deploy.UpdateCheck{Image: "ostree-unverified-registry:" + r.name("latest"), UpdateAvailable: true,
		Digest: v2.ManifestDigest.String(), Layers: layersOf(v2),
		Diff:  &deploy.ManifestDiff{Total: 2, TotalSize: base.Size + top2.Size, Removed: []deploy.CheckLayer{top1}, RemovedSize: top1.Size, Added: []deploy.CheckLayer{top2}, AddedSize: top2.Size},
		Fetch: []deploy.CheckLayer{top2}, FetchSize: top2.Size}
	if c.Version == nil || *c.Version != "2" || c.BootedDigest == nil || *c.BootedDigest != v1.ManifestDigest.String() {
		t.Errorf("version %v, bootedDigest %v; want 2 and %s", c.Version, c.BootedDigest, v1.ManifestDigest)
	}
	c.Version, c.BootedDigest = nil, nil
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("update check:\n%s\nwant (but version and bootedDigest)\n%+v %+v", raw, want, *want.Diff)
	}
	if after := h.fullState(t); after != before {
		t.Fatalf("upgrade --check --format json changed refs, deployments or the store:\n--- before\n%s\n--- after\n%s", before, after)
	}

	// The human check: upstream's lines, exit 0.
	code, out, _ := h.try(t, "upgrade", "--check")
	wantDiff := fmt.Sprintf("Total new layers: 2     Size: %s\nRemoved layers:   1     Size: %s\nAdded layers:     1     Size: %s\n",
		deploy.FormatSizeSI(base.Size+top2.Size), deploy.FormatSizeSI(top1.Size), deploy.FormatSizeSI(top2.Size))
	if code != 0 || !strings.Contains(out, "  Digest: "+v2.ManifestDigest.String()+"\n"+wantDiff) {
		t.Errorf("upgrade --check: exit %d, output lacks the digest and\n%s\ngot:\n%s", code, wantDiff, out)
	}

	// A usage error and a failure exit 1 with one error line.
	code, out, errs := h.try(t, "upgrade", "--format", "json")
	checkOneLineError(t, code, out, errs, "--format json applies to --check only")
	if code != 1 {
		t.Errorf("--format json without --check: exit %d, want 1", code)
	}
	code, out, errs = h.try(t, "upgrade", "--check", "--format", "json", "--tag", "missing")
	checkOneLineError(t, code, out, errs, "missing")
	if code != 1 || out != "" {
		t.Errorf("--check of a missing tag: exit %d, stdout %q; want 1 and nothing", code, out)
	}

	h.bootc(t, "upgrade", "--quiet")
	c, raw = check(exitNoUpdate)
	if c.UpdateAvailable || c.Digest != v2.ManifestDigest.String() || len(c.Fetch) != 0 || c.FetchSize != 0 ||
		c.Diff == nil || len(c.Diff.Added) != 0 || len(c.Diff.Removed) != 0 {
		t.Errorf("after the upgrade: %s", raw)
	}
}

func TestFormatSizeSI(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 bytes"}, {1, "1 byte"}, {330, "330 bytes"}, {999, "999 bytes"}, {1000, "1.0 kB"}, {1500, "1.5 kB"},
		{356_200_000, "356.2 MB"}, {8_000_000_000, "8.0 GB"}} {
		if got := deploy.FormatSizeSI(tc.n); got != tc.want {
			t.Errorf("FormatSizeSI(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
