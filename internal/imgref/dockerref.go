package imgref

import (
	"fmt"
	"strings"
)

// Limits of the Docker reference grammar.
const (
	maxDockerNameLength = 255 // domain plus repository path
	maxTagLength        = 128
)

// digestHexLength maps the digest algorithms containers/image accepts to the
// length of their lowercase hex encoding.
var digestHexLength = map[string]int{
	"sha256": 64,
	"sha384": 96,
	"sha512": 128,
}

// DockerReference is a parsed Docker (distribution) image reference:
// [DOMAIN/]PATH[:TAG][@DIGEST]. No normalisation is applied: a missing
// domain stays empty (it is not replaced by docker.io) and a one-component
// path does not get "library/" added.
type DockerReference struct {
	// Domain is the registry host with optional ":port", or "" if the
	// reference has none (as in "fedora:42").
	Domain string
	// Path is the repository path, e.g. "fedora/fedora-bootc".
	Path string
	// Tag is the tag without the colon, or "".
	Tag string
	// Digest is "algorithm:hex" without the "@", or "".
	Digest string
}

// Name returns the repository name, [DOMAIN/]PATH, without tag or digest.
func (r DockerReference) Name() string {
	if r.Domain == "" {
		return r.Path
	}
	return r.Domain + "/" + r.Path
}

// String returns the reference in its usual form [DOMAIN/]PATH[:TAG][@DIGEST].
func (r DockerReference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// ParseDockerReference parses s with the grammar of the Docker distribution
// reference library as used by containers/image for "docker://" names:
//
//   - the first path component is a domain if it contains "." or ":", is
//     "localhost", or contains an upper-case letter; a domain is a host name
//     (or IPv4 address, or bracketed IPv6 address) with an optional numeric
//     port;
//   - repository path components are lower-case alphanumeric runs joined by
//     ".", "_", "__" or one or more "-";
//   - domain and path together are at most 255 characters;
//   - the optional tag matches [A-Za-z0-9_][A-Za-z0-9_.-]{0,127};
//   - the optional digest is sha256, sha384 or sha512 with the matching
//     number of lower-case hex digits;
//   - a bare 64-character hex string is refused, as it would be an image ID.
//
// Errors wrap [ErrInvalidReference].
func ParseDockerReference(s string) (DockerReference, error) {
	r, err := parseDockerReference(s)
	if err != nil {
		return DockerReference{}, fmt.Errorf("%w: docker reference %q: %s", ErrInvalidReference, s, err)
	}
	return r, nil
}

func parseDockerReference(s string) (DockerReference, error) {
	var r DockerReference
	if s == "" {
		return r, fmt.Errorf("empty")
	}
	if isHex(s) && len(s) == 64 {
		return r, fmt.Errorf("a 64-character hexadecimal string is an image ID, not a repository name")
	}
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if err := validateDigest(r.Digest); err != nil {
			return r, err
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && i > strings.LastIndexByte(rest, '/') {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if err := validateTag(r.Tag); err != nil {
			return r, err
		}
	}
	if rest == "" {
		return r, fmt.Errorf("missing repository name")
	}
	if len(rest) > maxDockerNameLength {
		return r, fmt.Errorf("repository name longer than %d characters", maxDockerNameLength)
	}
	r.Path = rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		first := rest[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
			r.Domain = first
			r.Path = rest[i+1:]
			if err := validateDomain(r.Domain); err != nil {
				return r, err
			}
		}
	}
	if err := validateRepoPath(r.Path); err != nil {
		return r, err
	}
	return r, nil
}

// validateDomain checks host[:port] where host is a DNS name, an IPv4
// address or a bracketed IPv6 address.
func validateDomain(d string) error {
	host, port := d, ""
	if strings.HasPrefix(d, "[") {
		end := strings.IndexByte(d, ']')
		if end < 0 {
			return fmt.Errorf("registry host %q: missing \"]\"", d)
		}
		host, port = d[:end+1], d[end+1:]
		if port != "" {
			p, ok := strings.CutPrefix(port, ":")
			if !ok {
				return fmt.Errorf("registry host %q: unexpected text after \"]\"", d)
			}
			port = p
			if port == "" {
				return fmt.Errorf("registry host %q: empty port", d)
			}
		}
		inner := host[1 : len(host)-1]
		if inner == "" || strings.Trim(inner, "0123456789abcdefABCDEF:") != "" {
			return fmt.Errorf("registry host %q: invalid IPv6 address", d)
		}
	} else {
		if i := strings.LastIndexByte(d, ':'); i >= 0 {
			host, port = d[:i], d[i+1:]
			if port == "" {
				return fmt.Errorf("registry host %q: empty port", d)
			}
		}
		if err := validateHostName(host); err != nil {
			return fmt.Errorf("registry host %q: %s", d, err)
		}
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return fmt.Errorf("registry host %q: port must be numeric", d)
		}
	}
	return nil
}

// validateHostName checks dot-separated components of ASCII letters, digits
// and inner hyphens.
func validateHostName(h string) error {
	if h == "" {
		return fmt.Errorf("empty host name")
	}
	for _, c := range strings.Split(h, ".") {
		if c == "" {
			return fmt.Errorf("empty host name component")
		}
		if c[0] == '-' || c[len(c)-1] == '-' {
			return fmt.Errorf("host name component %q starts or ends with \"-\"", c)
		}
		for i := 0; i < len(c); i++ {
			if !isASCIIAlnum(c[i]) && c[i] != '-' {
				return fmt.Errorf("invalid character %q in host name", c[i])
			}
		}
	}
	return nil
}

// validateRepoPath checks "/"-separated components, each a lower-case
// alphanumeric run, optionally joined by ".", "_", "__" or a run of "-".
func validateRepoPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty repository path")
	}
	if strings.ToLower(p) != p {
		return fmt.Errorf("repository path %q must be lowercase", p)
	}
	for _, c := range strings.Split(p, "/") {
		if err := validatePathComponent(c); err != nil {
			return fmt.Errorf("repository path %q: %s", p, err)
		}
	}
	return nil
}

func validatePathComponent(c string) error {
	if c == "" {
		return fmt.Errorf("empty path component")
	}
	i := 0
	for {
		// An alphanumeric run.
		start := i
		for i < len(c) && isLowerAlnum(c[i]) {
			i++
		}
		if i == start {
			return fmt.Errorf("component %q: expected a lowercase letter or digit at offset %d", c, i)
		}
		if i == len(c) {
			return nil
		}
		// A separator: ".", "_", "__" or "-"+.
		switch c[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return fmt.Errorf("component %q: invalid character %q", c, c[i])
		}
		if i == len(c) {
			return fmt.Errorf("component %q ends with a separator", c)
		}
	}
}

// validateTag checks a Docker tag.
func validateTag(t string) error {
	if t == "" {
		return fmt.Errorf("empty tag")
	}
	if len(t) > maxTagLength {
		return fmt.Errorf("tag longer than %d characters", maxTagLength)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		ok := isASCIIAlnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			return fmt.Errorf("invalid tag %q", t)
		}
	}
	return nil
}

// ValidateTag reports whether t is a valid Docker tag
// ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}); errors wrap [ErrInvalidReference].
func ValidateTag(t string) error {
	if err := validateTag(t); err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidReference, err)
	}
	return nil
}

// validateDigest checks "algorithm:hex" for the algorithms containers/image
// supports.
func validateDigest(d string) error {
	alg, enc, ok := strings.Cut(d, ":")
	if !ok {
		return fmt.Errorf("digest %q: missing \":\"", d)
	}
	n, known := digestHexLength[alg]
	if !known {
		return fmt.Errorf("digest %q: unsupported algorithm %q", d, alg)
	}
	if len(enc) != n || !isHex(enc) {
		return fmt.Errorf("digest %q: %s needs %d lowercase hex digits", d, alg, n)
	}
	return nil
}

// ValidateDigest reports whether d is a digest "algorithm:hex" with algorithm
// sha256, sha384 or sha512 and the matching count of lower-case hex digits;
// errors wrap [ErrInvalidReference].
func ValidateDigest(d string) error {
	if err := validateDigest(d); err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidReference, err)
	}
	return nil
}

// isHex reports whether s is non-empty and all lower-case hex digits.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isLowerAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
}
