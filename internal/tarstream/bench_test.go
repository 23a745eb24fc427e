package tarstream

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

var benchArchive = sync.OnceValue(func() []byte {
	return makeBenchArchive(64 << 20)
})

// makeBenchArchive writes, with archive/tar, an archive of about size bytes
// of content shaped roughly like a distribution layer (average file about
// 64 KiB, most files small, a few of several MiB; a directory per 6 files
// and a symlink per 12), with some long names (PAX) and xattrs.
func makeBenchArchive(size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]byte, 8<<20)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	var buf bytes.Buffer
	buf.Grow(size + size/8)
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	total := 0
	for i := 0; total < size; i++ {
		if i%6 == 0 {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/share/dir%04d/", i/6), Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime, Uname: "root", Gname: "root"})
		}
		if i%12 == 0 {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/share/dir%04d/link%d", i/6, i), Typeflag: tar.TypeSymlink, Linkname: "../target", Mode: 0o777, ModTime: mtime, Uname: "root", Gname: "root"})
		}
		var n int
		switch r := rng.IntN(100); {
		case r < 55:
			n = rng.IntN(8 << 10)
		case r < 85:
			n = 8<<10 + rng.IntN(56<<10)
		case r < 99:
			n = 64<<10 + rng.IntN(448<<10)
		default:
			n = 1<<20 + rng.IntN(7<<20)
		}
		h := &tar.Header{Name: fmt.Sprintf("usr/share/dir%04d/file-%06d.dat", i/6, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(n), ModTime: mtime, Uname: "root", Gname: "root"}
		if i%50 == 0 {
			h.Name = fmt.Sprintf("usr/share/dir%04d/%0200d", i/6, i) // needs PAX
		}
		if i%40 == 0 {
			h.PAXRecords = map[string]string{"SCHILY.xattr.user.a": "1", "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		off := rng.IntN(len(src) - n + 1)
		tw.Write(src[off : off+n])
		total += n
	}
	tw.Close()
	return buf.Bytes()
}

// BenchmarkReader reads every entry and all content of a 64 MiB archive
// with tarstream.
func BenchmarkReader(b *testing.B) {
	data := benchArchive()
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr := NewReader(bytes.NewReader(data))
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, onlyReader{tr}, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStdlib does the same with archive/tar.
func BenchmarkStdlib(b *testing.B) {
	data := benchArchive()
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr := tar.NewReader(bytes.NewReader(data))
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, onlyReader{tr}, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReaderHeaders reads only the headers (content skipped), which
// measures the per-entry cost.
func BenchmarkReaderHeaders(b *testing.B) {
	data := benchArchive()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr := NewReader(onlyReader{bytes.NewReader(data)})
		for {
			if _, err := tr.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStdlibHeaders does the same with archive/tar.
func BenchmarkStdlibHeaders(b *testing.B) {
	data := benchArchive()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr := tar.NewReader(onlyReader{bytes.NewReader(data)})
		for {
			if _, err := tr.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestBenchArchive checks the benchmark input on a small scale.
func TestBenchArchive(t *testing.T) {
	data := makeBenchArchive(4 << 20)
	std, err := readAllStd(data)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := readAll(bytes.NewReader(data), readFull)
	if err != nil {
		t.Fatal(err)
	}
	compareWithStd(t, ours, std, true)
}
