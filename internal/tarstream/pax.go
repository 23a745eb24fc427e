package tarstream

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// PAX record keys with a meaning to the Reader.
const (
	paxPath     = "path"
	paxLinkpath = "linkpath"
	paxUname    = "uname"
	paxGname    = "gname"
	paxUid      = "uid"
	paxGid      = "gid"
	paxSize     = "size"
	paxMtime    = "mtime"

	paxDevmajor = "SCHILY.devmajor"
	paxDevminor = "SCHILY.devminor"

	paxSchilyXattr     = "SCHILY.xattr."
	paxLibarchiveXattr = "LIBARCHIVE.xattr."
	paxSELinux         = "RHT.security.selinux"
	paxGNUSparse       = "GNU.sparse."
)

// nextPAXRecord splits the first record off s, the body of a PAX extended
// header. A record is "LEN KEY=VALUE\n" where LEN is the decimal length of
// the whole record, LEN and the newline included. The key ends at the first
// '='; it must not be empty or contain NUL. VALUE is raw bytes (it may hold
// '=', newlines or NUL), except that path, linkpath, uname and gname values
// must not contain NUL.
func nextPAXRecord(s string) (key, value, rest string, err error) {
	sp := strings.IndexByte(s, ' ')
	if sp < 0 {
		return "", "", "", headerErrorf("PAX record %.20q has no length field", s)
	}
	n, perr := parseDecimal(s[:sp])
	if perr != nil {
		return "", "", "", headerErrorf("PAX record length %.20q is not a decimal number", s[:sp])
	}
	if n < int64(sp)+2 {
		return "", "", "", headerErrorf("PAX record length %d is too small", n)
	}
	if n > int64(len(s)) {
		return "", "", "", headerErrorf("PAX record length %d exceeds the %d bytes left in the header", n, len(s))
	}
	if s[n-1] != '\n' {
		return "", "", "", headerErrorf("PAX record of length %d does not end in a newline", n)
	}
	rec := s[sp+1 : n-1]
	eq := strings.IndexByte(rec, '=')
	switch {
	case eq < 0:
		return "", "", "", headerErrorf("PAX record %.40q has no '='", rec)
	case eq == 0:
		return "", "", "", headerErrorf("PAX record %.40q has an empty key", rec)
	}
	key, value = rec[:eq], rec[eq+1:]
	if strings.IndexByte(key, 0) >= 0 {
		return "", "", "", headerErrorf("PAX record key %q contains NUL", key)
	}
	switch key {
	case paxPath, paxLinkpath, paxUname, paxGname:
		if strings.IndexByte(value, 0) >= 0 {
			return "", "", "", headerErrorf("PAX %s value contains NUL", key)
		}
	}
	return key, value, s[n:], nil
}

// paxState holds the records of the PAX extended header that applies to the
// next entry. An empty string means "no override".
type paxState struct {
	path, linkpath, uname, gname string
	uid, gid, size, mtime        string
	devmajor, devminor           string
	xattrs                       []Xattr
	other                        []PAXRecord
}

// parse replaces p with the records of body, the content of a type 'x'
// header. Within one header a later record for the same single-valued key
// wins; an empty value cancels the override.
func (p *paxState) parse(body string) error {
	*p = paxState{}
	for len(body) > 0 {
		key, value, rest, err := nextPAXRecord(body)
		if err != nil {
			return err
		}
		body = rest
		switch key {
		case paxPath:
			p.path = value
		case paxLinkpath:
			p.linkpath = value
		case paxUname:
			p.uname = value
		case paxGname:
			p.gname = value
		case paxUid:
			p.uid = value
		case paxGid:
			p.gid = value
		case paxSize:
			p.size = value
		case paxMtime:
			p.mtime = value
		case paxDevmajor:
			p.devmajor = value
		case paxDevminor:
			p.devminor = value
		case paxSELinux:
			p.xattrs = append(p.xattrs, Xattr{Name: "security.selinux", Value: []byte(value)})
		default:
			switch {
			case strings.HasPrefix(key, paxSchilyXattr):
				name := key[len(paxSchilyXattr):]
				if name == "" {
					return headerErrorf("PAX record %q has an empty attribute name", key)
				}
				p.xattrs = append(p.xattrs, Xattr{Name: name, Value: []byte(value)})
			case strings.HasPrefix(key, paxLibarchiveXattr):
				x, err := decodeLibarchiveXattr(key[len(paxLibarchiveXattr):], value)
				if err != nil {
					return err
				}
				p.xattrs = append(p.xattrs, x)
			case strings.HasPrefix(key, paxGNUSparse):
				return fmt.Errorf("%w (PAX record %q)", ErrSparse, key)
			default:
				p.other = append(p.other, PAXRecord{Key: key, Value: value})
			}
		}
	}
	return nil
}

// decodeLibarchiveXattr decodes a LIBARCHIVE.xattr.NAME=VALUE record: NAME is
// URL-encoded ("%" and two hex digits for a byte; a '%' not followed by two
// hex digits stands for itself, as in libarchive) and VALUE is base64
// (standard alphabet, padding optional).
func decodeLibarchiveXattr(encName, encValue string) (Xattr, error) {
	name := urlDecode(encName)
	if name == "" {
		return Xattr{}, headerErrorf("PAX record %q has an empty attribute name", paxLibarchiveXattr+encName)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return Xattr{}, headerErrorf("PAX record %q: attribute name contains NUL", paxLibarchiveXattr+encName)
	}
	value, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(encValue, "="))
	if err != nil {
		return Xattr{}, headerErrorf("PAX record %q: value is not base64: %v", paxLibarchiveXattr+encName, err)
	}
	return Xattr{Name: name, Value: value}, nil
}

// urlDecode replaces each "%XX" (two hex digits) in s by the byte it stands
// for. Other bytes, a lone '%' included, are kept as they are.
func urlDecode(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

// unhex returns the value of the hex digit c.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
