package imgref

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error returned by this package's parsers wraps at
// least one of them, so callers can test with errors.Is.
var (
	// ErrInvalidReference reports a malformed image reference, ostree image
	// reference, Docker reference, digest, tag or ostree remote name.
	ErrInvalidReference = errors.New("invalid image reference")
	// ErrUnknownTransport reports a transport name or prefix that is not one of
	// the supported [Transport] values.
	ErrUnknownTransport = errors.New("unknown transport")
	// ErrUnknownScheme reports an ostree image reference whose leading
	// "ostree-..." signature scheme is not recognised.
	ErrUnknownScheme = errors.New("unknown ostree image reference scheme")
	// ErrTagNotSupported reports a request to replace the tag of an image
	// reference whose transport or name has no tag.
	ErrTagNotSupported = errors.New("image reference does not support tags")
	// ErrInvalidEscape reports a string that is not a valid escaped ostree ref
	// component, or a string that cannot be escaped into one.
	ErrInvalidEscape = errors.New("invalid escaped ref")
)

// Transport says where a container image is stored and how it is fetched.
// Its value is the bare name bootc uses on the command line (--transport) and
// in the "transport" field of bootc status; the zero value is invalid.
type Transport string

// The supported transports.
const (
	// TransportRegistry is a registry implementing the Docker Registry HTTP
	// API V2; prefix "docker://" (or "registry:").
	TransportRegistry Transport = "registry"
	// TransportOCI is an OCI image layout directory; prefix "oci:".
	TransportOCI Transport = "oci"
	// TransportOCIArchive is a tarball of an OCI image layout; prefix
	// "oci-archive:".
	TransportOCIArchive Transport = "oci-archive"
	// TransportContainersStorage is the local containers-storage store used by
	// podman; prefix "containers-storage:".
	TransportContainersStorage Transport = "containers-storage"
	// TransportDir is a directory of manifest and blob files; prefix "dir:".
	TransportDir Transport = "dir"
	// TransportDockerArchive is a "docker save" tarball; prefix
	// "docker-archive:".
	TransportDockerArchive Transport = "docker-archive"
	// TransportDockerDaemon is an image in the local Docker daemon; prefix
	// "docker-daemon:".
	TransportDockerDaemon Transport = "docker-daemon"
)

var allTransports = [...]Transport{
	TransportRegistry,
	TransportOCI,
	TransportOCIArchive,
	TransportContainersStorage,
	TransportDir,
	TransportDockerArchive,
	TransportDockerDaemon,
}

// Valid reports whether t is one of the supported transports.
func (t Transport) Valid() bool {
	for _, v := range allTransports {
		if t == v {
			return true
		}
	}
	return false
}

// String returns the bare bootc name of t, e.g. "registry" or "oci".
func (t Transport) String() string { return string(t) }

// Prefix returns the containers-image prefix printed before an image name of
// this transport: "docker://" for the registry transport, otherwise the bare
// name followed by a colon ("oci:", "containers-storage:", ...). It returns ""
// for an invalid transport.
func (t Transport) Prefix() string {
	switch {
	case t == TransportRegistry:
		return "docker://"
	case t.Valid():
		return string(t) + ":"
	default:
		return ""
	}
}

// MarshalText implements encoding.TextMarshaler, producing the bare name.
func (t Transport) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("%w %q", ErrUnknownTransport, string(t))
	}
	return []byte(t), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using [ParseTransport].
func (t *Transport) UnmarshalText(b []byte) error {
	v, err := ParseTransport(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// ParseTransport parses a transport given either by its bare bootc name
// ("registry", "oci", "oci-archive", "containers-storage", "dir",
// "docker-archive", "docker-daemon") or by its containers-image prefix
// ("docker://", "registry:", "oci:", ...). Anything else, including "docker"
// without "://", is an error wrapping [ErrUnknownTransport].
func ParseTransport(s string) (Transport, error) {
	if s == "docker://" {
		return TransportRegistry, nil
	}
	name := strings.TrimSuffix(s, ":")
	if t := Transport(name); t.Valid() {
		return t, nil
	}
	if name == "docker" {
		return "", fmt.Errorf("%w %q (use \"registry\" or \"docker://\")", ErrUnknownTransport, s)
	}
	return "", fmt.Errorf("%w %q", ErrUnknownTransport, s)
}

// splitTransport splits a containers-image style "TRANSPORT:NAME" string at
// its transport prefix. "docker:" must be followed by "//".
func splitTransport(s string) (Transport, string, error) {
	prefix, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("missing transport prefix (such as \"docker://\" or \"oci:\")")
	}
	if prefix == "docker" {
		name, ok := strings.CutPrefix(rest, "//")
		if !ok {
			return "", "", fmt.Errorf("missing \"//\" after \"docker:\"")
		}
		return TransportRegistry, name, nil
	}
	t := Transport(prefix)
	if !t.Valid() {
		return "", "", fmt.Errorf("%w %q", ErrUnknownTransport, prefix)
	}
	return t, rest, nil
}
