package tarstream

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestXattrOrder checks that extended attributes come out in the order of
// their records, in all three record forms, with duplicates and empty
// values kept, and that the other records stay in order too.
func TestXattrOrder(t *testing.T) {
	var tb tarBuilder
	tb.pax(
		"SCHILY.xattr.user.b", "second-letter",
		"atime", "1700000000.5",
		"SCHILY.xattr.user.a", "first-letter",
		"LIBARCHIVE.xattr.user.c%3Dd%25", base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}),
		"LIBARCHIVE.xattr.user.nopad", base64.RawStdEncoding.EncodeToString([]byte("a")),
		"comment", "x=y",
		"SCHILY.xattr.user.b", "dup",
		"RHT.security.selinux", "system_u:object_r:etc_t:s0",
		"SCHILY.xattr.user.empty", "",
		"SCHILY.xattr.user.nl", "line1\nline2=\x00",
		"ctime", "1700000001",
		"LIBARCHIVE.xattr.user.bad%zz%4", "",
	)
	tb.file("etc/file", "content")
	tb.pax("SCHILY.xattr.user.z", "only-on-dir")
	tb.add(rawEntry{name: "etc/", typeflag: TypeDir, mode: 0o755})
	tb.file("plain", "no xattrs")
	tb.end()

	got, err := readAll(bytes.NewReader(tb.Bytes()), readFull)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d entries, want 3", len(got))
	}
	want := []Xattr{
		{"user.b", []byte("second-letter")},
		{"user.a", []byte("first-letter")},
		{"user.c=d%", []byte{0, 1, 2, 0xff}},
		{"user.nopad", []byte("a")},
		{"user.b", []byte("dup")},
		{"security.selinux", []byte("system_u:object_r:etc_t:s0")},
		{"user.empty", []byte{}},
		{"user.nl", []byte("line1\nline2=\x00")},
		{"user.bad%zz%4", []byte{}},
	}
	if !xattrsEqual(got[0].hdr.Xattrs, want) {
		t.Errorf("Xattrs = %q\nwant     %q", got[0].hdr.Xattrs, want)
	}
	wantRecs := []PAXRecord{{"atime", "1700000000.5"}, {"comment", "x=y"}, {"ctime", "1700000001"}}
	if !reflect.DeepEqual(got[0].hdr.PAXRecords, wantRecs) {
		t.Errorf("PAXRecords = %q, want %q", got[0].hdr.PAXRecords, wantRecs)
	}
	if string(got[0].content) != "content" || got[0].hdr.Name != "etc/file" {
		t.Errorf("entry 0 = %q %q", got[0].hdr.Name, got[0].content)
	}
	if want := []Xattr{{"user.z", []byte("only-on-dir")}}; !xattrsEqual(got[1].hdr.Xattrs, want) {
		t.Errorf("dir Xattrs = %q, want %q", got[1].hdr.Xattrs, want)
	}
	if got[2].hdr.Xattrs != nil || got[2].hdr.PAXRecords != nil {
		t.Errorf("records leaked to the next entry: %q %q", got[2].hdr.Xattrs, got[2].hdr.PAXRecords)
	}
}

func xattrsEqual(a, b []Xattr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// TestPAXOverrides checks every record that overrides a header field, and
// that a pax path wins over a GNU long name.
func TestPAXOverrides(t *testing.T) {
	var tb tarBuilder
	tb.meta(TypeGNULongName, "gnu-long-name\x00")
	tb.meta(TypeGNULongLink, "gnu-long-link\x00")
	tb.pax(
		"path", "pax/path",
		"linkpath", "pax/link",
		"uid", "2000000000",
		"gid", "-5",
		"uname", "paxuser",
		"gname", "paxgroup",
		"mtime", "-1.25",
		"size", "3",
		"SCHILY.devmajor", "300",
		"SCHILY.devminor", "70000",
	)
	tb.add(rawEntry{name: "hdr-name", linkname: "hdr-link", typeflag: TypeReg, uid: 1, gid: 2, uname: "u", gname: "g",
		mtime: 99, devmaj: 1, devmin: 2, size: 100, sizeSet: true, content: []byte("abc")})
	tb.pax("path", "", "uid", "") // empty values cancel the override
	tb.meta(TypeGNULongName, "from-L")
	tb.add(rawEntry{name: "hdr2", typeflag: TypeDir, uid: 9, mode: 0o700})
	tb.pax("path", "first", "path", "second") // the last record wins
	tb.add(rawEntry{name: "hdr3", typeflag: TypeSymlink, linkname: "t"})
	tb.meta(TypeGNULongName, "") // empty long name: header name stays
	tb.add(rawEntry{name: "hdr4", typeflag: TypeFifo})
	tb.end()

	got, err := readAll(bytes.NewReader(tb.Bytes()), readFull)
	if err != nil {
		t.Fatal(err)
	}
	h := got[0].hdr
	want := Header{Name: "pax/path", Linkname: "pax/link", Typeflag: TypeReg, Uid: 2000000000, Gid: -5,
		Uname: "paxuser", Gname: "paxgroup", ModTime: time.Unix(-1, -250000000), Size: 3, Devmajor: 300, Devminor: 70000}
	if h.Name != want.Name || h.Linkname != want.Linkname || h.Uid != want.Uid || h.Gid != want.Gid ||
		h.Uname != want.Uname || h.Gname != want.Gname || !h.ModTime.Equal(want.ModTime) || h.Size != want.Size ||
		h.Devmajor != want.Devmajor || h.Devminor != want.Devminor {
		t.Errorf("got  %+v\nwant %+v", *h, want)
	}
	if string(got[0].content) != "abc" {
		t.Errorf("content = %q", got[0].content)
	}
	if h.PAXRecords != nil || h.Xattrs != nil {
		t.Errorf("consumed records reported: %q %q", h.PAXRecords, h.Xattrs)
	}
	if g := got[1].hdr; g.Name != "from-L" || g.Uid != 9 {
		t.Errorf("entry 1 = %q uid %d, want from-L uid 9", g.Name, g.Uid)
	}
	if g := got[2].hdr; g.Name != "second" {
		t.Errorf("entry 2 = %q, want second", g.Name)
	}
	if g := got[3].hdr; g.Name != "hdr4" {
		t.Errorf("entry 3 = %q, want hdr4", g.Name)
	}
}

// TestGlobalHeaders checks that 'g' headers are merged into GlobalRecords,
// are not applied to entries, and do not cancel a pending 'x' header.
func TestGlobalHeaders(t *testing.T) {
	var tb tarBuilder
	tb.meta(TypeXGlobalHeader, paxBody("comment", "c1", "uid", "77", "SCHILY.xattr.user.g", "v"))
	tb.file("a", "1")
	tb.pax("path", "renamed")
	tb.meta(TypeXGlobalHeader, paxBody("comment", "c2", "uid", "", "mtime", "5"))
	tb.file("b", "2")
	tb.meta(TypeXGlobalHeader, "") // empty global header
	tb.end()

	tr := NewReader(bytes.NewReader(tb.Bytes()))
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "a" || h.Uid != 0 || h.Xattrs != nil || h.PAXRecords != nil {
		t.Errorf("global records applied: %+v", h)
	}
	want := []PAXRecord{{"comment", "c1"}, {"uid", "77"}, {"SCHILY.xattr.user.g", "v"}}
	if got := tr.GlobalRecords(); !reflect.DeepEqual(got, want) {
		t.Errorf("GlobalRecords = %q, want %q", got, want)
	}
	h, err = tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "renamed" {
		t.Errorf("name = %q, want renamed (x header before g header)", h.Name)
	}
	want = []PAXRecord{{"comment", "c2"}, {"SCHILY.xattr.user.g", "v"}, {"mtime", "5"}}
	if got := tr.GlobalRecords(); !reflect.DeepEqual(got, want) {
		t.Errorf("GlobalRecords = %q, want %q", got, want)
	}
	if _, err := tr.Next(); err == nil || err.Error() != "EOF" {
		t.Errorf("Next = %v, want io.EOF", err)
	}
}

func TestNextPAXRecord(t *testing.T) {
	tests := []struct {
		in        string
		key, val  string
		rest      string
		errSubstr string
	}{
		{in: "9 key=va\n", key: "key", val: "va"},
		{in: "6 k=v\nrest", key: "k", val: "v", rest: "rest"},
		{in: "5 k=\n", key: "k", val: ""},
		{in: "8 k=a=b\n", key: "k", val: "a=b"},
		{in: "8 k=\n\x00\n\n", key: "k", val: "\n\x00\n"},
		{in: "07 k=v\n", key: "k", val: "v"},
		{in: "+7 k=v\n", key: "k", val: "v"},
		{in: "", errSubstr: "no length"},
		{in: "k=v\n", errSubstr: "no length"},
		{in: "x k=v\n", errSubstr: "not a decimal"},
		{in: " k=v\n", errSubstr: "not a decimal"},
		{in: "-6 k=v\n", errSubstr: "too small"},
		{in: "2 k=v\n", errSubstr: "too small"},
		{in: "99 k=v\n", errSubstr: "exceeds"},
		{in: "99999999999999999999 k=v\n", errSubstr: "not a decimal"},
		{in: "6 k=vv\n", errSubstr: "newline"},
		{in: "5 kv\n", errSubstr: "no '='"},
		{in: "5 =v\n", errSubstr: "empty key"},
		{in: "7 k\x00=v\n", errSubstr: "contains NUL"},
		{in: "12 path=a\x00b\n", errSubstr: "contains NUL"},
		{in: "13 uname=a\x00b\n", errSubstr: "contains NUL"},
		{in: "15 comment=a\x00b\n", key: "comment", val: "a\x00b"},
	}
	for _, tt := range tests {
		k, v, rest, err := nextPAXRecord(tt.in)
		if tt.errSubstr != "" {
			if err == nil || !errors.Is(err, ErrHeader) || !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("nextPAXRecord(%q) error = %v, want ErrHeader with %q", tt.in, err, tt.errSubstr)
			}
			continue
		}
		if err != nil || k != tt.key || v != tt.val || rest != tt.rest {
			t.Errorf("nextPAXRecord(%q) = %q, %q, %q, %v; want %q, %q, %q", tt.in, k, v, rest, err, tt.key, tt.val, tt.rest)
		}
	}
}

func TestPAXRecordHelper(t *testing.T) {
	// The test helper must produce records our parser (and archive/tar)
	// accept, whatever the length of the length field.
	for _, n := range []int{0, 1, 4, 5, 6, 94, 95, 96, 97, 990, 995, 996, 997, 9990, 9995} {
		v := strings.Repeat("v", n)
		rec := paxRecord("k", v)
		k, got, rest, err := nextPAXRecord(rec)
		if err != nil || k != "k" || got != v || rest != "" {
			t.Errorf("len %d: %q: %v", n, rec[:10], err)
		}
	}
}

func TestURLDecode(t *testing.T) {
	tests := map[string]string{
		"":           "",
		"user.plain": "user.plain",
		"a%3Db":      "a=b",
		"a%3db":      "a=b",
		"%25%3D":     "%=",
		"%":          "%",
		"a%":         "a%",
		"a%4":        "a%4",
		"a%zz":       "a%zz",
		"%e2%82%ac":  "€",
		"%%41":       "%A",
	}
	for in, want := range tests {
		if got := urlDecode(in); got != want {
			t.Errorf("urlDecode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLibarchiveXattrErrors(t *testing.T) {
	for _, tt := range []struct{ name, value string }{
		{"", "YQ=="},
		{"user.a%00b", "YQ=="},
		{"user.a", "!!!"},
		{"user.a", "Y"},
	} {
		if _, err := decodeLibarchiveXattr(tt.name, tt.value); !errors.Is(err, ErrHeader) {
			t.Errorf("decodeLibarchiveXattr(%q, %q) error = %v, want ErrHeader", tt.name, tt.value, err)
		}
	}
}

// TestMetaSizeLimits checks that meta entries up to the limit are read and
// that the global records are bounded without quadratic work.
func TestMetaSizeLimits(t *testing.T) {
	// A PAX header of exactly maxMetaSize bytes.
	key := "comment"
	v := strings.Repeat("c", maxMetaSize-len(paxRecord(key, "")))
	v = v[:len(v)-(len(paxRecord(key, v))-maxMetaSize)]
	body := paxRecord(key, v)
	if len(body) != maxMetaSize {
		t.Fatalf("body is %d bytes", len(body))
	}
	var tb tarBuilder
	tb.meta(TypeXHeader, body)
	tb.meta(TypeGNULongName, strings.Repeat("n", maxMetaSize))
	tb.file("f", "x").end()
	got, err := readAll(bytes.NewReader(tb.Bytes()), readFull)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].hdr.Name) != maxMetaSize || len(got[0].hdr.PAXRecords[0].Value) != len(v) {
		t.Errorf("large meta entries not applied")
	}

	// Many small distinct global records: rejected quickly.
	var sb strings.Builder
	for i := 0; sb.Len() < maxMetaSize-64; i++ {
		sb.WriteString(paxRecord("k"+strconv.Itoa(i), "v"))
	}
	tb.Reset()
	tb.meta(TypeXGlobalHeader, sb.String())
	tb.file("f", "x").end()
	start := time.Now()
	_, err = readAll(bytes.NewReader(tb.Bytes()), readFull)
	if !errors.Is(err, ErrHeader) || !strings.Contains(err.Error(), "global records exceed") {
		t.Errorf("error = %v, want global records limit", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	// Global records replaced and deleted many times stay small.
	tb.Reset()
	for i := 0; i < 200; i++ {
		var sb strings.Builder
		for j := 0; j < 500; j++ {
			sb.WriteString(paxRecord("key"+strconv.Itoa(j), strconv.Itoa(i)))
		}
		for j := 0; j < 500; j += 2 {
			sb.WriteString(paxRecord("key"+strconv.Itoa(j), ""))
		}
		tb.meta(TypeXGlobalHeader, sb.String())
	}
	tb.file("f", "x").end()
	tr := NewReader(bytes.NewReader(tb.Bytes()))
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	g := tr.GlobalRecords()
	if len(g) != 250 || g[0] != (PAXRecord{"key1", "199"}) || g[249] != (PAXRecord{"key499", "199"}) {
		t.Errorf("GlobalRecords: %d records, first %v", len(g), g[0])
	}
}
