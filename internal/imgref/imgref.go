package imgref

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.podman.io/image/v5/docker/reference"
)

// ImageReference is a container image reference: a transport plus a
// transport-specific name. The name formats are those of containers/image:
//
//	registry            [DOMAIN/]PATH[:TAG][@DIGEST]          quay.io/fedora/fedora-bootc:42
//	oci, oci-archive    PATH[:REFERENCE]                      /srv/layout:tag
//	containers-storage  [[STORE-SPEC]]IMAGE                   localhost/bootc
//	dir                 PATH                                  /var/tmp/image
//	docker-archive      PATH[:DOCKER-REFERENCE]               /tmp/img.tar
//	docker-daemon       DOCKER-REFERENCE or ALGORITHM:HEX     myimage:tag
//
// The zero value is invalid; build values with [ParseImageReference] or
// [NewImageReference], or check literals with [ImageReference.Validate].
type ImageReference struct {
	// Transport is where the image is stored.
	Transport Transport
	// Name is the transport-specific image name, without transport prefix.
	Name string
}

// NewImageReference returns the reference {t, name} after checking it with
// [ImageReference.Validate].
func NewImageReference(t Transport, name string) (ImageReference, error) {
	r := ImageReference{Transport: t, Name: name}
	if err := r.Validate(); err != nil {
		return ImageReference{}, err
	}
	return r, nil
}

// ParseImageReference parses a containers-image style reference
// "TRANSPORT:NAME", where the transport prefix is one of "docker://",
// "registry:", "oci:", "oci-archive:", "containers-storage:", "dir:",
// "docker-archive:" or "docker-daemon:". The result is validated with
// [ImageReference.Validate]. Errors wrap [ErrInvalidReference], and also
// [ErrUnknownTransport] for an unknown prefix.
func ParseImageReference(s string) (ImageReference, error) {
	t, name, err := splitTransport(s)
	if err != nil {
		return ImageReference{}, fmt.Errorf("%w %q: %w", ErrInvalidReference, s, err)
	}
	r := ImageReference{Transport: t, Name: name}
	if err := r.Validate(); err != nil {
		return ImageReference{}, err
	}
	return r, nil
}

// String returns the containers-image style form, the transport prefix
// followed by the name: "docker://quay.io/x:1", "oci:/path:tag",
// "containers-storage:localhost/foo". This is also the string whose escaped
// form names the ostree image ref (see [ImageRef]).
func (r ImageReference) String() string {
	return r.Transport.Prefix() + r.Name
}

// ContainersImageName returns the "transport:name" string to hand to
// containers/image (alltransports.ParseImageName); for the registry
// transport that is "docker://NAME". It is the same text as
// [ImageReference.String].
func (r ImageReference) ContainersImageName() string {
	return r.String()
}

// MarshalText implements encoding.TextMarshaler using
// [ImageReference.String]; an invalid reference is an error.
func (r ImageReference) MarshalText() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using
// [ParseImageReference].
func (r *ImageReference) UnmarshalText(b []byte) error {
	v, err := ParseImageReference(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Validate checks that the transport is known and that the name suits it:
// non-empty valid UTF-8 without white space or control characters; for
// registry a valid Docker reference (containers/image's docker/reference grammar); for
// docker-daemon a Docker reference or an image ID digest; for oci,
// oci-archive and docker-archive a non-empty path before the first ":"; for
// dir a non-empty path; for containers-storage a closed "[...]" store
// specifier, if any, followed by a non-empty image. Errors wrap
// [ErrInvalidReference], and [ErrUnknownTransport] for a bad transport.
func (r ImageReference) Validate() error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidReference, r.String(), err)
	}
	return nil
}

func (r ImageReference) validate() error {
	if !r.Transport.Valid() {
		return fmt.Errorf("%w %q", ErrUnknownTransport, string(r.Transport))
	}
	if err := checkText("image name", r.Name); err != nil {
		return err
	}
	switch r.Transport {
	case TransportRegistry:
		if _, err := parseDockerReference(r.Name); err != nil {
			return fmt.Errorf("not a valid registry reference: %s", err)
		}
	case TransportDockerDaemon:
		if isDigest(r.Name) {
			return nil
		}
		if _, err := parseDockerReference(r.Name); err != nil {
			return fmt.Errorf("not a valid docker-daemon reference: %s", err)
		}
	case TransportOCI, TransportOCIArchive, TransportDockerArchive:
		path, _, _ := strings.Cut(r.Name, ":")
		if path == "" {
			return fmt.Errorf("empty path")
		}
	case TransportDir:
		// checkText already refused the empty name.
	case TransportContainersStorage:
		if spec, ok := strings.CutPrefix(r.Name, "["); ok {
			end := strings.IndexByte(spec, ']')
			if end < 0 {
				return fmt.Errorf("unterminated store specifier \"[\"")
			}
			if spec[end+1:] == "" {
				return fmt.Errorf("missing image after store specifier")
			}
		}
	}
	return nil
}

// checkText refuses empty strings, invalid UTF-8, white space and control
// characters.
func checkText(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s", what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, c := range s {
		if unicode.IsSpace(c) || unicode.IsControl(c) {
			return fmt.Errorf("%s contains white space or control character %q", what, c)
		}
	}
	return nil
}

// Canonicalize returns r with the tag dropped when a registry name has both a
// tag and a digest ("quay.io/x:1@sha256:..." becomes "quay.io/x@sha256:..."),
// as bootc does before pulling. Any other reference is returned unchanged.
// Unlike upstream, a name without domain is not expanded to
// "docker.io/library/...". An invalid registry name is an error.
func (r ImageReference) Canonicalize() (ImageReference, error) {
	if r.Transport != TransportRegistry {
		return r, nil
	}
	named, err := parseDockerReference(r.Name)
	if err != nil {
		return ImageReference{}, fmt.Errorf("%w %q: %w", ErrInvalidReference, r.String(), err)
	}
	tagged, isTagged := named.(reference.NamedTagged)
	canonical, isDigested := named.(reference.Canonical)
	if !isTagged || !isDigested || tagged.Tag() == "" {
		return r, nil
	}
	c, err := reference.WithDigest(reference.TrimNamed(named), canonical.Digest())
	if err != nil {
		return ImageReference{}, fmt.Errorf("%w %q: %w", ErrInvalidReference, r.String(), err)
	}
	return ImageReference{Transport: r.Transport, Name: c.String()}, nil
}

// WithTag returns r with its tag replaced by tag, as "bootc upgrade --tag"
// derives its target from the booted image. Following upstream bootc:
//
//   - for registry, containers-storage and docker-daemon names that are
//     Docker references, the result is [DOMAIN/]PATH:TAG and any previous tag
//     and "@digest" or "@image-id" are dropped (a containers-storage
//     "[store]" specifier is kept);
//   - for oci and oci-archive the reference after the path is replaced:
//     "/srv/layout" or "/srv/layout:old" becomes "/srv/layout:TAG";
//   - dir and docker-archive references, and containers-storage or
//     docker-daemon image IDs, have no tag: the error wraps
//     [ErrTagNotSupported].
//
// An invalid tag is an error wrapping [ErrInvalidReference].
func (r ImageReference) WithTag(tag string) (ImageReference, error) {
	if err := validateTag(tag); err != nil {
		return ImageReference{}, err
	}
	if err := r.Validate(); err != nil {
		return ImageReference{}, err
	}
	switch r.Transport {
	case TransportRegistry, TransportContainersStorage, TransportDockerDaemon:
		spec, image := "", r.Name
		if r.Transport == TransportContainersStorage && strings.HasPrefix(image, "[") {
			end := strings.IndexByte(image, ']')
			spec, image = image[:end+1], image[end+1:]
		}
		// The digest (or, for containers-storage, the image ID) after "@" is
		// dropped: the new tag names a different image.
		name, _, _ := strings.Cut(image, "@")
		named, err := parseDockerReference(name)
		if err != nil || isDigest(name) {
			return ImageReference{}, fmt.Errorf("%w: %s reference %q does not name a tagged image", ErrTagNotSupported, r.Transport, r.Name)
		}
		t, err := reference.WithTag(reference.TrimNamed(named), tag)
		if err != nil {
			return ImageReference{}, fmt.Errorf("%w: tag %q: %w", ErrInvalidReference, tag, err)
		}
		return ImageReference{Transport: r.Transport, Name: spec + t.String()}, nil
	case TransportOCI, TransportOCIArchive:
		path, _, _ := strings.Cut(r.Name, ":")
		return ImageReference{Transport: r.Transport, Name: path + ":" + tag}, nil
	default:
		return ImageReference{}, fmt.Errorf("%w: transport %s", ErrTagNotSupported, r.Transport)
	}
}
