// Package tarstream is a streaming reader for tar archives, written for
// importing container image layers into libostree.
//
// It differs from archive/tar in what it keeps: the extended attributes of
// an entry (Header.Xattrs) and its other PAX records (Header.PAXRecords)
// are slices in the order the records appear in the archive, where
// archive/tar has maps. ostree checksums depend on the order of extended
// attributes, and libarchive, which `ostree commit --tree=tar=` uses,
// stores them in the reverse of their order in the PAX header. An importer
// that must produce the same checksums needs that order, which archive/tar
// loses.
//
// # Why not a library
//
// Checked against what go.sum holds (issue 13): no tar reader there returns PAX records,
// or the extended attributes made from them, in archive order. archive/tar and its fork in
// github.com/vbatts/tar-split keep them in maps (Header.PAXRecords, Header.Xattrs).
// tar-split's reader can hand out the raw bytes of each header (RawAccounting, RawBytes),
// from which the order could be re-derived by parsing the 'x' header body a second time;
// that is the way out if this package is to go (a small ordered PAX record parser over
// tar-split's reader, with TestXattrOrder and the archive/tar differential test as the
// gate), but it is not a library doing the job, so the package stays.
//
// # Usage
//
//	tr := tarstream.NewReader(layer)
//	for {
//		hdr, err := tr.Next()
//		if err == io.EOF {
//			break
//		}
//		if err != nil {
//			return err
//		}
//		// use hdr; read the content, if wanted, from tr
//	}
//
// Content is read straight from the underlying reader, without copying
// whole files into memory. Content left unread when Next is called is
// skipped (with Seek if the underlying reader supports it).
//
// # Formats
//
// The Reader understands V7, ustar (with its prefix field), star (131-byte
// prefix), GNU (long names 'L', long links 'K', base-256 numeric fields)
// and POSIX pax archives ('x' extended headers for one entry, 'g' global
// headers). The pax records path, linkpath, size, uid, gid, uname, gname,
// mtime, SCHILY.devmajor and SCHILY.devminor override the header fields;
// SCHILY.xattr.*, LIBARCHIVE.xattr.* and RHT.security.selinux records are
// extended attributes. When both a pax record and a GNU long name give a
// name, the pax record wins.
//
// Global ('g') records are checked and made available through
// Reader.GlobalRecords but are not applied to entries, as neither libarchive
// nor archive/tar applies them. GNU sparse files are not supported: they
// fail with ErrSparse.
//
// Names, link targets and typeflags are returned as stored: the Reader does
// not clean paths or resolve links; callers normalise them. The only
// rewrite is that of old-style directories (TypeRegA with a name ending in
// '/') to TypeDir, since whether content follows depends on it.
//
// # Errors
//
// The Reader never panics on malformed input. Header checksums are
// verified (unsigned and signed sums are both accepted); corrupt headers
// and malformed PAX records give errors wrapping ErrHeader, a truncated
// archive gives errors wrapping io.ErrUnexpectedEOF, and every such error
// is an *Error naming the entry and its offset. The body of a meta entry
// (PAX header, GNU long name) is limited to 1 MiB, and so are the PAX
// global records kept across 'g' headers, so hostile input cannot make the
// Reader allocate much memory.
//
// The archive ends at two zero blocks (a single zero block at the end of
// the input is accepted too) or at the end of the input on a header
// boundary. Input after the end-of-archive blocks is not read.
package tarstream
