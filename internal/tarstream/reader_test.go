package tarstream

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestParseNumeric(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"", 0, false},
		{"\x00\x00\x00\x00", 0, false},
		{"        ", 0, false},
		{"0000644\x00", 0o644, false},
		{"644", 0o644, false},
		{" 644 \x00", 0o644, false},
		{"\x00 644", 0o644, false},
		{"12\x0034", 0o12, false},
		{"77777777777\x00", 0o77777777777, false},
		{"777777777777777777777", 0o777777777777777777777, false},
		{"1777777777777777777777", 0, true}, // 2^64-1 > int64
		{"17777777777777777777777", 0, true},
		{"12 34", 0, true},
		{"8", 0, true},
		{"-1", 0, true},
		{"0x10", 0, true},
		{"\x80\x00\x00\x00\x00\x00\x00\x01", 1, false},
		{"\x80\x00\x00\x00\x00\x00\x01\x00", 256, false},
		{"\x80\x7f\xff\xff\xff\xff\xff\xff", math.MaxInt64 >> 8, false},
		{"\x80\x00\x00\x00\x7f\xff\xff\xff\xff\xff\xff\xff", math.MaxInt64, false},
		{"\x80\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00", 0, true},
		{"\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00", 0, true},
		{"\xff\xff\xff\xff\xff\xff\xff\xff", -1, false},
		{"\xff\xff\xff\xff\xff\xff\xff\x00", -256, false},
		{"\xff\xff\xff\xff\x80\x00\x00\x00\x00\x00\x00\x00", math.MinInt64, false},
		{"\xff\xff\xff\xff\x7f\xff\xff\xff\xff\xff\xff\xff", 0, true},
		{"\x80", 0, false},
		{"\xc0", -64, false}, // sign bit set: 7-bit two's complement
		{"\xff", -1, false},
	}
	for _, tt := range tests {
		got, err := parseNumeric([]byte(tt.in))
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("parseNumeric(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseDecimalAndTime(t *testing.T) {
	dec := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false}, {"123", 123, false}, {"+5", 5, false}, {"-5", -5, false}, {"007", 7, false},
		{"9223372036854775807", math.MaxInt64, false}, {"-9223372036854775808", math.MinInt64, false},
		{"9223372036854775808", 0, true}, {"-9223372036854775809", 0, true}, {"99999999999999999999", 0, true},
		{"", 0, true}, {"+", 0, true}, {"-", 0, true}, {"1a", 0, true}, {" 1", 0, true}, {"1.5", 0, true},
	}
	for _, tt := range dec {
		got, err := parseDecimal(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("parseDecimal(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	times := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"0", time.Unix(0, 0), false},
		{"1700000000", time.Unix(1700000000, 0), false},
		{"1700000000.", time.Unix(1700000000, 0), false},
		{"1700000000.5", time.Unix(1700000000, 500000000), false},
		{"1700000000.123456789", time.Unix(1700000000, 123456789), false},
		{"1700000000.1234567891234", time.Unix(1700000000, 123456789), false},
		{"-1.5", time.Unix(-1, -500000000), false},
		{"-0.5", time.Unix(0, -500000000), false},
		{"+3.25", time.Unix(3, 250000000), false},
		{"", time.Time{}, true},
		{".5", time.Time{}, true},
		{"1.5x", time.Time{}, true},
		{"1.-5", time.Time{}, true},
		{"a", time.Time{}, true},
		{"1e9", time.Time{}, true},
	}
	for _, tt := range times {
		got, err := parsePAXTime(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && !got.Equal(tt.want)) {
			t.Errorf("parsePAXTime(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestEndOfArchive checks the ways an archive may end.
func TestEndOfArchive(t *testing.T) {
	file := func() *tarBuilder { var tb tarBuilder; tb.file("a", "content"); return &tb }
	tests := []struct {
		name string
		data []byte
		n    int
	}{
		{"empty input", nil, 0},
		{"only end blocks", make([]byte, 2*blockSize), 0},
		{"only one zero block", make([]byte, blockSize), 0},
		{"two zero blocks", file().end().Bytes(), 1},
		{"one zero block", append(file().Bytes(), make([]byte, blockSize)...), 1},
		{"EOF at header boundary", file().Bytes(), 1},
		{"full record of zeros", append(file().Bytes(), make([]byte, 10240)...), 1},
		{"garbage after end", append(file().end().Bytes(), "not a header at all"...), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []readMode{readFull, readNone} {
				got, err := readAll(bytes.NewReader(tt.data), mode)
				if err != nil || len(got) != tt.n {
					t.Fatalf("got %d entries, %v; want %d entries", len(got), err, tt.n)
				}
			}
			tr := NewReader(bytes.NewReader(tt.data))
			for i := 0; i < tt.n; i++ {
				if _, err := tr.Next(); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 3; i++ {
				if _, err := tr.Next(); err != io.EOF {
					t.Fatalf("Next after the end = %v, want io.EOF", err)
				}
				if n, err := tr.Read(make([]byte, 10)); n != 0 || err != io.EOF {
					t.Fatalf("Read after the end = %d, %v; want 0, io.EOF", n, err)
				}
			}
		})
	}
}

// TestErrors checks the error, its class and its location for corrupt,
// truncated and hostile archives, with both seekable and non-seekable
// readers and with content read or skipped.
func TestErrors(t *testing.T) {
	good := func() *tarBuilder { var tb tarBuilder; tb.file("ok", "fine"); return &tb }
	withPAX := func(body string) []byte {
		tb := good()
		tb.meta(TypeXHeader, body)
		tb.file("target", "x")
		return tb.end().Bytes()
	}
	big := func() *tarBuilder {
		tb := good()
		tb.file("big", strings.Repeat("b", 100000))
		return tb
	}
	truncate := func(b []byte, n int) []byte { return b[:len(b)-n] }

	tests := []struct {
		name    string
		data    []byte
		entries int    // entries returned before the error
		is      error  // errors.Is target
		substr  string // in the message
		entry   int    // Error.Entry
		errName string // Error.Name
	}{
		{"bad checksum", good().add(rawEntry{name: "bad", typeflag: TypeReg, badChecksum: true}).end().Bytes(),
			1, ErrHeader, "checksum", 1, "bad"},
		{"checksum not octal", good().add(rawEntry{name: "bad", typeflag: TypeReg, fix: func(b *[blockSize]byte) {}}).end().Bytes(),
			1, nil, "", 0, ""}, // placeholder replaced below
		{"random block", append(good().Bytes(), bytes.Repeat([]byte("garbage!"), 64)...),
			1, ErrHeader, "checksum", 1, strings.Repeat("garbage!", 12) + "garb"},
		{"zero then non-zero", append(append(good().Bytes(), make([]byte, blockSize)...), good().Bytes()...),
			1, ErrHeader, "zero block followed", 1, ""},
		{"truncated header", truncate(good().file("next", "x").Bytes(), 700),
			1, io.ErrUnexpectedEOF, "header", 1, ""},
		{"truncated content", truncate(good().file("next", strings.Repeat("x", 2000)).Bytes(), 1000),
			1, io.ErrUnexpectedEOF, "content", 1, "next"},
		{"truncated big content", truncate(big().Bytes(), 50000),
			1, io.ErrUnexpectedEOF, "content", 1, "big"},
		{"truncated padding", truncate(good().file("next", "short").Bytes(), 10),
			2, io.ErrUnexpectedEOF, "truncated", 1, "next"},
		{"truncated in second end block", truncate(good().end().Bytes(), 100),
			1, io.ErrUnexpectedEOF, "end-of-archive", 1, ""},
		{"bad octal size", good().add(rawEntry{name: "f", typeflag: TypeReg, fix: func(b *[blockSize]byte) { copy(b[offSize:], "12x") }}).end().Bytes(),
			1, ErrHeader, "size field", 1, "f"},
		{"bad octal mode", good().add(rawEntry{name: "f", typeflag: TypeReg, fix: func(b *[blockSize]byte) { copy(b[offMode:], "9") }}).end().Bytes(),
			1, ErrHeader, "mode field", 1, "f"},
		{"bad octal mtime", good().add(rawEntry{name: "f", typeflag: TypeReg, fix: func(b *[blockSize]byte) { copy(b[offMtime:], "1 2") }}).end().Bytes(),
			1, ErrHeader, "mtime field", 1, "f"},
		{"bad devmajor", good().add(rawEntry{name: "f", typeflag: TypeChar, fix: func(b *[blockSize]byte) { copy(b[offDevmajor:], "z") }}).end().Bytes(),
			1, ErrHeader, "devmajor", 1, "f"},
		{"base256 overflow", good().add(rawEntry{name: "f", typeflag: TypeReg, fix: func(b *[blockSize]byte) {
			copy(b[offSize:offSize+12], "\x80\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
		}}).end().Bytes(), 1, ErrHeader, "size field", 1, "f"},
		{"negative size", good().add(rawEntry{name: "f", typeflag: TypeReg, size: -5, sizeSet: true}).end().Bytes(),
			1, ErrHeader, "negative size", 1, "f"},
		{"PAX bad length", withPAX("x path=a\n"), 1, ErrHeader, "not a decimal", 1, ""},
		{"PAX length too long", withPAX("99 path=a\n"), 1, ErrHeader, "exceeds", 1, ""},
		{"PAX length too short", withPAX("2 path=abc\n"), 1, ErrHeader, "too small", 1, ""},
		{"PAX missing equals", withPAX("11 pathabc\n"), 1, ErrHeader, "no '='", 1, ""},
		{"PAX missing newline", withPAX("10 path=abc"), 1, ErrHeader, "newline", 1, ""},
		{"PAX trailing garbage", withPAX(paxRecord("path", "a") + "junk"), 1, ErrHeader, "no length", 1, "a"},
		{"PAX bad uid", withPAX(paxRecord("uid", "12a")), 1, ErrHeader, "PAX uid", 1, "target"},
		{"PAX bad gid", withPAX(paxRecord("gid", "") + paxRecord("gid", "1.5")), 1, ErrHeader, "PAX gid", 1, "target"},
		{"PAX bad size", withPAX(paxRecord("size", "-")), 1, ErrHeader, "PAX size", 1, "target"},
		{"PAX negative size", withPAX(paxRecord("size", "-1")), 1, ErrHeader, "negative size", 1, "target"},
		{"PAX bad mtime", withPAX(paxRecord("mtime", "12.x")), 1, ErrHeader, "PAX mtime", 1, "target"},
		{"PAX bad devmajor", withPAX(paxRecord("SCHILY.devmajor", "x")), 1, ErrHeader, "devmajor", 1, "target"},
		{"PAX empty xattr name", withPAX(paxRecord("SCHILY.xattr.", "v")), 1, ErrHeader, "empty attribute name", 1, ""},
		{"PAX bad base64", withPAX(paxRecord("LIBARCHIVE.xattr.user.a", "@@@@")), 1, ErrHeader, "base64", 1, ""},
		{"PAX GNU sparse", withPAX(paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0")), 1, ErrSparse, "GNU.sparse.major", 1, ""},
		{"global bad record", good().meta(TypeXGlobalHeader, "4 k\n").file("b", "c").end().Bytes(), 1, ErrHeader, "no '='", 1, ""},
		{"PAX header too large", good().add(rawEntry{name: "pax", typeflag: TypeXHeader, size: maxMetaSize + 1, sizeSet: true}).Bytes(),
			1, ErrHeader, "larger than", 1, ""},
		{"long name too large", good().add(rawEntry{name: "L", typeflag: TypeGNULongName, size: 1 << 40, sizeSet: true}).Bytes(),
			1, ErrHeader, "larger than", 1, ""},
		{"meta negative size", good().add(rawEntry{name: "L", typeflag: TypeGNULongName, size: -1, sizeSet: true}).Bytes(),
			1, ErrHeader, "negative", 1, ""},
		{"meta bad size", good().add(rawEntry{name: "L", typeflag: TypeGNULongName, fix: func(b *[blockSize]byte) { copy(b[offSize:], "q") }}).Bytes(),
			1, ErrHeader, "size field", 1, ""},
		{"truncated PAX body", truncate(good().pax("path", strings.Repeat("p", 600)).Bytes(), 600),
			1, io.ErrUnexpectedEOF, "extended header", 1, ""},
		{"truncated PAX padding", truncate(good().pax("path", "p").Bytes(), 100),
			1, io.ErrUnexpectedEOF, "extended header padding", 1, ""},
		{"PAX then EOF", good().pax("path", "p").Bytes(), 1, io.ErrUnexpectedEOF, "header", 1, "p"},
		{"long name then EOF", good().meta(TypeGNULongName, "ln").Bytes(), 1, io.ErrUnexpectedEOF, "header", 1, "ln"},
		{"PAX then end of archive", good().pax("path", "p").end().Bytes(), 1, ErrHeader, "right after an extended header", 1, "p"},
		{"GNU sparse entry", good().add(rawEntry{magic: magicGNU, name: "sparse", typeflag: TypeGNUSparse}).end().Bytes(),
			1, ErrSparse, "sparse", 1, "sparse"},
		{"first entry corrupt", func() []byte { var tb tarBuilder; return tb.add(rawEntry{name: "x", badChecksum: true}).Bytes() }(),
			0, ErrHeader, "checksum", 0, "x"},
	}
	// A checksum field that is not octal.
	tests[1] = struct {
		name    string
		data    []byte
		entries int
		is      error
		substr  string
		entry   int
		errName string
	}{"checksum not octal", func() []byte {
		tb := good()
		b := rawEntry{name: "bad", typeflag: TypeReg}.block()
		copy(b[offChksum:], "zzzzzz\x00 ")
		tb.Write(b[:])
		return tb.end().Bytes()
	}(), 1, ErrHeader, "checksum", 1, "bad"}

	contentErr := map[string]bool{"truncated content": true, "truncated big content": true}
	readers := map[string]func([]byte) io.Reader{
		"bytes":   func(b []byte) io.Reader { return bytes.NewReader(b) },
		"noseek":  func(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} },
		"onebyte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
	}
	for _, tt := range tests {
		for rname, mk := range readers {
			for _, mode := range []readMode{readFull, readNone} {
				t.Run(tt.name+"/"+rname, func(t *testing.T) {
					got, err := readAll(mk(tt.data), mode)
					if err == nil {
						t.Fatalf("no error; read %d entries", len(got))
					}
					want := tt.entries
					if mode == readNone && contentErr[tt.name] {
						want++ // the truncation shows when Next skips the content
					}
					if len(got) != want {
						t.Errorf("read %d entries before the error, want %d", len(got), want)
					}
					if !errors.Is(err, tt.is) {
						t.Errorf("error %q does not wrap %v", err, tt.is)
					}
					if !strings.Contains(err.Error(), tt.substr) {
						t.Errorf("error %q does not mention %q", err, tt.substr)
					}
					var e *Error
					if !errors.As(err, &e) {
						t.Fatalf("error %T is not an *Error", err)
					}
					if e.Entry != tt.entry || e.Name != tt.errName {
						t.Errorf("error at entry %d %q, want entry %d %q (%v)", e.Entry, e.Name, tt.entry, tt.errName, err)
					}
				})
			}
		}
	}
}

// TestStickyError checks that after an error every call fails the same way.
func TestStickyError(t *testing.T) {
	var tb tarBuilder
	tb.file("a", strings.Repeat("x", 3000))
	data := tb.Bytes()[:blockSize+1000]
	tr := NewReader(bytes.NewReader(data))
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := io.ReadAll(tr)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadAll error = %v, want unexpected EOF", err)
	}
	if _, err2 := tr.Next(); err2 != err {
		t.Errorf("Next after error = %v, want %v", err2, err)
	}
	if _, err2 := tr.Read(make([]byte, 1)); err2 != err {
		t.Errorf("Read after error = %v, want %v", err2, err)
	}
}

// TestRead checks the io.Reader behaviour of entry content.
func TestRead(t *testing.T) {
	var tb tarBuilder
	tb.file("a", "hello")
	tb.add(rawEntry{name: "d/", typeflag: TypeDir, size: 1000, sizeSet: true}) // header-only: no content
	tb.file("empty", "")
	tb.file("b", "world")
	tb.end()
	tr := NewReader(bytes.NewReader(tb.Bytes()))

	if n, err := tr.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Errorf("Read before Next = %d, %v", n, err)
	}
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if n, err := tr.Read(buf); n != 3 || err != nil || string(buf) != "hel" {
		t.Errorf("Read = %d %q %v", n, buf[:n], err)
	}
	if n, err := tr.Read(make([]byte, 10)); n != 2 || err != io.EOF {
		t.Errorf("last Read = %d, %v; want 2, io.EOF", n, err)
	}
	if n, err := tr.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read at end = %d, %v", n, err)
	}
	h, err := tr.Next()
	if err != nil || h.Typeflag != TypeDir || h.Size != 1000 {
		t.Fatalf("dir = %+v, %v", h, err)
	}
	if n, err := tr.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read of a directory = %d, %v", n, err)
	}
	if h, err := tr.Next(); err != nil || h.Name != "empty" {
		t.Fatalf("Next = %+v, %v", h, err)
	}
	if n, err := tr.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read of an empty file = %d, %v", n, err)
	}
	if n, err := tr.Read(nil); n != 0 || err != io.EOF {
		t.Errorf("Read(nil) = %d, %v", n, err)
	}
	h, err = tr.Next()
	if err != nil || h.Name != "b" {
		t.Fatalf("Next = %+v, %v", h, err)
	}
	if c, err := io.ReadAll(tr); string(c) != "world" || err != nil {
		t.Errorf("content = %q, %v", c, err)
	}
}

// TestHeadersAreKept checks that headers are not reused across Next calls.
func TestHeadersAreKept(t *testing.T) {
	var tb tarBuilder
	tb.pax("SCHILY.xattr.user.a", "1", "comment", "c")
	tb.file("a", "1")
	tb.pax("SCHILY.xattr.user.b", "2", "comment", "d")
	tb.file("b", "2")
	tb.end()
	got, err := readAll(bytes.NewReader(tb.Bytes()), readNone)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].hdr.Name != "a" || string(got[0].hdr.Xattrs[0].Value) != "1" || got[0].hdr.PAXRecords[0].Value != "c" ||
		got[1].hdr.Name != "b" || string(got[1].hdr.Xattrs[0].Value) != "2" || got[1].hdr.PAXRecords[0].Value != "d" {
		t.Errorf("headers changed: %+v %+v", got[0].hdr, got[1].hdr)
	}
}

// TestAllocations checks that Next allocates little per entry: the Header
// and its name for a plain ustar entry owned by a named user.
func TestAllocations(t *testing.T) {
	var tb tarBuilder
	const n = 100
	for i := 0; i < n; i++ {
		tb.file("some/dir/file-name", strings.Repeat("c", i*50))
	}
	tb.end()
	data := tb.Bytes()
	br := bytes.NewReader(data)
	allocs := testing.AllocsPerRun(10, func() {
		br.Reset(data)
		tr := NewReader(br)
		for {
			if _, err := tr.Next(); err != nil {
				break
			}
		}
	})
	if perEntry := allocs / n; perEntry > 2.2 {
		t.Errorf("%.2f allocations per entry, want at most 2", perEntry)
	}
}

// errReader fails with err after returning data.
type errReader struct {
	data []byte
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

// TestUnderlyingError checks that errors of the underlying reader are
// wrapped and located.
func TestUnderlyingError(t *testing.T) {
	boom := errors.New("boom")
	var tb tarBuilder
	tb.file("a", strings.Repeat("x", 1000))
	data := tb.Bytes()
	for _, cut := range []int{0, 100, blockSize, blockSize + 10, len(data)} {
		for _, mode := range []readMode{readFull, readNone} {
			_, err := readAll(&errReader{data: data[:cut], err: boom}, mode)
			var e *Error
			if !errors.Is(err, boom) || !errors.As(err, &e) {
				t.Errorf("cut %d: error %v does not wrap boom in an *Error", cut, err)
			}
		}
	}
}
