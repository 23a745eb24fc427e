package tarstream

import (
	"bytes"
	"errors"
	"time"
)

var (
	errBadNumber = errors.New("not a number")
	errOverflow  = errors.New("number out of range")
)

// cstring returns the bytes of a NUL-terminated header field up to the
// first NUL, or the whole field if it has none.
func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// parseNumeric parses a numeric header field: either octal ASCII digits, or
// (when the high bit of the first byte is set, as GNU tar and star write
// values that do not fit) a big-endian two's complement binary number in the
// remaining bits, bit 6 of the first byte being the sign.
func parseNumeric(b []byte) (int64, error) {
	if len(b) > 0 && b[0]&0x80 != 0 {
		return parseBase256(b)
	}
	return parseOctal(b)
}

// parseBase256 parses the GNU base-256 form of a numeric field.
func parseBase256(b []byte) (int64, error) {
	var flip byte // 0xff for a negative number: work on its complement
	if b[0]&0x40 != 0 {
		flip = 0xff
	}
	var v uint64
	for i, c := range b {
		c ^= flip
		if i == 0 {
			c &= 0x7f // the marker bit is not part of the number
		}
		if v>>55 != 0 {
			return 0, errOverflow
		}
		v = v<<8 | uint64(c)
	}
	if v>>63 != 0 {
		return 0, errOverflow
	}
	if flip != 0 {
		return ^int64(v), nil // two's complement: -(v+1)
	}
	return int64(v), nil
}

// parseOctal parses an octal ASCII field. Leading and trailing spaces and
// NULs are padding; the number ends at the first NUL after that. An empty
// field is zero.
func parseOctal(b []byte) (int64, error) {
	for len(b) > 0 && (b[0] == ' ' || b[0] == 0) {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	b = cstring(b)
	var v uint64
	for _, c := range b {
		if c < '0' || c > '7' {
			return 0, errBadNumber
		}
		if v>>61 != 0 {
			return 0, errOverflow
		}
		v = v<<3 | uint64(c-'0')
	}
	if v>>63 != 0 {
		return 0, errOverflow
	}
	return int64(v), nil
}

// parseDecimal parses a PAX decimal value: an optional sign followed by at
// least one ASCII digit, in the range of int64.
func parseDecimal(s string) (int64, error) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, errBadNumber
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errBadNumber
		}
		if v > (1<<63)/10 {
			return 0, errOverflow
		}
		v = v*10 + uint64(c-'0')
		if v > 1<<63 {
			return 0, errOverflow
		}
	}
	if neg {
		return -int64(v), nil // v == 1<<63 wraps to MinInt64, as wanted
	}
	if v > 1<<63-1 {
		return 0, errOverflow
	}
	return int64(v), nil
}

// parsePAXTime parses a PAX time value: decimal seconds since the epoch,
// optionally signed, optionally followed by '.' and a fraction of a second
// (digits past the ninth are ignored). The fraction has the sign of the
// seconds: "-1.5" is one and a half seconds before the epoch.
func parsePAXTime(s string) (time.Time, error) {
	secStr, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			secStr, frac = s[:i], s[i+1:]
			break
		}
	}
	sec, err := parseDecimal(secStr)
	if err != nil {
		return time.Time{}, err
	}
	var nsec int64
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return time.Time{}, errBadNumber
		}
		if i < 9 {
			nsec = nsec*10 + int64(c-'0')
		}
	}
	for i := len(frac); i < 9; i++ {
		nsec *= 10
	}
	if secStr[0] == '-' {
		nsec = -nsec
	}
	return time.Unix(sec, nsec), nil
}
