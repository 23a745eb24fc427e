package ostreeext

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bootc-go/bootc/internal/tarstream"
)

// tarWriter re-serializes tar entries read by tarstream, keeping what the importer reads
// from them: every field goes into a PAX extended header, the extended attributes as
// SCHILY.xattr records in the order they were read (their order is part of ostree
// checksums), and the other PAX records as they were.
type tarWriter struct {
	w   io.Writer
	err error
}

func paxRecord(key, value string) string {
	// "%d %s=%s\n", where the length counts itself.
	body := " " + key + "=" + value + "\n"
	n := len(body) + 1
	for {
		s := strconv.Itoa(n) + body
		if len(s) == n {
			return s
		}
		n = len(s)
	}
}

func octal(b []byte, v int64) {
	s := strconv.FormatInt(v, 8)
	if len(s) > len(b)-1 {
		s = "0"
	}
	s = strings.Repeat("0", len(b)-1-len(s)) + s
	copy(b, s)
}

func (t *tarWriter) block(name string, typ byte, mode, uid, gid, size, mtime int64, link string) error {
	var b [512]byte
	copy(b[0:100], truncate(name, 100))
	octal(b[100:108], mode)
	octal(b[108:116], uid)
	octal(b[116:124], gid)
	octal(b[124:136], size)
	octal(b[136:148], mtime)
	b[156] = typ
	copy(b[157:257], truncate(link, 100))
	copy(b[257:265], "ustar\x0000")
	for i := 148; i < 156; i++ {
		b[i] = ' '
	}
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	_, err := t.w.Write(b[:])
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (t *tarWriter) pad(n int64) error {
	if r := n % 512; r != 0 {
		_, err := t.w.Write(make([]byte, 512-r))
		return err
	}
	return nil
}

// writeHeader writes hdr (with Name and Linkname as given) and then size bytes of content
// from content (nil for header-only entries).
func (t *tarWriter) writeHeader(hdr *tarstream.Header, content io.Reader) error {
	var pax strings.Builder
	pax.WriteString(paxRecord("path", hdr.Name))
	if hdr.Linkname != "" {
		pax.WriteString(paxRecord("linkpath", hdr.Linkname))
	}
	pax.WriteString(paxRecord("uid", strconv.Itoa(hdr.Uid)))
	pax.WriteString(paxRecord("gid", strconv.Itoa(hdr.Gid)))
	if hdr.Typeflag == tarstream.TypeReg || hdr.Typeflag == tarstream.TypeRegA {
		pax.WriteString(paxRecord("size", strconv.FormatInt(hdr.Size, 10)))
	}
	if !hdr.ModTime.IsZero() {
		pax.WriteString(paxRecord("mtime", strconv.FormatInt(hdr.ModTime.Unix(), 10)))
	}
	if hdr.Uname != "" {
		pax.WriteString(paxRecord("uname", hdr.Uname))
	}
	if hdr.Gname != "" {
		pax.WriteString(paxRecord("gname", hdr.Gname))
	}
	for _, x := range hdr.Xattrs {
		pax.WriteString(paxRecord("SCHILY.xattr."+x.Name, string(x.Value)))
	}
	for _, r := range hdr.PAXRecords {
		pax.WriteString(paxRecord(r.Key, r.Value))
	}
	body := pax.String()
	if err := t.block("PaxHeaders/"+truncate(hdr.Name, 80), 'x', 0o644, 0, 0, int64(len(body)), 0, ""); err != nil {
		return err
	}
	if _, err := io.WriteString(t.w, body); err != nil {
		return err
	}
	if err := t.pad(int64(len(body))); err != nil {
		return err
	}
	size := int64(0)
	if content != nil {
		size = hdr.Size
	}
	var mtime int64
	if !hdr.ModTime.IsZero() {
		mtime = hdr.ModTime.Unix()
	}
	if err := t.block(hdr.Name, hdr.Typeflag, hdr.Mode, int64(hdr.Uid), int64(hdr.Gid), size, mtime, hdr.Linkname); err != nil {
		return err
	}
	if content == nil {
		return nil
	}
	n, err := io.CopyN(t.w, content, size)
	if err != nil {
		return fmt.Errorf("copying %d bytes of %s (copied %d): %w", size, hdr.Name, n, err)
	}
	return t.pad(size)
}

// close writes the end-of-archive marker.
func (t *tarWriter) close() error {
	_, err := t.w.Write(make([]byte, 1024))
	return err
}
