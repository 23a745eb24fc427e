package tarstream

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// pattern returns n bytes of deterministic content.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// commonFiles returns entries of every type, with sizes around block
// boundaries and the special mode bits.
func commonFiles() []stdFile {
	reg := func(name string, mode int64, content []byte) stdFile {
		return stdFile{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Uid: 1000, Gid: 1000, Uname: "user", Gname: "group"}, content: content}
	}
	return []stdFile{
		{hdr: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, Uname: "root", Gname: "root"}},
		{hdr: tar.Header{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755}},
		reg("./etc/empty", 0o644, []byte{}),
		reg("./etc/one", 0o600, []byte("x")),
		reg("./etc/b511", 0o644, pattern(511, 1)),
		reg("./etc/b512", 0o644, pattern(512, 2)),
		reg("./etc/b513", 0o644, pattern(513, 3)),
		reg("./usr/bin/su", 0o4755, pattern(10000, 4)),
		reg("./usr/bin/wall", 0o2755, pattern(70000, 5)),
		{hdr: tar.Header{Name: "./tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, Gid: 42}},
		{hdr: tar.Header{Name: "./usr/bin/sh", Typeflag: tar.TypeSymlink, Linkname: "dash", Mode: 0o777}},
		{hdr: tar.Header{Name: "./usr/bin/gunzip", Typeflag: tar.TypeLink, Linkname: "./usr/bin/su", Mode: 0o755}},
		{hdr: tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}},
		{hdr: tar.Header{Name: "./dev/sda", Typeflag: tar.TypeBlock, Mode: 0o660, Devmajor: 8, Devminor: 0, Gid: 6}},
		{hdr: tar.Header{Name: "./run/fifo", Typeflag: tar.TypeFifo, Mode: 0o644}},
		reg("./big", 0o644, pattern(200<<10, 6)),
		reg("./after-big", 0o644, []byte("tail")),
	}
}

// stdArchives returns archives written by archive/tar in each format.
func stdArchives(t testing.TB) map[string][]byte {
	long := strings.Repeat("long-directory-name/", 8) + "file-with-a-long-name.txt" // > 100, < 256 with prefix
	longer := strings.Repeat("d/", 200) + "f"                                       // > 256
	prefixName := strings.Repeat("p", 90) + "/" + strings.Repeat("n", 90)           // fits ustar prefix+name

	ustar := append(commonFiles(),
		stdFile{hdr: tar.Header{Name: prefixName, Typeflag: tar.TypeReg, Mode: 0o644}, content: []byte("prefixed")},
		stdFile{hdr: tar.Header{Name: long, Typeflag: tar.TypeReg, Mode: 0o644}, content: []byte("long")},
	)
	pax := append(commonFiles(),
		stdFile{hdr: tar.Header{Name: longer, Typeflag: tar.TypeReg, Mode: 0o644}, content: []byte("longer")},
		stdFile{hdr: tar.Header{Name: "link-to-longer", Typeflag: tar.TypeSymlink, Linkname: longer}},
		stdFile{hdr: tar.Header{Name: "ünïcødé/名前", Typeflag: tar.TypeReg, Mode: 0o644}, content: []byte("utf8")},
		stdFile{hdr: tar.Header{Name: "bigids", Typeflag: tar.TypeReg, Uid: 1 << 30, Gid: 3000000, Uname: strings.Repeat("u", 40), Gname: "g"}, content: []byte("ids")},
		stdFile{hdr: tar.Header{Name: "nanos", Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 123456789)}, content: []byte("ns")},
		stdFile{hdr: tar.Header{Name: "old", Typeflag: tar.TypeReg, ModTime: time.Unix(-1000, 500000000)}, content: []byte("old")},
		stdFile{hdr: tar.Header{Name: "records", Typeflag: tar.TypeReg, PAXRecords: map[string]string{
			"comment":                         "hello=world\nsecond line",
			"SCHILY.xattr.security.selinux":   "system_u:object_r:bin_t:s0\x00",
			"SCHILY.xattr.user.binary":        "\x00\x01\x02\xff",
			"SCHILY.fflags":                   "nodump",
			"SCHILY.xattr.trusted.overlay.op": "y",
		}}, content: []byte("rec")},
		stdFile{hdr: tar.Header{Name: "dev-big", Typeflag: tar.TypeChar, Devmajor: 2097151, Devminor: 1 << 20}},
	)
	gnu := append(commonFiles(),
		stdFile{hdr: tar.Header{Name: longer, Typeflag: tar.TypeReg, Mode: 0o644}, content: []byte("longer")},
		stdFile{hdr: tar.Header{Name: "hardlink-long", Typeflag: tar.TypeLink, Linkname: longer}},
		stdFile{hdr: tar.Header{Name: longer + "2", Typeflag: tar.TypeSymlink, Linkname: longer}},
		stdFile{hdr: tar.Header{Name: "base256", Typeflag: tar.TypeReg, Uid: 1 << 40, Gid: 1 << 33}, content: []byte("b256")},
		stdFile{hdr: tar.Header{Name: "negative-mtime", Typeflag: tar.TypeReg, ModTime: time.Unix(-1<<40, 0)}, content: []byte("neg")},
		stdFile{hdr: tar.Header{Name: "dev-big", Typeflag: tar.TypeBlock, Devmajor: 1 << 30, Devminor: 1 << 25}},
	)
	return map[string][]byte{
		"ustar": writeStd(t, tar.FormatUSTAR, ustar),
		"pax":   writeStd(t, tar.FormatPAX, pax),
		"gnu":   writeStd(t, tar.FormatGNU, gnu),
	}
}

// handArchives returns archives built by hand in layouts archive/tar does
// not write but reads.
func handArchives() map[string][]byte {
	var v7 tarBuilder
	v7.add(rawEntry{v7: true, name: "dir/", typeflag: TypeRegA, mode: 0o755, content: []byte{}})
	v7.add(rawEntry{v7: true, name: "dir2/", typeflag: TypeRegA, size: 512, sizeSet: true}) // no content follows
	v7.add(rawEntry{v7: true, name: "dir/file", typeflag: TypeRegA, mode: 0o100644, uid: 7, gid: 8, mtime: 123456, content: []byte("v7 content")})
	v7.add(rawEntry{v7: true, name: "dir/link", typeflag: TypeLink, linkname: "dir/file", mode: 0o644})
	v7.add(rawEntry{v7: true, name: "dir/sym", typeflag: TypeSymlink, linkname: "file", mode: 0o777})
	v7.add(rawEntry{v7: true, name: "zero", typeflag: TypeReg, content: pattern(1024, 9)})
	v7.end()

	var star tarBuilder
	star.add(rawEntry{name: "name", prefix: strings.Repeat("s", 131), typeflag: TypeReg, content: []byte("star"),
		fix: func(b *[blockSize]byte) { copy(b[offSTARTail:], "tar\x00") }})
	star.end()

	var gnuLong tarBuilder // L and K written by hand, with NUL-terminated bodies
	gnuLong.add(rawEntry{magic: magicGNU, name: "././@LongLink", typeflag: TypeGNULongName, content: []byte(strings.Repeat("n", 300) + "\x00")})
	gnuLong.add(rawEntry{magic: magicGNU, name: "././@LongLink", typeflag: TypeGNULongLink, content: []byte(strings.Repeat("l", 200) + "\x00")})
	gnuLong.add(rawEntry{magic: magicGNU, name: "short", linkname: "shortlink", typeflag: TypeSymlink, mode: 0o777})
	gnuLong.add(rawEntry{magic: magicGNU, name: "base256-size", typeflag: TypeReg, content: []byte("abc"),
		fix: func(b *[blockSize]byte) {
			f := b[offSize : offSize+12]
			clear(f)
			f[0], f[11] = 0x80, 3
		}})
	gnuLong.end()

	var signed tarBuilder
	signed.add(rawEntry{name: "na\xefve-\xff\xfe", typeflag: TypeReg, content: []byte("sig"), signedChecksum: true})
	signed.end()

	var spaces tarBuilder // numeric fields padded with spaces and NULs
	spaces.add(rawEntry{name: "spaces", typeflag: TypeReg, content: []byte("sp"), fix: func(b *[blockSize]byte) {
		copy(b[offMode:offMode+8], "   644 \x00")
		copy(b[offUid:offUid+8], "\x00\x00  12 ")
		copy(b[offSize:offSize+12], "2\x00          ")
	}})
	spaces.end()

	var oneZero tarBuilder // a single zero block at the end
	oneZero.file("a", "b")
	oneZero.Write(make([]byte, blockSize))

	var noEnd tarBuilder // no end-of-archive blocks at all
	noEnd.file("a", "content")
	noEnd.file("b", strings.Repeat("c", 512))

	var trailing tarBuilder // garbage after the end-of-archive blocks
	trailing.file("a", "b").end()
	trailing.WriteString("garbage after the end")

	var modeType tarBuilder // mode fields with file type bits
	modeType.add(rawEntry{name: "f", typeflag: TypeReg, mode: 0o100755, content: []byte("m")})
	modeType.add(rawEntry{name: "d/", typeflag: TypeDir, mode: 0o41777})
	modeType.end()

	return map[string][]byte{
		"v7":        v7.Bytes(),
		"star":      star.Bytes(),
		"gnu-hand":  gnuLong.Bytes(),
		"signed":    signed.Bytes(),
		"spaces":    spaces.Bytes(),
		"one-zero":  oneZero.Bytes(),
		"no-end":    noEnd.Bytes(),
		"trailing":  trailing.Bytes(),
		"mode-type": modeType.Bytes(),
		"empty":     {},
	}
}

// TestDifferentialStdlib reads archives with our Reader and with
// archive/tar and compares every header field and the content, through
// several kinds of underlying readers and with content read fully, partly
// or not at all.
func TestDifferentialStdlib(t *testing.T) {
	archives := stdArchives(t)
	for name, data := range handArchives() {
		archives[name] = data
	}
	readers := map[string]func([]byte) io.Reader{
		"bytes":       func(b []byte) io.Reader { return bytes.NewReader(b) },
		"noseek":      func(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} },
		"badseek":     func(b []byte) io.Reader { return failingSeeker{bytes.NewReader(b)} },
		"onebyte":     func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"dataerr":     func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"half":        func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"timeout-ish": func(b []byte) io.Reader { return onlyReader{iotest.HalfReader(bytes.NewReader(b))} },
	}
	modes := map[string]readMode{"full": readFull, "none": readNone, "partial": readPartial}
	for aname, data := range archives {
		std, err := readAllStd(data)
		if err != nil {
			t.Fatalf("%s: archive/tar: %v", aname, err)
		}
		for rname, mk := range readers {
			for mname, mode := range modes {
				t.Run(aname+"/"+rname+"/"+mname, func(t *testing.T) {
					ours, err := readAll(mk(data), mode)
					if err != nil {
						t.Fatalf("our reader: %v", err)
					}
					compareWithStd(t, ours, std, mode == readFull)
					if mode == readPartial {
						for i, e := range ours {
							want := std[i].content
							if len(want) > 7 {
								want = want[:7]
							}
							if !bytes.Equal(e.content, want) {
								t.Errorf("entry %d: partial content %q, want %q", i, e.content, want)
							}
						}
					}
				})
			}
		}
	}
}

// TestHandArchivesDetails checks the values of hand-built archives that the
// differential test cannot (raw typeflags, names archive/tar rewrites).
func TestHandArchivesDetails(t *testing.T) {
	a := handArchives()
	tests := []struct {
		archive string
		want    []Header // only the fields checked below
	}{
		{"v7", []Header{
			{Name: "dir/", Typeflag: TypeDir, Mode: 0o755},
			{Name: "dir2/", Typeflag: TypeDir, Size: 512},
			{Name: "dir/file", Typeflag: TypeRegA, Mode: 0o644, Uid: 7, Gid: 8, Size: 10},
			{Name: "dir/link", Typeflag: TypeLink, Linkname: "dir/file", Mode: 0o644},
			{Name: "dir/sym", Typeflag: TypeSymlink, Linkname: "file", Mode: 0o777},
			{Name: "zero", Typeflag: TypeReg, Size: 1024},
		}},
		{"star", []Header{{Name: strings.Repeat("s", 131) + "/name", Typeflag: TypeReg, Size: 4}}},
		{"gnu-hand", []Header{
			{Name: strings.Repeat("n", 300), Linkname: strings.Repeat("l", 200), Typeflag: TypeSymlink, Mode: 0o777},
			{Name: "base256-size", Typeflag: TypeReg, Size: 3},
		}},
		{"mode-type", []Header{
			{Name: "f", Typeflag: TypeReg, Mode: 0o755, Size: 1},
			{Name: "d/", Typeflag: TypeDir, Mode: 0o1777},
		}},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.archive, func(t *testing.T) {
			got, err := readAll(bytes.NewReader(a[tt.archive]), readFull)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i].hdr
				if g.Name != w.Name || g.Linkname != w.Linkname || g.Typeflag != w.Typeflag ||
					g.Mode != w.Mode || g.Uid != w.Uid || g.Gid != w.Gid || g.Size != w.Size {
					t.Errorf("entry %d = {%q %q %q %o %d %d %d}, want {%q %q %q %o %d %d %d}", i,
						g.Name, g.Linkname, g.Typeflag, g.Mode, g.Uid, g.Gid, g.Size,
						w.Name, w.Linkname, w.Typeflag, w.Mode, w.Uid, w.Gid, w.Size)
				}
			}
		})
	}
}
