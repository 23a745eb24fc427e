package importer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// benchLayer is a layer of about 128 MiB in 1,500 files of sizes from 1 KiB to 1 MiB.
func benchLayer() []fixtures.Entry {
	es := []fixtures.Entry{{Path: "usr", Kind: fixtures.Dir, Mode: 0o755}}
	for d := range 15 {
		es = append(es, fixtures.Entry{Path: fmt.Sprintf("usr/d%d", d), Kind: fixtures.Dir, Mode: 0o755})
		for f := range 100 {
			size := int64(1<<10) << ((d*100 + f) % 11) // 1 KiB .. 1 MiB
			es = append(es, fixtures.Entry{Path: fmt.Sprintf("usr/d%d/f%d", d, f), Kind: fixtures.File, Mode: 0o644,
				Size: size, Seed: uint64(d*1000 + f)})
		}
	}
	return es
}

// BenchmarkImport measures one layer's import into a fresh bare repository on tmpfs:
// "layer" is ImportLayer with the diff-ID hash (the importer before tar-split and sources),
// "normal" is ImportImage from a plain source (tar-split recorded), "adopt" is ImportImage
// in adopt mode from a directory on the same tmpfs (first import: every file linked), and
// "adopt-present" the same when the repository already has every object.
func BenchmarkImport(b *testing.B) {
	if os.Geteuid() != 0 {
		testskip.Skip(b, "root", "needs root (bare repositories)")
	}
	ctx := context.Background()
	base, err := os.MkdirTemp("/dev/shm", "bench-import-")
	if err != nil {
		testskip.Skip(b, "tmpfs", "no tmpfs at /dev/shm:", err)
	}
	defer os.RemoveAll(base)
	entries := benchLayer()
	var buf bytes.Buffer
	if err := fixtures.WriteTar(&buf, entries, fixtures.TarOptions{Prefix: "./"}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	diffID := fmt.Sprintf("sha256:%x", sha256.Sum256(data))
	dir := filepath.Join(base, "diff")
	if err := fixtures.Write(dir, entries); err != nil {
		b.Fatal(err)
	}
	opts := importer.Options{AllowUnbootable: true, Architecture: "amd64"}
	image := func(adoptDir string) importer.Image {
		src := importer.Source{Name: "bench", AdoptDir: adoptDir,
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
		return imageOf(b, "bench", importer.Layer{Digest: diffID, DiffID: diffID, Sources: []importer.Source{src}})
	}
	newRepo := func(i int) *ostree.Repo {
		repo, err := ostree.CreateRepo(ctx, filepath.Join(base, fmt.Sprint("repo", i)), ostree.ModeBare)
		if err != nil {
			b.Fatal(err)
		}
		repo.SetDisableFsync(true)
		return repo
	}
	run := func(b *testing.B, prepare func(*ostree.Repo), do func(*ostree.Repo) error) {
		b.SetBytes(int64(len(data)))
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			repo := newRepo(i)
			if prepare != nil {
				prepare(repo)
			}
			b.StartTimer()
			if err := do(repo); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			repo.Close()
			os.RemoveAll(repo.Path())
			b.StartTimer()
		}
	}
	b.Run("layer", func(b *testing.B) {
		run(b, nil, func(repo *ostree.Repo) error {
			return repo.WithTransaction(ctx, func(*ostree.Transaction) error {
				h := sha256.New()
				r := io.TeeReader(bytes.NewReader(data), h)
				_, _, err := importer.ImportLayer(ctx, repo, r, importer.LayerOptions{})
				io.Copy(io.Discard, r)
				return err
			})
		})
	})
	b.Run("normal", func(b *testing.B) {
		run(b, nil, func(repo *ostree.Repo) error {
			_, err := importer.ImportImage(ctx, repo, image(""), opts)
			return err
		})
	})
	b.Run("adopt", func(b *testing.B) {
		run(b, nil, func(repo *ostree.Repo) error {
			res, err := importer.ImportImage(ctx, repo, image(dir), opts)
			if err == nil && res.Stats.Adopted == 0 {
				err = fmt.Errorf("nothing adopted: %+v", res.Stats)
			}
			return err
		})
	})
	b.Run("adopt-present", func(b *testing.B) {
		run(b, func(repo *ostree.Repo) {
			if _, err := importer.ImportImage(ctx, repo, image(dir), opts); err != nil {
				b.Fatal(err)
			}
			for _, ref := range mustRefs(b, repo) {
				repo.DeleteRef(ctx, ref)
			}
		}, func(repo *ostree.Repo) error {
			res, err := importer.ImportImage(ctx, repo, image(dir), opts)
			if err == nil && res.Stats.Present == 0 {
				err = fmt.Errorf("no object found present: %+v", res.Stats)
			}
			return err
		})
	})
}

func mustRefs(b *testing.B, repo *ostree.Repo) []string {
	refs, err := repo.ListRefs(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for r := range refs {
		out = append(out, r)
	}
	return out
}
