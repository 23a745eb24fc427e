package tarstream

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fuzzSeeds returns small archives covering the formats and the error
// paths, for the committed fuzz corpus. Most have no end-of-archive blocks
// (the end of the input at a header boundary is a valid end) to keep the
// corpus files small.
func fuzzSeeds() map[string][]byte {
	seeds := map[string][]byte{}
	var tb tarBuilder

	tb.Reset()
	tb.file("dir/file", "hello").add(rawEntry{name: "dir/", typeflag: TypeDir, mode: 0o755, uname: "root"})
	tb.add(rawEntry{name: "sym", typeflag: TypeSymlink, linkname: "dir/file"})
	seeds["ustar"] = bytes.Clone(tb.end().Bytes())

	tb.Reset()
	tb.add(rawEntry{name: "n", prefix: "some/prefix", typeflag: TypeReg, content: []byte("p")})
	tb.add(rawEntry{name: "dev", typeflag: TypeChar, devmaj: 1, devmin: 3})
	seeds["ustar-prefix-dev"] = bytes.Clone(tb.Bytes())

	tb.Reset()
	tb.pax("path", "pax/name", "SCHILY.xattr.user.b", "2", "SCHILY.xattr.user.a", "1", "mtime", "1.5", "uid", "70000")
	tb.file("short", "data")
	seeds["pax-xattrs"] = bytes.Clone(tb.Bytes())

	tb.Reset()
	tb.pax("LIBARCHIVE.xattr.user.c%3D", "AAE", "RHT.security.selinux", "ctx", "comment", "c", "size", "2")
	tb.add(rawEntry{name: "f", typeflag: TypeReg, size: 9, sizeSet: true, content: []byte("ab")})
	seeds["pax-libarchive"] = bytes.Clone(tb.Bytes())

	tb.Reset()
	tb.meta(TypeXGlobalHeader, paxBody("comment", "global"))
	tb.file("g", "after global")
	seeds["pax-global"] = bytes.Clone(tb.Bytes())

	tb.Reset()
	tb.add(rawEntry{magic: magicGNU, name: "././@LongLink", typeflag: TypeGNULongName, content: []byte(strings.Repeat("L", 120) + "\x00")})
	tb.add(rawEntry{magic: magicGNU, name: "././@LongLink", typeflag: TypeGNULongLink, content: []byte(strings.Repeat("K", 110) + "\x00")})
	tb.add(rawEntry{magic: magicGNU, name: "x", typeflag: TypeLink, uid: 1 << 40})
	seeds["gnu-long"] = bytes.Clone(tb.Bytes())

	tb.Reset()
	tb.add(rawEntry{v7: true, name: "v7dir/", typeflag: TypeRegA})
	tb.add(rawEntry{v7: true, name: "v7dir/f", typeflag: TypeRegA, content: []byte("v7")})
	tb.add(rawEntry{v7: true, name: "v7dir/sized/", typeflag: TypeRegA, size: 512, sizeSet: true})
	seeds["v7"] = bytes.Clone(tb.Bytes())

	tb.Reset()
	tb.file("ok", "x").add(rawEntry{name: "bad", typeflag: TypeReg, badChecksum: true})
	seeds["bad-checksum"] = bytes.Clone(tb.Bytes())

	tb.Reset()
	tb.file("trunc", strings.Repeat("t", 600))
	seeds["truncated"] = bytes.Clone(tb.Bytes()[:blockSize+300])

	tb.Reset()
	tb.meta(TypeXHeader, "9 path=ab\n5 x\n")
	tb.file("f", "")
	seeds["pax-bad-record"] = bytes.Clone(tb.Bytes())

	tb.Reset()
	tb.add(rawEntry{magic: magicGNU, name: "sparse", typeflag: TypeGNUSparse, content: []byte("s")})
	seeds["gnu-sparse"] = bytes.Clone(tb.Bytes())
	return seeds
}

// fuzzCorpusFile formats data as a corpus file in the `go test fuzz v1` format.
func fuzzCorpusFile(data []byte) []byte {
	return []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data))
}

// TestFuzzCorpus checks that the committed corpus in
// testdata/fuzz/FuzzReader matches fuzzSeeds. Run with
// TARSTREAM_WRITE_CORPUS=1 to (re)write it.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	write := os.Getenv("TARSTREAM_WRITE_CORPUS") == "1"
	for name, data := range fuzzSeeds() {
		path := filepath.Join(dir, "seed-"+name)
		want := fuzzCorpusFile(data)
		if write {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale (%v); regenerate with TARSTREAM_WRITE_CORPUS=1 go test -run TestFuzzCorpus", path, err)
		}
	}
}

// fuzzStd is what the differential part of the fuzz test compares.
type fuzzStd struct {
	hdr        *tar.Header
	afterGlobl bool // a global header came before this entry
}

// FuzzReader reads arbitrary input with content read fully and skipped.
// It must never panic or hang; both ways must agree; content lengths must
// match the sizes; and where archive/tar reads the input without error and
// without xattrs or sparse files, names, link targets, types and sizes must
// match archive/tar's.
func FuzzReader(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkInput(t, data)
		// Most mutations break header checksums, which stops both
		// readers early; check the input with valid checksums too.
		checkInput(t, withChecksums(data))
	})
}

// withChecksums returns a copy of data in which every non-zero 512-byte
// block at a multiple of 512 has a valid (unsigned) header checksum.
func withChecksums(data []byte) []byte {
	out := bytes.Clone(data)
	for off := 0; off+blockSize <= len(out); off += blockSize {
		b := (*[blockSize]byte)(out[off : off+blockSize])
		if *b != [blockSize]byte{} {
			setChecksum(b, false)
		}
	}
	return out
}

// checkInput runs the checks of FuzzReader on one input.
func checkInput(t *testing.T, data []byte) {
	full, ferr := readAll(bytes.NewReader(data), readFull)
	skip, serr := readAll(onlyReader{bytes.NewReader(data)}, readNone)
	seek, kerr := readAll(bytes.NewReader(data), readNone)

	for _, err := range []error{ferr, serr, kerr} {
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
	}
	// Reading content or skipping it must not change the headers.
	// A truncated content shows on Read when reading, on Next
	// when skipping: the skipping reader may return one more entry.
	if !reflect.DeepEqual(skip, seek) || (serr == nil) != (kerr == nil) {
		t.Fatalf("skipping with and without Seek differ: %d %v / %d %v", len(skip), serr, len(seek), kerr)
	}
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("full read error %v, skipping error %v", ferr, serr)
	}
	if len(skip) < len(full) || len(skip) > len(full)+1 || (ferr == nil && len(skip) != len(full)) {
		t.Fatalf("full read got %d entries, skipping %d", len(full), len(skip))
	}
	for i := range full {
		if !reflect.DeepEqual(full[i].hdr, skip[i].hdr) {
			t.Fatalf("entry %d: full read %+v, skipping %+v", i, full[i].hdr, skip[i].hdr)
		}
		h, n := full[i].hdr, int64(len(full[i].content))
		want := h.Size
		if isHeaderOnly(h.Typeflag) {
			want = 0
		}
		if n != want && !(i == len(full)-1 && ferr != nil && n < want) {
			t.Fatalf("entry %d %q: read %d bytes of content, size %d", i, h.Name, n, want)
		}
		if h.Mode&^0o7777 != 0 {
			t.Fatalf("entry %d: mode %o has more than 12 bits", i, h.Mode)
		}
		switch h.Typeflag {
		case TypeXHeader, TypeXGlobalHeader, TypeGNULongName, TypeGNULongLink, TypeGNUSparse:
			t.Fatalf("entry %d: meta typeflag %q returned", i, h.Typeflag)
		}
	}

	// Differential test against archive/tar.
	if errors.Is(ferr, ErrSparse) {
		return
	}
	// Records archive/tar does not interpret (and which we may reject)
	// can sit in an extended header with no entry after it, where
	// archive/tar never shows them: look for them in the raw input.
	for _, k := range []string{paxSchilyXattr, paxLibarchiveXattr, paxSELinux, paxGNUSparse} {
		if bytes.Contains(data, []byte(k)) {
			return
		}
	}
	std, gerr := readStdForFuzz(data)
	if gerr != nil {
		return
	}
	n := len(std)
	for i, s := range std {
		if s.afterGlobl {
			// Global headers are handled differently by design
			// (archive/tar returns them as entries and forgets
			// pending extended headers); compare what comes before.
			n = i
			break
		}
	}
	if n == len(std) && ferr != nil {
		// We are stricter than archive/tar at the end of the
		// archive only: a truncated padding or meta header, or an
		// extended header with no entry after it.
		msg := ferr.Error()
		if !errors.Is(ferr, io.ErrUnexpectedEOF) && !strings.Contains(msg, "right after an extended header") {
			t.Fatalf("archive/tar reads the input, we fail: %v", ferr)
		}
		if len(full) != len(std) {
			t.Fatalf("archive/tar reads %d entries, we fail after %d: %v", len(std), len(full), ferr)
		}
	}
	if len(full) < n {
		t.Fatalf("archive/tar reads %d entries, we %d: %v", len(std), len(full), ferr)
	}
	for i := 0; i < n; i++ {
		o, s := full[i].hdr, std[i].hdr
		wantName := s.Name
		if p := s.PAXRecords[paxPath]; p != "" {
			wantName = p // a pax path wins over a GNU long name for us
		}
		if o.Name != wantName && !(s.Format == tar.FormatUnknown && strings.HasSuffix(s.Name, "/"+o.Name)) {
			// (archive/tar reads some GNU headers as ustar with a
			// prefix, for files from old buggy Go versions.)
			t.Fatalf("entry %d: name %q, archive/tar %q", i, o.Name, s.Name)
		}
		wantLink := s.Linkname
		if p := s.PAXRecords[paxLinkpath]; p != "" {
			wantLink = p
		}
		if o.Linkname != wantLink {
			t.Fatalf("entry %d: linkname %q, archive/tar %q", i, o.Linkname, s.Linkname)
		}
		if o.Size != s.Size {
			t.Fatalf("entry %d: size %d, archive/tar %d", i, o.Size, s.Size)
		}
		if got := o.Typeflag; got != s.Typeflag && !(got == TypeRegA && (s.Typeflag == TypeReg || s.Typeflag == TypeDir)) {
			t.Fatalf("entry %d: typeflag %q, archive/tar %q", i, got, s.Typeflag)
		}
	}
}

// readStdForFuzz reads data with archive/tar, leaving global headers out
// but marking the entries after them.
func readStdForFuzz(data []byte) ([]fuzzStd, error) {
	tr := tar.NewReader(bytes.NewReader(data))
	var out []fuzzStd
	global := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			global = true
			continue
		}
		// Content is not read: archive/tar expands the holes of sparse
		// files, which may be exabytes long. Next still checks that the
		// content is there when it skips it.
		out = append(out, fuzzStd{hdr: h, afterGlobl: global})
	}
}
