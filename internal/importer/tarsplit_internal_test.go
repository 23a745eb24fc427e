package importer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"

	"github.com/klauspost/pgzip"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// BenchmarkTarSplitOverhead measures ImportLayer with and without tar-split recording on
// a layer of about 100 MiB, into a bare repository on tmpfs.
func BenchmarkTarSplitOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		testskip.Skip(b, "root", "needs root (bare repositories)")
	}
	ctx := context.Background()
	base, err := os.MkdirTemp("/dev/shm", "bench-ts-")
	if err != nil {
		testskip.Skip(b, "tmpfs", "no tmpfs at /dev/shm:", err)
	}
	defer os.RemoveAll(base)
	es := []fixtures.Entry{{Path: "usr", Kind: fixtures.Dir, Mode: 0o755}}
	for f := range 1000 {
		es = append(es, fixtures.Entry{Path: fmt.Sprintf("usr/f%d", f), Kind: fixtures.File, Mode: 0o644,
			Size: int64(1<<10) << (f % 9), Seed: uint64(f)})
	}
	var buf bytes.Buffer
	if err := fixtures.WriteTar(&buf, es, fixtures.TarOptions{}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	var gzBuf bytes.Buffer
	zw := gzip.NewWriter(&gzBuf)
	zw.Write(data)
	zw.Close()
	for _, c := range []struct {
		record, gz bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		record := c.record
		b.Run(fmt.Sprintf("gzip=%v/tarsplit=%v", c.gz, record), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				repo, err := ostree.CreateRepo(ctx, filepath.Join(base, fmt.Sprint("repo", record, i)), ostree.ModeBare)
				if err != nil {
					b.Fatal(err)
				}
				repo.SetDisableFsync(true)
				b.StartTimer()
				err = repo.WithTransaction(ctx, func(*ostree.Transaction) error {
					h := sha256.New()
					var src io.Reader = bytes.NewReader(data)
					if c.gz {
						zr, err := pgzip.NewReader(bytes.NewReader(gzBuf.Bytes()))
						if err != nil {
							return err
						}
						defer zr.Close()
						src = zr
					}
					var r io.Reader = io.TeeReader(src, h)
					var ts *tarSplitRecorder
					var lopts LayerOptions
					if record {
						ts = recordTarSplit(r)
						r = ts
						lopts.onHeader, lopts.onFile = ts.header, ts.file
					}
					_, _, err := ImportLayer(ctx, repo, r, lopts)
					if err != nil {
						return err
					}
					if ts != nil {
						_, err = ts.finish()
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				repo.Close()
				os.RemoveAll(repo.Path())
				b.StartTimer()
			}
		})
	}
}

// TestTarSplitMatchesAsm checks the recorder against tar-split's own
// asm.NewInputTarStream on the same streams: the same JSON lines, byte for byte.
func TestTarSplitMatchesAsm(t *testing.T) {
	ctx := context.Background()
	repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	long := strings.Repeat("long-name/", 15) + "file"
	rich := append(fixtures.RichTree(),
		fixtures.Entry{Path: "usr/" + long, Kind: fixtures.File, Mode: 0o644, Content: []byte("long")},
		fixtures.Entry{Path: "tmp/filtered", Kind: fixtures.File, Mode: 0o644, Size: 70000, Seed: 1},
		fixtures.Entry{Path: "usr/lib/.wh.gone", Kind: fixtures.File, Mode: 0o644})
	mk := func(es []fixtures.Entry, prefix string, trailer int) []byte {
		var buf bytes.Buffer
		if err := fixtures.WriteTar(&buf, es, fixtures.TarOptions{Prefix: prefix}); err != nil {
			t.Fatal(err)
		}
		buf.Write(make([]byte, trailer))
		return buf.Bytes()
	}
	// A minimal archive straight from archive/tar.
	var odd bytes.Buffer
	tw := tar.NewWriter(&odd)
	tw.WriteHeader(&tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "usr/f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	tw.Write([]byte("abc"))
	tw.Close()
	cases := map[string][]byte{
		"rich":           mk(rich, "", 0),
		"rich ./":        mk(rich, "./", 0),
		"trailing zeros": mk(rich, "./", 5000),
		"odd":            odd.Bytes(),
		"empty archive":  make([]byte, 1024),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			var want bytes.Buffer
			pr, done, _ := asm.NewInputTarStreamWithDone(bytes.NewReader(data), storage.NewJSONPacker(&want), nil)
			if _, err := io.Copy(io.Discard, pr); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			ts := recordTarSplit(bytes.NewReader(data))
			err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
				_, _, err := ImportLayer(ctx, repo, ts, LayerOptions{onHeader: ts.header, onFile: ts.file})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			split, err := ts.finish()
			if err != nil || split == nil {
				t.Fatalf("finish: %v (nil: %v)", err, split == nil)
			}
			zr, err := gzip.NewReader(bytes.NewReader(split))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(zr)
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("tar-split differs from asm's:\n got %.2000s\nwant %.2000s", got, want.Bytes())
			}
		})
	}

	t.Run("duplicate path", func(t *testing.T) {
		es := []fixtures.Entry{{Path: "usr", Kind: fixtures.Dir, Mode: 0o755},
			{Path: "usr/f", Kind: fixtures.File, Mode: 0o644, Content: []byte("1")},
			{Path: "usr/f", Kind: fixtures.File, Mode: 0o644, Content: []byte("2")}}
		data := mk(es, "", 0)
		ts := recordTarSplit(bytes.NewReader(data))
		err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
			_, _, err := ImportLayer(ctx, repo, ts, LayerOptions{onHeader: ts.header, onFile: ts.file})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if split, err := ts.finish(); err != nil || split != nil {
			t.Fatalf("want no tar-split and no error for a path written twice, got %d bytes, %v", len(split), err)
		}
	})
}
