package imgref

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Prefixes of the ostree refs written for imported container images, as in
// ostree-ext's container store.
const (
	// BlobRefPrefix is the ref prefix of per-layer commits:
	// ostree/container/blob/<escaped layer digest>.
	BlobRefPrefix = "ostree/container/blob"
	// ImageRefPrefix is the ref prefix of merged image commits:
	// ostree/container/image/<escaped ImageReference.String()>.
	ImageRefPrefix = "ostree/container/image"
	// BaseImageRefPrefix is the ref prefix that keeps base images from being
	// garbage collected; bootc writes ostree/container/baseimage/bootc/<n>.
	BaseImageRefPrefix = "ostree/container/baseimage"
)

// EscapeRef maps an arbitrary string to one usable as (part of) an ostree
// ref, exactly as ostree-ext's refescape does:
//
//   - ASCII letters and digits, and "-", are kept;
//   - "/" is kept when it follows an ASCII letter or digit and is not the last
//     character, otherwise it is escaped (so "//" becomes "/_2F_");
//   - "_" becomes "__";
//   - any other character becomes "_" + its Unicode code point in upper-case
//     hex (at least two digits) + "_": ":" is "_3A_", "é" is "_E9_",
//     "€" is "_20AC_".
//
// Upstream refuses the empty string and NUL; EscapeRef maps "" to "" and NUL
// to "_00_" (use [PrefixEscapeRef] for upstream's checks). Each byte of
// invalid UTF-8 is treated as U+FFFD.
func EscapeRef(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	prevAlnum := false
	for i, c := range s {
		alnum := c < utf8.RuneSelf && isASCIIAlnum(byte(c))
		switch {
		case alnum, c == '-':
			b.WriteRune(c)
		case c == '/' && prevAlnum && i+1 < len(s):
			b.WriteByte('/')
		case c == '_':
			b.WriteString("__")
		default:
			fmt.Fprintf(&b, "_%02X_", c)
		}
		prevAlnum = alnum
	}
	return b.String()
}

// UnescapeRef reverses [EscapeRef]. It accepts only ASCII letters, digits,
// "-", "/" and "_" escapes: "__" for "_", and "_HEX_" for the character with
// that code point (hex digits of either case). Unlike upstream, which
// ignores some malformed escapes, an unterminated escape or one that is not
// a Unicode scalar value is an error wrapping [ErrInvalidEscape].
func UnescapeRef(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isASCIIAlnum(c) || c == '-' || c == '/':
			b.WriteByte(c)
		case c == '_':
			if i+1 < len(s) && s[i+1] == '_' {
				b.WriteByte('_')
				i++
				continue
			}
			end := strings.IndexByte(s[i+1:], '_')
			if end < 0 {
				return "", fmt.Errorf("%w %q: unterminated escape at offset %d", ErrInvalidEscape, s, i)
			}
			hex := s[i+1 : i+1+end]
			v, err := strconv.ParseUint(hex, 16, 32)
			if err != nil || !utf8.ValidRune(rune(v)) {
				return "", fmt.Errorf("%w %q: bad escape %q at offset %d", ErrInvalidEscape, s, "_"+hex+"_", i)
			}
			b.WriteRune(rune(v))
			i += end + 1
		default:
			return "", fmt.Errorf("%w %q: invalid character %q at offset %d", ErrInvalidEscape, s, c, i)
		}
	}
	return b.String(), nil
}

// UnprefixUnescapeRef strips prefix + "/" from ref and unescapes the rest
// with [UnescapeRef], like upstream's unprefix_unescape_ref. A ref without
// that prefix is an error wrapping [ErrInvalidEscape].
func UnprefixUnescapeRef(prefix, ref string) (string, error) {
	rest, ok := strings.CutPrefix(ref, prefix+"/")
	if !ok || prefix == "" {
		return "", fmt.Errorf("%w: ref %q does not start with %q", ErrInvalidEscape, ref, prefix+"/")
	}
	return UnescapeRef(rest)
}

// BlobRef returns the ostree ref of the commit holding the layer with the
// given digest: "sha256:2c26..." gives
// "ostree/container/blob/sha256_3A_2c26...". The digest is not validated.
func BlobRef(digest string) string {
	return BlobRefPrefix + "/" + EscapeRef(digest)
}

// ImageRef returns the ostree ref of the merged commit of an image, the
// escaped [ImageReference.String]: docker://quay.io/fedora/fedora-bootc:42
// gives
// "ostree/container/image/docker_3A__2F__2F_quay_2E_io/fedora/fedora-bootc_3A_42".
// Note that the signature verification is not part of the ref.
func ImageRef(ref ImageReference) string {
	return ImageRefPrefix + "/" + EscapeRef(ref.String())
}

// ImageReferenceFromRef returns the image reference encoded in a ref made by
// [ImageRef], parsed with [ParseImageReference].
func ImageReferenceFromRef(ref string) (ImageReference, error) {
	s, err := UnprefixUnescapeRef(ImageRefPrefix, ref)
	if err != nil {
		return ImageReference{}, err
	}
	return ParseImageReference(s)
}

// isASCIIAlnum reports whether c is an ASCII letter or digit.
func isASCIIAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
