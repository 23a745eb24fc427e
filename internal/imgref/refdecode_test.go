package imgref

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The decoders of escaped refs, and upstream's checked encoder, serve the tests only: they
// check that [EscapeRef] is reversible (refs of different names never collide) and
// byte-for-byte upstream's.

// ErrInvalidEscape reports a string that is not a valid escaped ostree ref.
var ErrInvalidEscape = errors.New("invalid escaped ref")

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

// PrefixEscapeRef returns prefix + "/" + [EscapeRef](s), like upstream's
// prefix_escape_for_ref, refusing what upstream refuses: an empty prefix or
// s, and a NUL in s; it also refuses invalid UTF-8. Errors wrap
// [ErrInvalidEscape].
func PrefixEscapeRef(prefix, s string) (string, error) {
	switch {
	case prefix == "":
		return "", fmt.Errorf("%w: empty ref prefix", ErrInvalidEscape)
	case s == "":
		return "", fmt.Errorf("%w: empty string for ref", ErrInvalidEscape)
	case strings.IndexByte(s, 0) >= 0:
		return "", fmt.Errorf("%w: embedded NUL in string for ref", ErrInvalidEscape)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%w: string for ref is not valid UTF-8", ErrInvalidEscape)
	}
	return prefix + "/" + EscapeRef(s), nil
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

// DigestFromBlobRef returns the layer digest encoded in a ref made by
// [BlobRef]. The result is unescaped but not validated as a digest.
func DigestFromBlobRef(ref string) (string, error) {
	d, err := UnprefixUnescapeRef(BlobRefPrefix, ref)
	if err != nil {
		return "", err
	}
	if d == "" {
		return "", fmt.Errorf("%w: ref %q has an empty digest", ErrInvalidEscape, ref)
	}
	return d, nil
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
