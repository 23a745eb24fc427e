package tarstream

import "time"

// Typeflag values of tar headers. The Reader returns the typeflag of an
// entry as it is stored in the archive, with one exception: a TypeRegA entry
// whose name ends in '/' is returned as TypeDir (see TypeRegA). Unlike
// archive/tar, it does not rewrite other TypeRegA entries to TypeReg.
const (
	// TypeReg is a regular file.
	TypeReg = '0'
	// TypeRegA is a regular file in archives written by old (V7) tar
	// programs. Such archives mark directories only by a trailing slash
	// in the name: the Reader returns those entries as TypeDir, with no
	// content, as archive/tar and libarchive read them. (libarchive also
	// reads a TypeReg, TypeCont or unknown-type entry whose name ends in
	// '/' as a directory without content; the Reader does not, following
	// POSIX and archive/tar.)
	TypeRegA = '\x00'
	// TypeLink is a hard link to the entry named by Linkname.
	TypeLink = '1'
	// TypeSymlink is a symbolic link whose target is Linkname.
	TypeSymlink = '2'
	// TypeChar is a character device node (see Devmajor, Devminor).
	TypeChar = '3'
	// TypeBlock is a block device node (see Devmajor, Devminor).
	TypeBlock = '4'
	// TypeDir is a directory.
	TypeDir = '5'
	// TypeFifo is a named pipe.
	TypeFifo = '6'
	// TypeCont is a contiguous file, which readers treat as a regular file.
	TypeCont = '7'

	// TypeXHeader is a PAX extended header holding records for the next
	// entry. The Reader consumes it and never returns it.
	TypeXHeader = 'x'
	// TypeXGlobalHeader is a PAX global extended header. The Reader
	// consumes it and never returns it; see Reader.GlobalRecords.
	TypeXGlobalHeader = 'g'
	// TypeGNULongName is a GNU header holding the name of the next entry.
	// The Reader consumes it and never returns it.
	TypeGNULongName = 'L'
	// TypeGNULongLink is a GNU header holding the link target of the next
	// entry. The Reader consumes it and never returns it.
	TypeGNULongLink = 'K'
	// TypeGNUSparse is a GNU sparse file. The Reader does not support
	// sparse files and fails with ErrSparse when it meets one.
	TypeGNUSparse = 'S'
)

// Xattr is one extended attribute of an entry, taken from a PAX record.
type Xattr struct {
	// Name is the attribute name, such as "user.foo" or
	// "security.capability", without any PAX key prefix.
	Name string
	// Value is the attribute value, decoded from base64 for
	// LIBARCHIVE.xattr records. It may be empty.
	Value []byte
}

// PAXRecord is one PAX extended header record ("key=value").
type PAXRecord struct {
	// Key is the record keyword, such as "atime" or "SCHILY.fflags".
	Key string
	// Value is the record value. It may contain any byte, NUL included,
	// except for the keys path, linkpath, uname and gname.
	Value string
}

// Header describes one entry of a tar archive after all the meta headers
// (PAX extended headers and GNU long names) that precede it have been
// applied.
type Header struct {
	// Name is the entry's path exactly as stored: from a PAX path record,
	// else a GNU long name, else the header's name field (with the ustar
	// prefix field and a '/' in front when the prefix is set). It is not
	// cleaned: it may start with "./" or "/", contain "..", and end in
	// "/" for directories.
	Name string

	// Linkname is the target of a hard link or symbolic link, exactly as
	// stored (PAX linkpath record, else GNU long link, else the linkname
	// field).
	Linkname string

	// Typeflag is the entry type, one of the Type* constants for the
	// entries a file system can hold, or any other byte for vendor
	// extensions. Meta types (x, g, L, K) are never returned.
	Typeflag byte

	// Mode holds the permission bits together with the setuid, setgid and
	// sticky bits of the header's mode field (the low 12 bits, 07777).
	// File type bits that some writers put in the mode field are dropped:
	// the type is given by Typeflag.
	Mode int64

	// Uid and Gid are the numeric owner and group, from a PAX uid/gid
	// record if present, else from the header.
	Uid, Gid int

	// Size is the size in bytes from a PAX size record if present, else
	// from the header. For the header-only types (TypeLink, TypeSymlink,
	// TypeChar, TypeBlock, TypeDir, TypeFifo) no content follows in the
	// archive whatever Size says, and Read returns io.EOF at once.
	Size int64

	// ModTime is the modification time, from a PAX mtime record (which
	// may have sub-second precision) if present, else from the header
	// (whole seconds).
	ModTime time.Time

	// Devmajor and Devminor are the device numbers of TypeChar and
	// TypeBlock entries, from SCHILY.devmajor/SCHILY.devminor records if
	// present, else from the header. They are zero for V7 archives.
	Devmajor, Devminor int64

	// Uname and Gname are the owner and group names (PAX uname/gname
	// records if present, else the header fields). They are empty for
	// V7 archives.
	Uname, Gname string

	// Xattrs holds the extended attributes from the entry's PAX extended
	// header, in the order their records appear there. Three record
	// forms are recognised:
	//
	//	SCHILY.xattr.NAME=VALUE      (raw value; archive/tar, GNU tar, star, bsdtar)
	//	LIBARCHIVE.xattr.NAME=VALUE  (NAME URL-encoded, VALUE base64; bsdtar)
	//	RHT.security.selinux=VALUE   (GNU tar --selinux; Name "security.selinux")
	//
	// Nothing is sorted or merged: bsdtar writes each attribute in both
	// the LIBARCHIVE and the SCHILY form, so such archives list every
	// attribute twice. libarchive (and so `ostree commit --tree=tar=`)
	// keeps every record too, and stores them in the reverse order.
	Xattrs []Xattr

	// PAXRecords holds the records of the entry's PAX extended header
	// that are not reflected in the fields above (for example atime,
	// ctime, comment, SCHILY.fflags), in the order they appear, with
	// duplicates kept.
	PAXRecords []PAXRecord
}

// isHeaderOnly reports whether entries of type flag carry no content in the
// archive, whatever their size field says.
func isHeaderOnly(flag byte) bool {
	switch flag {
	case TypeLink, TypeSymlink, TypeChar, TypeBlock, TypeDir, TypeFifo:
		return true
	}
	return false
}
