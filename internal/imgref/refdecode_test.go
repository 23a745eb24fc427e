package imgref

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// DigestFromBlobRef and upstream's checked encoder PrefixEscapeRef serve the tests only:
// with UnescapeRef they check that the refs are reversible and byte-for-byte upstream's.

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
