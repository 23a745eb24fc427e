package storagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func spec() ImageSpec {
	return ImageSpec{
		Labels: map[string]string{"a": "b"},
		Layers: [][]File{
			{{Path: "usr/", Type: tar.TypeDir}, {Path: "usr/x", Content: []byte("x")}},
			{{Path: "usr/y", Content: Bytes("y", 1000), Mode: 0o600, UID: 7}},
		},
	}
}

func TestWriteOCI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	img, err := WriteOCI(dir, "v1", spec())
	if err != nil {
		t.Fatal(err)
	}
	again, err := WriteOCI(filepath.Join(t.TempDir(), "other"), "v1", spec())
	if err != nil {
		t.Fatal(err)
	}
	if again.ManifestDigest != img.ManifestDigest {
		t.Errorf("not deterministic: %s vs %s", img.ManifestDigest, again.ManifestDigest)
	}
	// Blobs are stored under their digests; layers decompress to Tar, whose digest is DiffID.
	for i, l := range img.Layers {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", l.Digest.Encoded()))
		if err != nil {
			t.Fatal(err)
		}
		if digest.FromBytes(b) != l.Digest || int64(len(b)) != l.Size {
			t.Errorf("layer %d blob does not match its descriptor", i)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(raw, l.Tar) || digest.FromBytes(raw) != l.DiffID {
			t.Errorf("layer %d does not decompress to its tar (%v)", i, err)
		}
	}
	var cfg imgspecv1.Image
	if err := json.Unmarshal(img.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "amd64" || cfg.OS != "linux" || len(cfg.RootFS.DiffIDs) != 2 || len(cfg.History) != 2 || cfg.Config.Labels["a"] != "b" {
		t.Errorf("config %s", img.Config)
	}
	// A second tag in the same layout keeps the first.
	spec2 := spec()
	spec2.Layers[1][0].Content = []byte("changed")
	if _, err := WriteOCI(dir, "v2", spec2); err != nil {
		t.Fatal(err)
	}
	var idx imgspecv1.Index
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Errorf("index %s (%v)", b, err)
	}

	// skopeo as an independent reader of the layout.
	if skopeo, err := exec.LookPath("skopeo"); err == nil {
		out, err := exec.Command(skopeo, "inspect", "--raw", img.Reference()).Output()
		if err != nil || !bytes.Equal(bytes.TrimSpace(out), img.Manifest) {
			t.Errorf("skopeo inspect --raw: %v\n%s", err, out)
		}
		out, err = exec.Command(skopeo, "inspect", "--config", "--raw", img.Reference()).Output()
		if err != nil || !bytes.Equal(bytes.TrimSpace(out), img.Config) {
			t.Errorf("skopeo inspect --config: %v\n%s", err, out)
		}
	} else {
		t.Log("skopeo not installed: skipping the skopeo oracle")
	}
}

func TestBreaks(t *testing.T) {
	for _, b := range []Break{TruncatedGzip, WrongDigest, MissingBlob} {
		dir := t.TempDir()
		s := spec()
		s.Breaks = map[int]Break{1: b}
		img, err := WriteOCI(dir, "broken", s)
		if err != nil {
			t.Fatal(err)
		}
		l := img.Layers[1]
		blob, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", l.Digest.Encoded()))
		switch b {
		case MissingBlob:
			if !os.IsNotExist(err) {
				t.Errorf("MissingBlob: blob present (%v)", err)
			}
		case TruncatedGzip:
			if err != nil || digest.FromBytes(blob) != l.Digest {
				t.Fatalf("TruncatedGzip: blob %v, digest mismatch", err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(blob))
			if err == nil {
				_, err = io.ReadAll(zr)
			}
			if err == nil {
				t.Error("TruncatedGzip decompresses")
			}
		case WrongDigest:
			if err != nil || digest.FromBytes(blob) == l.Digest {
				t.Fatalf("WrongDigest: blob %v, digest matches", err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(blob))
			if err == nil {
				_, err = io.ReadAll(zr)
			}
			if err != nil {
				t.Errorf("WrongDigest is not a valid gzip stream: %v", err)
			}
		}
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0016":                         "0.0.0.0:22",
		"00000000000000000000000001000000:0050": "[::1]:80",
		"00000000000000000000000000000000:0050": "[::]:80",
	} {
		got, err := parseProcAddr(in)
		if err != nil || got != want {
			t.Errorf("parseProcAddr(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestBytes(t *testing.T) {
	a, b := Bytes("s", 100), Bytes("s", 100)
	if len(a) != 100 || !bytes.Equal(a, b) || bytes.Equal(a, Bytes("t", 100)) {
		t.Error("Bytes is not deterministic per seed")
	}
}
