package imgref

import (
	"fmt"
	"strings"
)

// The signature schemes that start an ostree image reference.
const (
	// SchemeUnverifiedImage is ostree-unverified-image:TRANSPORT:NAME.
	SchemeUnverifiedImage = "ostree-unverified-image"
	// SchemeUnverifiedRegistry is ostree-unverified-registry:NAME, short for
	// ostree-unverified-image:registry:NAME.
	SchemeUnverifiedRegistry = "ostree-unverified-registry"
	// SchemeImageSigned is ostree-image-signed:TRANSPORT:NAME.
	SchemeImageSigned = "ostree-image-signed"
	// SchemeRemoteImage is ostree-remote-image:REMOTE:TRANSPORT:NAME.
	SchemeRemoteImage = "ostree-remote-image"
	// SchemeRemoteRegistry is ostree-remote-registry:REMOTE:NAME, short for
	// ostree-remote-image:REMOTE:registry:NAME.
	SchemeRemoteRegistry = "ostree-remote-registry"
)

// SigVerifyKind is the kind of signature verification of a
// [SignatureVerify]; the zero value is invalid.
type SigVerifyKind uint8

// The signature verification kinds, named after upstream's SignatureSource.
const (
	// SigVerifyInsecure (upstream ContainerPolicyAllowInsecure) uses
	// containers-policy.json as it is, whose default usually is
	// insecureAcceptAnything. Printed "ostree-unverified-image".
	SigVerifyInsecure SigVerifyKind = iota + 1
	// SigVerifyContainerPolicy defers to containers-policy.json but refuses a
	// default of insecureAcceptAnything. Printed "ostree-image-signed".
	SigVerifyContainerPolicy
	// SigVerifyOstreeRemote verifies the signature of the ostree commit
	// embedded in the image with the keys of an ostree remote. Printed
	// "ostree-remote-image:REMOTE".
	SigVerifyOstreeRemote
)

// String returns a short name of k: "insecure", "container-policy" or
// "ostree-remote".
func (k SigVerifyKind) String() string {
	switch k {
	case SigVerifyInsecure:
		return "insecure"
	case SigVerifyContainerPolicy:
		return "container-policy"
	case SigVerifyOstreeRemote:
		return "ostree-remote"
	default:
		return fmt.Sprintf("SigVerifyKind(%d)", uint8(k))
	}
}

// SignatureVerify says how the signature of an image is verified. Values
// are comparable with ==; build them with [Insecure], [ContainerPolicy] or
// [OstreeRemote].
type SignatureVerify struct {
	// Kind is the verification mechanism.
	Kind SigVerifyKind
	// Remote is the ostree remote name for [SigVerifyOstreeRemote], else "".
	Remote string
}

// Insecure returns the verification that uses containers-policy.json as it
// is (upstream ContainerPolicyAllowInsecure, "ostree-unverified-image").
func Insecure() SignatureVerify { return SignatureVerify{Kind: SigVerifyInsecure} }

// ContainerPolicy returns the verification that enforces
// containers-policy.json ("ostree-image-signed").
func ContainerPolicy() SignatureVerify { return SignatureVerify{Kind: SigVerifyContainerPolicy} }

// OstreeRemote returns the verification of the embedded ostree commit with
// the keys of the named ostree remote ("ostree-remote-image:REMOTE").
func OstreeRemote(remote string) SignatureVerify {
	return SignatureVerify{Kind: SigVerifyOstreeRemote, Remote: remote}
}

// String returns the scheme text of s as it appears before the image part of
// an ostree image reference: "ostree-unverified-image",
// "ostree-image-signed" or "ostree-remote-image:REMOTE".
func (s SignatureVerify) String() string {
	switch s.Kind {
	case SigVerifyInsecure:
		return SchemeUnverifiedImage
	case SigVerifyContainerPolicy:
		return SchemeImageSigned
	case SigVerifyOstreeRemote:
		return SchemeRemoteImage + ":" + s.Remote
	default:
		return fmt.Sprintf("invalid-signature-verification(%d)", uint8(s.Kind))
	}
}

// Validate checks that the kind is known and that Remote is set, as a valid
// ostree remote name (ASCII letters, digits, ".", "_" and "-"), exactly for
// [SigVerifyOstreeRemote]. Errors wrap [ErrInvalidReference].
func (s SignatureVerify) Validate() error {
	switch s.Kind {
	case SigVerifyInsecure, SigVerifyContainerPolicy:
		if s.Remote != "" {
			return fmt.Errorf("%w: ostree remote %q given for %s signature verification", ErrInvalidReference, s.Remote, s.Kind)
		}
		return nil
	case SigVerifyOstreeRemote:
		return ValidateRemoteName(s.Remote)
	default:
		return fmt.Errorf("%w: unknown signature verification kind %d", ErrInvalidReference, uint8(s.Kind))
	}
}

// ValidateRemoteName checks an ostree remote name: non-empty, made of ASCII
// letters, digits, ".", "_" and "-" (libostree's remote name syntax, limited
// to ASCII). Errors wrap [ErrInvalidReference].
func ValidateRemoteName(name string) error {
	if err := validateRemoteName(name); err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidReference, err)
	}
	return nil
}

func validateRemoteName(name string) error {
	if name == "" {
		return fmt.Errorf("empty ostree remote name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isASCIIAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("invalid character %q in ostree remote name %q", c, name)
		}
	}
	return nil
}

// OstreeImageReference is an image reference plus its signature
// verification: the value stored in ostree origin files as
// container-image-reference. Values are comparable with ==.
type OstreeImageReference struct {
	// Sigverify is how the image signature is verified.
	Sigverify SignatureVerify
	// Imgref is the container image.
	Imgref ImageReference
}

// Parse parses an ostree image reference:
//
//	ostree-unverified-registry:NAME
//	ostree-unverified-image:TRANSPORT:NAME
//	ostree-image-signed:TRANSPORT:NAME
//	ostree-remote-image:REMOTE:TRANSPORT:NAME
//	ostree-remote-registry:REMOTE:NAME
//
// where TRANSPORT:NAME is accepted by [ParseImageReference] (so
// "docker://quay.io/x", "registry:quay.io/x" and "oci:/srv/layout:tag" all
// work). Errors wrap [ErrInvalidReference], plus [ErrUnknownScheme] or
// [ErrUnknownTransport] where they apply.
func Parse(s string) (OstreeImageReference, error) {
	r, err := parse(s)
	if err != nil {
		return OstreeImageReference{}, fmt.Errorf("%w %q: %w", ErrInvalidReference, s, err)
	}
	return r, nil
}

func parse(s string) (OstreeImageReference, error) {
	var r OstreeImageReference
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return r, fmt.Errorf("missing \":\" after the ostree-... scheme")
	}
	var (
		remote   string
		registry bool // rest is a bare registry name
	)
	switch scheme {
	case SchemeUnverifiedImage:
		r.Sigverify = Insecure()
	case SchemeUnverifiedRegistry:
		r.Sigverify = Insecure()
		registry = true
	case SchemeImageSigned:
		r.Sigverify = ContainerPolicy()
	case SchemeRemoteImage, SchemeRemoteRegistry:
		remote, rest, ok = strings.Cut(rest, ":")
		if !ok {
			return r, fmt.Errorf("missing \":\" after the ostree remote name")
		}
		if err := validateRemoteName(remote); err != nil {
			return r, err
		}
		r.Sigverify = OstreeRemote(remote)
		registry = scheme == SchemeRemoteRegistry
	default:
		return r, fmt.Errorf("%w %q", ErrUnknownScheme, scheme)
	}
	if registry {
		r.Imgref = ImageReference{Transport: TransportRegistry, Name: rest}
		if err := r.Imgref.validate(); err != nil {
			return OstreeImageReference{}, err
		}
		return r, nil
	}
	t, name, err := splitTransport(rest)
	if err != nil {
		return OstreeImageReference{}, err
	}
	r.Imgref = ImageReference{Transport: t, Name: name}
	if err := r.Imgref.validate(); err != nil {
		return OstreeImageReference{}, err
	}
	return r, nil
}

// String returns upstream's display form: "ostree-unverified-registry:NAME"
// for an insecure registry reference, otherwise
// "SIGVERIFY:TRANSPORT-PREFIX NAME", e.g.
// "ostree-remote-image:myremote:docker://quay.io/exampleos/blah",
// "ostree-image-signed:docker://quay.io/x" or
// "ostree-unverified-image:containers-storage:localhost/bootc".
// [Parse] turns the result back into an equal value.
func (r OstreeImageReference) String() string {
	if r.Sigverify.Kind == SigVerifyInsecure && r.Imgref.Transport == TransportRegistry {
		return SchemeUnverifiedRegistry + ":" + r.Imgref.Name
	}
	return r.Sigverify.String() + ":" + r.Imgref.String()
}

// Validate checks both the signature verification and the image reference.
// Errors wrap [ErrInvalidReference].
func (r OstreeImageReference) Validate() error {
	if err := r.Sigverify.Validate(); err != nil {
		return err
	}
	return r.Imgref.Validate()
}

// MarshalText implements encoding.TextMarshaler using
// [OstreeImageReference.String]; an invalid reference is an error.
func (r OstreeImageReference) MarshalText() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using [Parse].
func (r *OstreeImageReference) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Canonicalize applies [ImageReference.Canonicalize] to the image part.
func (r OstreeImageReference) Canonicalize() (OstreeImageReference, error) {
	img, err := r.Imgref.Canonicalize()
	if err != nil {
		return OstreeImageReference{}, err
	}
	return OstreeImageReference{Sigverify: r.Sigverify, Imgref: img}, nil
}

// WithTag applies [ImageReference.WithTag] to the image part, keeping the
// signature verification.
func (r OstreeImageReference) WithTag(tag string) (OstreeImageReference, error) {
	img, err := r.Imgref.WithTag(tag)
	if err != nil {
		return OstreeImageReference{}, err
	}
	return OstreeImageReference{Sigverify: r.Sigverify, Imgref: img}, nil
}

// IsOstreeImageReference reports whether s starts with one of the five
// "ostree-...:" schemes, i.e. whether it is meant as a full ostree image
// reference rather than a bare image name. It does not validate the rest.
func IsOstreeImageReference(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	switch scheme {
	case SchemeUnverifiedImage, SchemeUnverifiedRegistry, SchemeImageSigned, SchemeRemoteImage, SchemeRemoteRegistry:
		return true
	}
	return false
}

// FromCLI builds the reference bootc uses for "bootc switch [--transport
// TRANSPORT] [--enforce-container-sigpolicy] NAME" (also install's
// --target-imgref): transport is a bare name or prefix accepted by
// [ParseTransport], "" meaning registry; the verification is
// [ContainerPolicy] when enforceSigPolicy is set, else [Insecure].
//
// If name already is a full ostree image reference ([IsOstreeImageReference])
// it is parsed with [Parse] and used as it is. It is then an error to also
// ask for a transport other than registry, or for enforceSigPolicy with an
// ostree-unverified-... reference, since those requests would be ignored.
func FromCLI(name, transport string, enforceSigPolicy bool) (OstreeImageReference, error) {
	t := TransportRegistry
	if transport != "" {
		var err error
		if t, err = ParseTransport(transport); err != nil {
			return OstreeImageReference{}, fmt.Errorf("%w: --transport: %w", ErrInvalidReference, err)
		}
	}
	if IsOstreeImageReference(name) {
		r, err := Parse(name)
		if err != nil {
			return OstreeImageReference{}, err
		}
		if t != TransportRegistry {
			return OstreeImageReference{}, fmt.Errorf("%w %q: a full ostree image reference cannot be combined with transport %q", ErrInvalidReference, name, transport)
		}
		if enforceSigPolicy && r.Sigverify.Kind == SigVerifyInsecure {
			return OstreeImageReference{}, fmt.Errorf("%w %q: an unverified ostree image reference cannot be combined with enforcing the container signature policy", ErrInvalidReference, name)
		}
		return r, nil
	}
	sig := Insecure()
	if enforceSigPolicy {
		sig = ContainerPolicy()
	}
	img, err := NewImageReference(t, name)
	if err != nil {
		return OstreeImageReference{}, err
	}
	return OstreeImageReference{Sigverify: sig, Imgref: img}, nil
}
