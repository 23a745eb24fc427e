package tarstream

import (
	"io"
	"math"
	"strings"
	"time"
)

const (
	blockSize = 512

	// maxMetaSize bounds the body of one meta entry: a PAX extended
	// header ('x' or 'g') or a GNU long name or long link ('L', 'K').
	maxMetaSize = 1 << 20

	// maxGlobalSize bounds the total size of the PAX global records kept
	// across all the 'g' headers of an archive; each record also counts
	// globalRecordCost bytes.
	maxGlobalSize    = 1 << 20
	globalRecordCost = 32

	// seekThreshold is the smallest skip done with Seek when the
	// underlying reader supports it; shorter skips are read and dropped.
	seekThreshold = 32 << 10

	// discardBufSize is the size of the buffer used to skip content that
	// is not skipped with Seek.
	discardBufSize = 32 << 10
)

// Header field offsets and lengths, from the ustar layout of POSIX.1
// (pax), the GNU tar manual and star.
const (
	offName     = 0   // 100 bytes, NUL-terminated unless full
	offMode     = 100 // 8
	offUid      = 108 // 8
	offGid      = 116 // 8
	offSize     = 124 // 12
	offMtime    = 136 // 12
	offChksum   = 148 // 8
	offTypeflag = 156 // 1
	offLinkname = 157 // 100
	offMagic    = 257 // 6 ("ustar\x00" or, for GNU, "ustar ")
	offVersion  = 263 // 2 ("00" or, for GNU, " \x00")
	offUname    = 265 // 32
	offGname    = 297 // 32
	offDevmajor = 329 // 8
	offDevminor = 337 // 8
	offPrefix   = 345 // 155 in ustar, 131 in star, atime/ctime/... in GNU
	endPrefix   = 500
	endSTARPfx  = 476
	offSTARTail = 508 // 4 ("tar\x00" in star archives)
)

// format is the header layout of one header block.
type format int

const (
	formatV7    format = iota // no magic: only the V7 fields are meaningful
	formatUSTAR               // POSIX ustar (and pax)
	formatSTAR                // ustar magic with star's 131-byte prefix
	formatGNU                 // GNU tar: no prefix field
)

// Reader reads a tar archive entry by entry, in a single pass over its
// input. Call Next to advance to an entry, then read its content with Read.
// A Reader is not safe for concurrent use.
type Reader struct {
	r   io.Reader
	blk [blockSize]byte // the current header block, also scratch space

	off       int64 // bytes consumed from r
	remaining int64 // content bytes of the current entry not read yet
	pad       int64 // padding after the current entry's content

	entry  int    // number of entries returned by Next
	name   string // current entry's name, for errors
	hdrOff int64  // offset of the current entry's first header, for errors

	err  error // sticky error
	done bool  // the end of the archive was reached
	seek int8  // 0: not probed yet; 1: r can Seek; -1: it cannot

	meta    []byte   // reused buffer for the bodies of meta entries
	pax     paxState // records for the next entry
	long    string   // GNU long name for the next entry
	longLnk string   // GNU long link for the next entry
	pending bool     // meta headers were read but not their entry yet

	global     []PAXRecord    // PAX global records in effect
	globalIdx  map[string]int // index in global by key
	globalSize int            // bytes of global, counted against maxGlobalSize

	uname, gname string // last owner names seen, reused to save allocations

	scratch []byte // buffer for discarding content, allocated when needed
}

// NewReader returns a Reader that reads a tar archive from r. The Reader
// does no buffering of its own and reads entry content straight from r, so
// an unbuffered source such as an *os.File is best wrapped in a
// bufio.Reader. If r implements io.Seeker and seeking works, large unread
// content is skipped with Seek.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r}
}

// GlobalRecords returns the PAX global records ('g' headers) read so far,
// merged as POSIX describes: a later record replaces an earlier one with the
// same key, and an empty value removes the key. The Reader does not apply
// them to the entries it returns, matching libarchive (and so
// `ostree commit --tree=tar=`) and archive/tar; a caller that wants POSIX
// semantics can apply them itself. The returned slice must not be modified
// and is only valid until the next call to Next.
func (r *Reader) GlobalRecords() []PAXRecord {
	return r.global
}

// Next advances to the next entry of the archive and returns its header.
// Any unread content of the previous entry is skipped. At the end of the
// archive (two zero blocks, or the end of the input at a header boundary)
// Next returns io.EOF. Any other error is an *Error and is returned again
// by every later call.
//
// The returned Header is new on each call and is not changed by later
// calls, so it may be kept.
func (r *Reader) Next() (*Header, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.done {
		return nil, io.EOF
	}
	if err := r.skipRest(); err != nil {
		return nil, r.fail(err, r.entry-1, r.name, r.hdrOff)
	}
	start := r.off
	h, err := r.readEntry()
	if err == io.EOF {
		r.done = true
		return nil, io.EOF
	}
	if err != nil {
		name := ""
		if h != nil {
			name = h.Name
		}
		return nil, r.fail(err, r.entry, name, start)
	}
	r.entry++
	r.name = h.Name
	r.hdrOff = start
	return h, nil
}

// Read reads from the content of the current entry. It returns io.EOF at
// the end of the content (possibly together with the last bytes, as
// io.Reader allows), or at once for entries with no content.
// It fails with an error wrapping io.ErrUnexpectedEOF if the archive ends
// before the content does.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.remaining <= 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	n, err := r.r.Read(p)
	if n < 0 || n > len(p) {
		// A broken reader; do not let it corrupt our accounting.
		return 0, r.fail(readError(io.ErrNoProgress, "entry content"), r.entry-1, r.name, r.hdrOff)
	}
	r.remaining -= int64(n)
	r.off += int64(n)
	switch {
	case err == io.EOF && r.remaining > 0:
		return n, r.fail(errTruncated("entry content"), r.entry-1, r.name, r.hdrOff)
	case err != nil && err != io.EOF:
		return n, r.fail(readError(err, "entry content"), r.entry-1, r.name, r.hdrOff)
	case r.remaining == 0:
		return n, io.EOF
	}
	return n, nil
}

// fail records err, located at entry index entry with the given name and
// header offset, as the sticky error and returns it.
func (r *Reader) fail(err error, entry int, name string, off int64) error {
	if entry < 0 {
		entry = 0
	}
	r.err = &Error{Entry: entry, Name: name, Offset: off, Err: err}
	return r.err
}

// skipRest skips the unread content and the padding of the current entry.
func (r *Reader) skipRest() error {
	n := r.remaining + r.pad
	if n < r.remaining { // overflow: the archive cannot be that long anyway
		n = math.MaxInt64
	}
	if n == 0 {
		return nil
	}
	if err := r.discard(n); err != nil {
		return err
	}
	r.remaining, r.pad = 0, 0
	return nil
}

// discard skips n bytes of input, with Seek if that works and n is large.
// It reports a truncated archive if the input has fewer than n bytes left:
// after a Seek it reads the last skipped byte, since seeking past the end of
// the input is no error.
func (r *Reader) discard(n int64) error {
	if n >= seekThreshold {
		if r.seek == 0 {
			r.seek = -1
			if s, ok := r.r.(io.Seeker); ok {
				if _, err := s.Seek(0, io.SeekCurrent); err == nil {
					r.seek = 1
				}
			}
		}
		if r.seek > 0 {
			if _, err := r.r.(io.Seeker).Seek(n-1, io.SeekCurrent); err == nil {
				r.off += n - 1
				n = 1
			}
		}
	}
	if n <= blockSize {
		m, err := io.ReadFull(r.r, r.blk[:n])
		r.off += int64(m)
		if err != nil {
			return readError(err, "entry content")
		}
		return nil
	}
	if r.scratch == nil {
		r.scratch = make([]byte, discardBufSize)
	}
	for empty := 0; n > 0; {
		m, err := r.r.Read(r.scratch[:min(n, int64(len(r.scratch)))])
		if m < 0 || int64(m) > n {
			return readError(io.ErrNoProgress, "entry content")
		}
		n -= int64(m)
		r.off += int64(m)
		if err != nil && (n > 0 || err != io.EOF) {
			return readError(err, "entry content")
		}
		if m == 0 && err == nil {
			// Tolerate readers that return 0, nil now and then, but
			// not forever.
			if empty++; empty > 100 {
				return readError(io.ErrNoProgress, "entry content")
			}
			continue
		}
		empty = 0
	}
	return nil
}

// readFull reads len(b) bytes into b; what names the data for errors.
func (r *Reader) readFull(b []byte, what string) error {
	n, err := io.ReadFull(r.r, b)
	r.off += int64(n)
	if err != nil {
		return readError(err, what)
	}
	return nil
}

// readEntry reads header blocks up to and including the next entry's own
// header and returns that entry. It returns io.EOF at the end of the
// archive. On error it may return a partial header to name the entry.
func (r *Reader) readEntry() (*Header, error) {
	r.pax = paxState{}
	r.long, r.longLnk = "", ""
	r.pending = false
	for {
		n, err := io.ReadFull(r.r, r.blk[:])
		r.off += int64(n)
		if err != nil {
			switch {
			case err == io.EOF && !r.pending:
				return nil, io.EOF // clean end at a header boundary
			case err == io.EOF:
				return r.partial(), errTruncated("the entry after an extended header or GNU long name")
			}
			return r.partial(), readError(err, "header")
		}
		if r.blk == [blockSize]byte{} {
			return r.partial(), r.endOfArchive()
		}
		if !checksumOK(&r.blk) {
			return r.rawName(), headerErrorf("header checksum mismatch")
		}
		flag := r.blk[offTypeflag]
		switch flag {
		case TypeXHeader, TypeXGlobalHeader, TypeGNULongName, TypeGNULongLink:
			if err := r.readMeta(flag); err != nil {
				return r.partial(), err
			}
			continue
		case TypeGNUSparse:
			return r.rawName(), ErrSparse
		}
		return r.entryHeader()
	}
}

// endOfArchive handles a zero block: the end of the archive, which should
// be followed by a second zero block.
func (r *Reader) endOfArchive() error {
	n, err := io.ReadFull(r.r, r.blk[:])
	r.off += int64(n)
	switch {
	case err == io.EOF:
		// A single zero block at the very end: accepted.
	case err != nil:
		return readError(err, "end-of-archive marker")
	case r.blk != [blockSize]byte{}:
		return headerErrorf("zero block followed by a non-zero block")
	}
	if r.pending {
		return headerErrorf("end of archive right after an extended header or GNU long name")
	}
	return io.EOF
}

// partial returns a header holding the best name known for the entry being
// read, or nil.
func (r *Reader) partial() *Header {
	switch {
	case r.pax.path != "":
		return &Header{Name: r.pax.path}
	case r.long != "":
		return &Header{Name: r.long}
	}
	return nil
}

// rawName returns the name of the entry being read from its meta headers
// or, failing those, the name field of the current header block.
func (r *Reader) rawName() *Header {
	if h := r.partial(); h != nil {
		return h
	}
	return &Header{Name: string(cstring(r.blk[offName : offName+100]))}
}

// readMeta reads the body of the meta entry (typeflag flag) whose header
// is in r.blk, and records its effect.
func (r *Reader) readMeta(flag byte) error {
	size, err := parseNumeric(r.blk[offSize : offSize+12])
	if err != nil {
		return headerErrorf("size field of %q header: %v", flag, err)
	}
	if size < 0 {
		return headerErrorf("size field of %q header is negative (%d)", flag, size)
	}
	if size > maxMetaSize {
		return headerErrorf("%q header of %d bytes is larger than the %d allowed", flag, size, maxMetaSize)
	}
	if int64(cap(r.meta)) < size {
		r.meta = make([]byte, max(size, 4096))
	}
	body := r.meta[:size]
	if err := r.readFull(body, "extended header"); err != nil {
		return err
	}
	if pad := -size & (blockSize - 1); pad > 0 {
		if err := r.readFull(r.blk[:pad], "extended header padding"); err != nil {
			return err
		}
	}
	switch flag {
	case TypeXHeader:
		r.pending = true
		return r.pax.parse(string(body))
	case TypeXGlobalHeader:
		return r.mergeGlobal(string(body))
	case TypeGNULongName:
		r.pending = true
		r.long = string(cstring(body))
	case TypeGNULongLink:
		r.pending = true
		r.longLnk = string(cstring(body))
	}
	return nil
}

// mergeGlobal merges the records of a 'g' header body into r.global.
func (r *Reader) mergeGlobal(body string) error {
	if r.globalIdx == nil {
		r.globalIdx = make(map[string]int)
	}
	deleted := false
	for len(body) > 0 {
		key, value, rest, err := nextPAXRecord(body)
		if err != nil {
			return err
		}
		body = rest
		i, ok := r.globalIdx[key]
		switch {
		case ok:
			r.globalSize -= len(r.global[i].Value)
			r.global[i].Value = value // "" marks it for deletion below
			deleted = deleted || value == ""
		case value != "":
			r.globalIdx[key] = len(r.global)
			r.global = append(r.global, PAXRecord{Key: key, Value: value})
			r.globalSize += len(key) + globalRecordCost
		}
		r.globalSize += len(value)
		if r.globalSize > maxGlobalSize {
			return headerErrorf("PAX global records exceed %d bytes", maxGlobalSize)
		}
	}
	if deleted {
		kept := make([]PAXRecord, 0, len(r.global))
		clear(r.globalIdx)
		for _, rec := range r.global {
			if rec.Value != "" {
				r.globalIdx[rec.Key] = len(kept)
				kept = append(kept, rec)
			} else {
				r.globalSize -= len(rec.Key) + globalRecordCost
			}
		}
		r.global = kept
	}
	return nil
}

// headerFormat returns the layout of the header block b.
func headerFormat(b *[blockSize]byte) format {
	magic := b[offMagic : offMagic+6]
	switch {
	case string(magic) == "ustar\x00":
		if string(b[offSTARTail:]) == "tar\x00" {
			return formatSTAR
		}
		return formatUSTAR
	case string(magic) == "ustar " && string(b[offVersion:offVersion+2]) == " \x00":
		return formatGNU
	}
	return formatV7
}

// checksumOK reports whether the checksum field of b matches the sum of
// its bytes (the field itself counted as spaces), computed with either
// unsigned or signed bytes: historic writers used either.
func checksumOK(b *[blockSize]byte) bool {
	want, err := parseOctal(b[offChksum : offChksum+8])
	if err != nil {
		return false
	}
	var sum, high int64
	for _, c := range b[:offChksum] {
		sum += int64(c)
		high += int64(c >> 7)
	}
	for _, c := range b[offChksum+8:] {
		sum += int64(c)
		high += int64(c >> 7)
	}
	sum += 8 * ' '
	return want == sum || want == sum-256*high
}

// numField parses the numeric field of r.blk at [off, off+n).
func (r *Reader) numField(off, n int, what string) (int64, error) {
	v, err := parseNumeric(r.blk[off : off+n])
	if err != nil {
		return 0, headerErrorf("%s field %q: %v", what, r.blk[off:off+n], err)
	}
	return v, nil
}

// ownerName returns the string for a uname/gname field, reusing *last
// when it is the same so that archives owned by one user cost no
// allocations.
func ownerName(b []byte, last *string) string {
	if string(b) != *last {
		*last = string(b)
	}
	return *last
}

// entryHeader builds the Header of the entry whose header block is in
// r.blk, applying the pending meta headers.
func (r *Reader) entryHeader() (*Header, error) {
	b := &r.blk
	layout := headerFormat(b)
	h := &Header{Typeflag: b[offTypeflag]}
	fail := func(err error) (*Header, error) {
		if h.Name == "" {
			h = r.rawName()
		}
		return h, err
	}

	mode, err := r.numField(offMode, 8, "mode")
	if err != nil {
		return fail(err)
	}
	h.Mode = mode & 0o7777
	uid, err := r.numField(offUid, 8, "uid")
	if err != nil {
		return fail(err)
	}
	gid, err := r.numField(offGid, 8, "gid")
	if err != nil {
		return fail(err)
	}
	h.Uid, h.Gid = int(uid), int(gid)
	if h.Size, err = r.numField(offSize, 12, "size"); err != nil {
		return fail(err)
	}
	mtime, err := r.numField(offMtime, 12, "mtime")
	if err != nil {
		return fail(err)
	}
	h.ModTime = time.Unix(mtime, 0)

	var prefix []byte
	if layout != formatV7 {
		h.Uname = ownerName(cstring(b[offUname:offUname+32]), &r.uname)
		h.Gname = ownerName(cstring(b[offGname:offGname+32]), &r.gname)
		if h.Devmajor, err = r.numField(offDevmajor, 8, "devmajor"); err != nil {
			return fail(err)
		}
		if h.Devminor, err = r.numField(offDevminor, 8, "devminor"); err != nil {
			return fail(err)
		}
		switch layout {
		case formatUSTAR:
			prefix = cstring(b[offPrefix:endPrefix])
		case formatSTAR:
			prefix = cstring(b[offPrefix:endSTARPfx])
		}
	}

	// Names: PAX records win over GNU long names, which win over the
	// header fields.
	p := &r.pax
	switch {
	case p.path != "":
		h.Name = p.path
	case r.long != "":
		h.Name = r.long
	case len(prefix) > 0:
		h.Name = string(prefix) + "/" + string(cstring(b[offName:offName+100]))
	default:
		h.Name = string(cstring(b[offName : offName+100]))
	}
	switch {
	case p.linkpath != "":
		h.Linkname = p.linkpath
	case r.longLnk != "":
		h.Linkname = r.longLnk
	default:
		h.Linkname = string(cstring(b[offLinkname : offLinkname+100]))
	}

	if p.uname != "" {
		h.Uname = p.uname
	}
	if p.gname != "" {
		h.Gname = p.gname
	}
	if p.uid != "" {
		v, err := parseDecimal(p.uid)
		if err != nil {
			return fail(headerErrorf("PAX uid %.40q: %v", p.uid, err))
		}
		h.Uid = int(v)
	}
	if p.gid != "" {
		v, err := parseDecimal(p.gid)
		if err != nil {
			return fail(headerErrorf("PAX gid %.40q: %v", p.gid, err))
		}
		h.Gid = int(v)
	}
	if p.size != "" {
		if h.Size, err = parseDecimal(p.size); err != nil {
			return fail(headerErrorf("PAX size %.40q: %v", p.size, err))
		}
	}
	if p.mtime != "" {
		if h.ModTime, err = parsePAXTime(p.mtime); err != nil {
			return fail(headerErrorf("PAX mtime %.40q: %v", p.mtime, err))
		}
	}
	if p.devmajor != "" {
		if h.Devmajor, err = parseDecimal(p.devmajor); err != nil {
			return fail(headerErrorf("PAX %s %.40q: %v", paxDevmajor, p.devmajor, err))
		}
	}
	if p.devminor != "" {
		if h.Devminor, err = parseDecimal(p.devminor); err != nil {
			return fail(headerErrorf("PAX %s %.40q: %v", paxDevminor, p.devminor, err))
		}
	}
	h.Xattrs, h.PAXRecords = p.xattrs, p.other

	// Old tar programs mark directories only by a trailing slash; they
	// have no content, whatever their size field says.
	if h.Typeflag == TypeRegA && strings.HasSuffix(h.Name, "/") {
		h.Typeflag = TypeDir
	}
	if isHeaderOnly(h.Typeflag) {
		r.remaining = 0
	} else {
		if h.Size < 0 {
			return fail(headerErrorf("negative size %d", h.Size))
		}
		r.remaining = h.Size
	}
	r.pad = -r.remaining & (blockSize - 1)
	r.pax = paxState{}
	r.long, r.longLnk, r.pending = "", "", false
	return h, nil
}
