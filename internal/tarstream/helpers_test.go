package tarstream

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Magic values for hand-built headers.
const (
	magicUSTAR = "ustar\x0000"
	magicGNU   = "ustar  \x00"
	magicV7    = ""
)

// rawEntry describes a header block (and its content) to build by hand,
// for the cases archive/tar cannot write.
type rawEntry struct {
	name, linkname string
	typeflag       byte
	mode           int64
	uid, gid       int64
	size           int64 // used when sizeSet or content is nil
	sizeSet        bool
	mtime          int64
	uname, gname   string
	devmaj, devmin int64
	prefix         string
	magic          string // magicUSTAR (default when empty and !v7), magicGNU or magicV7
	v7             bool
	content        []byte

	fix            func(b *[blockSize]byte) // applied before the checksum
	badChecksum    bool
	signedChecksum bool
	noPad          bool // do not pad the content to a block boundary
}

// putNum writes v into the field b as NUL-terminated octal, or in base-256
// if it does not fit.
func putNum(b []byte, v int64) {
	s := strconv.FormatInt(v, 8)
	if v >= 0 && len(s) < len(b) {
		s = strings.Repeat("0", len(b)-1-len(s)) + s
		copy(b, s)
		b[len(b)-1] = 0
		return
	}
	// base-256, two's complement
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	b[0] |= 0x80
}

// block returns the header block of e.
func (e rawEntry) block() [blockSize]byte {
	var b [blockSize]byte
	copy(b[offName:offName+100], e.name)
	putNum(b[offMode:offMode+8], e.mode)
	putNum(b[offUid:offUid+8], e.uid)
	putNum(b[offGid:offGid+8], e.gid)
	size := e.size
	if !e.sizeSet && e.content != nil {
		size = int64(len(e.content))
	}
	putNum(b[offSize:offSize+12], size)
	putNum(b[offMtime:offMtime+12], e.mtime)
	b[offTypeflag] = e.typeflag
	copy(b[offLinkname:offLinkname+100], e.linkname)
	if !e.v7 {
		magic := e.magic
		if magic == "" {
			magic = magicUSTAR
		}
		copy(b[offMagic:offMagic+8], magic)
		copy(b[offUname:offUname+32], e.uname)
		copy(b[offGname:offGname+32], e.gname)
		putNum(b[offDevmajor:offDevmajor+8], e.devmaj)
		putNum(b[offDevminor:offDevminor+8], e.devmin)
		copy(b[offPrefix:endPrefix], e.prefix)
	}
	if e.fix != nil {
		e.fix(&b)
	}
	setChecksum(&b, e.signedChecksum)
	if e.badChecksum {
		b[offChksum] ^= 1
	}
	return b
}

// setChecksum computes and stores the checksum of b.
func setChecksum(b *[blockSize]byte, signed bool) {
	copy(b[offChksum:offChksum+8], "        ")
	var sum int64
	for _, c := range b {
		if signed {
			sum += int64(int8(c))
		} else {
			sum += int64(c)
		}
	}
	copy(b[offChksum:], fmt.Sprintf("%06o\x00 ", sum))
}

// tarBuilder assembles archives by hand.
type tarBuilder struct {
	bytes.Buffer
}

// add writes e's header, content and padding.
func (tb *tarBuilder) add(e rawEntry) *tarBuilder {
	b := e.block()
	tb.Write(b[:])
	tb.Write(e.content)
	if !e.noPad {
		tb.Write(make([]byte, -len(e.content)&(blockSize-1)))
	}
	return tb
}

// meta writes a meta entry of type flag with the given body.
func (tb *tarBuilder) meta(flag byte, body string) *tarBuilder {
	return tb.add(rawEntry{name: "././@meta", typeflag: flag, mode: 0o644, content: []byte(body)})
}

// pax writes a type 'x' header with the records kv (key, value, key, ...).
func (tb *tarBuilder) pax(kv ...string) *tarBuilder {
	return tb.meta(TypeXHeader, paxBody(kv...))
}

// file writes a regular file.
func (tb *tarBuilder) file(name, content string) *tarBuilder {
	return tb.add(rawEntry{name: name, typeflag: TypeReg, mode: 0o644, content: []byte(content), uname: "root", gname: "root"})
}

// end writes the two zero blocks that end an archive.
func (tb *tarBuilder) end() *tarBuilder {
	tb.Write(make([]byte, 2*blockSize))
	return tb
}

// paxRecord formats one PAX record with its length prefix.
func paxRecord(k, v string) string {
	n := len(k) + len(v) + 3 // ' ', '=', '\n'
	total := n + len(strconv.Itoa(n))
	if len(strconv.Itoa(total)) != len(strconv.Itoa(n)) {
		total = n + len(strconv.Itoa(total))
	}
	return strconv.Itoa(total) + " " + k + "=" + v + "\n"
}

// paxBody formats records kv (key, value, key, value, ...).
func paxBody(kv ...string) string {
	var sb strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		sb.WriteString(paxRecord(kv[i], kv[i+1]))
	}
	return sb.String()
}

// entry is one entry read by readAll.
type entry struct {
	hdr     *Header
	content []byte
}

// readMode selects how readAll reads content.
type readMode int

const (
	readFull    readMode = iota // read all content
	readNone                    // skip all content
	readPartial                 // read a few bytes of each entry
)

// readAll reads every entry of an archive with our Reader.
func readAll(r io.Reader, mode readMode) ([]entry, error) {
	tr := NewReader(r)
	var out []entry
	buf := make([]byte, 4096)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		e := entry{hdr: h}
		switch mode {
		case readFull:
			var cb bytes.Buffer
			if _, err := io.CopyBuffer(&cb, tr, buf); err != nil {
				return out, err
			}
			e.content = cb.Bytes()
			if e.content == nil {
				e.content = []byte{}
			}
		case readPartial:
			n, err := io.ReadFull(tr, buf[:7])
			if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
				return out, err
			}
			e.content = append([]byte{}, buf[:n]...)
		}
		out = append(out, e)
	}
}

// stdEntry is one entry read by archive/tar.
type stdEntry struct {
	hdr     *tar.Header
	content []byte
}

// readAllStd reads every entry of an archive with archive/tar, leaving out
// global headers, which it returns as entries.
func readAllStd(data []byte) ([]stdEntry, error) {
	tr := tar.NewReader(bytes.NewReader(data))
	var out []stdEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		c, err := io.ReadAll(tr)
		if err != nil {
			return out, err
		}
		out = append(out, stdEntry{hdr: h, content: c})
	}
}

// normType maps a raw typeflag to what archive/tar reports.
func normType(flag byte, name string) byte {
	if flag == TypeRegA {
		if strings.HasSuffix(name, "/") {
			return TypeDir
		}
		return TypeReg
	}
	return flag
}

// consumedKey reports whether our Reader turns PAX key k into a Header
// field rather than a PAXRecords entry.
func consumedKey(k string) bool {
	switch k {
	case paxPath, paxLinkpath, paxUname, paxGname, paxUid, paxGid, paxSize, paxMtime, paxDevmajor, paxDevminor, paxSELinux:
		return true
	}
	return strings.HasPrefix(k, paxSchilyXattr) || strings.HasPrefix(k, paxLibarchiveXattr)
}

// compareWithStd checks every field of ours against archive/tar's reading
// of the same archive.
func compareWithStd(t *testing.T, ours []entry, std []stdEntry, checkContent bool) {
	t.Helper()
	if len(ours) != len(std) {
		t.Fatalf("got %d entries, archive/tar got %d", len(ours), len(std))
	}
	for i := range ours {
		o, s := ours[i].hdr, std[i].hdr
		where := fmt.Sprintf("entry %d (%q)", i, s.Name)
		check := func(field string, got, want any) {
			t.Helper()
			if got != want {
				t.Errorf("%s: %s = %#v, archive/tar has %#v", where, field, got, want)
			}
		}
		check("Name", o.Name, s.Name)
		check("Linkname", o.Linkname, s.Linkname)
		check("Typeflag", normType(o.Typeflag, o.Name), s.Typeflag)
		check("Mode", o.Mode, s.Mode&0o7777)
		check("Uid", o.Uid, s.Uid)
		check("Gid", o.Gid, s.Gid)
		check("Size", o.Size, s.Size)
		if !o.ModTime.Equal(s.ModTime) {
			t.Errorf("%s: ModTime = %v, archive/tar has %v", where, o.ModTime, s.ModTime)
		}
		if s.Typeflag == tar.TypeChar || s.Typeflag == tar.TypeBlock {
			check("Devmajor", o.Devmajor, s.Devmajor)
			check("Devminor", o.Devminor, s.Devminor)
		}
		check("Uname", o.Uname, s.Uname)
		check("Gname", o.Gname, s.Gname)

		// Xattrs: archive/tar keeps the last non-empty SCHILY value per name.
		ox := map[string]string{}
		for _, x := range o.Xattrs {
			if len(x.Value) > 0 {
				ox[x.Name] = string(x.Value)
			}
		}
		sx := map[string]string{}
		for k, v := range s.PAXRecords {
			if name, ok := strings.CutPrefix(k, paxSchilyXattr); ok && v != "" {
				sx[name] = v
			}
		}
		check("len(Xattrs)", len(ox), len(sx))
		for k, v := range sx {
			check("Xattr "+k, ox[k], v)
		}
		// PAXRecords: ours holds exactly the keys not turned into fields.
		seen := map[string]bool{}
		for _, rec := range o.PAXRecords {
			seen[rec.Key] = true
			if v, ok := s.PAXRecords[rec.Key]; !ok {
				t.Errorf("%s: PAX record %q not in archive/tar's records", where, rec.Key)
			} else if rec.Value != v {
				// archive/tar keeps the last duplicate; so does our last one.
				last := ""
				for _, r2 := range o.PAXRecords {
					if r2.Key == rec.Key {
						last = r2.Value
					}
				}
				check("PAX record "+rec.Key, last, v)
			}
		}
		for k := range s.PAXRecords {
			if !consumedKey(k) && !seen[k] {
				t.Errorf("%s: archive/tar has PAX record %q, we do not", where, k)
			}
		}
		if checkContent && !bytes.Equal(ours[i].content, std[i].content) {
			t.Errorf("%s: content differs: got %d bytes, archive/tar %d", where, len(ours[i].content), len(std[i].content))
		}
	}
}

// onlyReader hides every method of an io.Reader but Read (Seek in
// particular).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// failingSeeker is an io.Reader whose Seek always fails, like os.Stdin on a
// pipe.
type failingSeeker struct{ r io.Reader }

func (f failingSeeker) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f failingSeeker) Seek(int64, int) (int64, error) {
	return 0, errors.New("illegal seek")
}

// writeStd writes an archive with archive/tar.
func writeStd(t testing.TB, format tar.Format, files []stdFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := f.hdr
		if h.Format == tar.FormatUnknown {
			h.Format = format
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			h.Size = int64(len(f.content))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("archive/tar WriteHeader(%q): %v", h.Name, err)
		}
		if _, err := tw.Write(f.content); err != nil {
			t.Fatalf("archive/tar Write(%q): %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// stdFile is one entry for writeStd.
type stdFile struct {
	hdr     tar.Header
	content []byte
}
