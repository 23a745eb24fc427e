package ostree

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// File type bits of st_mode, as libostree stores them in file headers.
const (
	modeRegular = 0o100000 // S_IFREG
	modeSymlink = 0o120000 // S_IFLNK
)

// ContentChecksum returns the ostree checksum of a regular file object with metadata meta
// and exactly size bytes of content read from r: the checksum (*Repo).WriteRegfile returns
// for the same arguments, computed in Go (crypto/sha256) without writing anything.
//
// libostree's content checksum is SHA-256 over the length-prefixed file header followed by
// the content: a big-endian u32 with the size of the header, four zero bytes, then the
// GVariant (uuuusa(ayay)) holding the big-endian uid, gid and st_mode (S_IFREG and the
// permission bits), rdev 0, the symlink target ("" for a regular file) and the extended
// attributes in the given order. Attributes with an empty value are left out, as
// WriteRegfile leaves them out. Reading fewer or more than size bytes is an error.
func ContentChecksum(meta FileMeta, size int64, r io.Reader) (string, error) {
	if size < 0 {
		return "", fmt.Errorf("checksumming file content: negative size %d", size)
	}
	h := sha256.New()
	h.Write(fileHeader(meta.UID, meta.GID, modeRegular|(meta.Mode&0o7777), "", meta.Xattrs))
	bp := hashPool.Get().(*[]byte)
	defer hashPool.Put(bp)
	if err := copyChunks(r, size, *bp, func(b []byte) error { h.Write(b); return nil }); err != nil {
		return "", fmt.Errorf("checksumming file content: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SymlinkChecksum returns the ostree checksum of a symbolic link object: the checksum
// (*Repo).WriteSymlink returns for the same arguments (meta.Mode is ignored, links are
// 0777).
func SymlinkChecksum(meta FileMeta, target string) string {
	sum := sha256.Sum256(fileHeader(meta.UID, meta.GID, modeSymlink|0o777, target, meta.Xattrs))
	return hex.EncodeToString(sum[:])
}

// NewContentHash starts the checksum of a regular file object whose content the caller
// then writes into the returned hash; hex-encode its Sum for the object checksum. It is
// ContentChecksum for callers that already stream the content somewhere.
func NewContentHash(meta FileMeta) hash.Hash {
	h := sha256.New()
	h.Write(fileHeader(meta.UID, meta.GID, modeRegular|(meta.Mode&0o7777), "", meta.Xattrs))
	return h
}

var hashPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// fileHeader serializes the length-prefixed file header libostree hashes before a file
// object's content.
func fileHeader(uid, gid, mode uint32, target string, xattrs []Xattr) []byte {
	// Body of the (uuuusa(ayay)) tuple: four fixed u32, the NUL-terminated string, the
	// array; then one framing offset (the end of the string, the only variable-size member
	// that is not last).
	arr := xattrArray(xattrs)
	body := 16 + len(target) + 1 + len(arr)
	w := offsetSize(body, 1)
	hdrLen := body + w
	out := make([]byte, 8, 8+hdrLen)
	binary.BigEndian.PutUint32(out[0:4], uint32(hdrLen))
	out = binary.BigEndian.AppendUint32(out, uid)
	out = binary.BigEndian.AppendUint32(out, gid)
	out = binary.BigEndian.AppendUint32(out, mode)
	out = binary.BigEndian.AppendUint32(out, 0) // rdev
	out = append(out, target...)
	out = append(out, 0)
	out = append(out, arr...)
	return appendOffset(out, 16+len(target)+1, w)
}

// xattrArray serializes an a(ayay) array of (name as a NUL-terminated bytestring, value).
func xattrArray(xattrs []Xattr) []byte {
	var body []byte
	var ends []int
	for _, x := range xattrs {
		if len(x.Value) == 0 {
			continue
		}
		// Element (ayay): name bytes with NUL, value bytes, one framing offset.
		ebody := len(x.Name) + 1 + len(x.Value)
		w := offsetSize(ebody, 1)
		body = append(body, x.Name...)
		body = append(body, 0)
		body = append(body, x.Value...)
		body = appendOffset(body, len(x.Name)+1, w)
		ends = append(ends, len(body))
	}
	if len(ends) == 0 {
		return nil
	}
	w := offsetSize(len(body), len(ends))
	for _, e := range ends {
		body = appendOffset(body, e, w)
	}
	return body
}

// offsetSize is the framing offset width GVariant uses for a container with a body of
// bodySize bytes and n framing offsets.
func offsetSize(bodySize, n int) int {
	switch {
	case bodySize+n <= 0xff:
		return 1
	case bodySize+2*n <= 0xffff:
		return 2
	case bodySize+4*n <= 0xffffffff:
		return 4
	}
	return 8
}

// appendOffset appends v as a little-endian framing offset of width w.
func appendOffset(b []byte, v, w int) []byte {
	for i := range w {
		b = append(b, byte(uint64(v)>>(8*i)))
	}
	return b
}

// copyChunks reads exactly size bytes of rd through buf, handing each chunk to write, and
// checks that rd ends there.
func copyChunks(rd io.Reader, size int64, buf []byte, write func([]byte) error) error {
	for remaining := size; remaining > 0; {
		n := min(int64(len(buf)), remaining)
		if _, err := io.ReadFull(rd, buf[:n]); err != nil {
			return fmt.Errorf("reading content: %w", err)
		}
		if err := write(buf[:n]); err != nil {
			return err
		}
		remaining -= n
	}
	return expectEOF(rd)
}

// expectEOF checks that rd has nothing beyond the declared size.
func expectEOF(rd io.Reader) error {
	var one [1]byte
	n, err := rd.Read(one[:])
	if n > 0 {
		return errors.New("content is longer than its declared size")
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("reading content: %w", err)
	}
	return nil
}
