// Package imgref parses and prints container image references in exactly the
// forms upstream bootc and ostree-ext accept and write, and maps them to ostree
// ref names with the same escaping as ostree-ext's refescape module.
//
// # Layers of a reference
//
// A [Transport] names where an image lives: a registry (printed "docker://"),
// an OCI layout directory ("oci:"), an OCI archive ("oci-archive:"), the local
// containers-storage ("containers-storage:"), a "dir:" directory, a Docker
// archive ("docker-archive:") or the Docker daemon ("docker-daemon:"). The bootc
// command line and the bootc status document use the bare names ("registry",
// "oci", ...) returned by [Transport.String]; containers/image uses the prefixes
// returned by [Transport.Prefix].
//
// An [ImageReference] is a transport plus a transport-specific name, e.g.
// {registry, "quay.io/fedora/fedora-bootc:42"}, printed containers-image style
// as "docker://quay.io/fedora/fedora-bootc:42".
//
// An [OstreeImageReference] adds how signatures are verified
// ([SignatureVerify]). Its textual forms are those stored in ostree deployment
// origin files ("container-image-reference=..."):
//
//	ostree-unverified-registry:NAME                  (= ostree-unverified-image:registry:NAME)
//	ostree-unverified-image:TRANSPORT:NAME           (policy.json as-is)
//	ostree-image-signed:TRANSPORT:NAME               (policy.json, refusing insecureAcceptAnything)
//	ostree-remote-image:REMOTE:TRANSPORT:NAME        (ostree commit signature, ostree remote REMOTE)
//	ostree-remote-registry:REMOTE:NAME               (= ostree-remote-image:REMOTE:registry:NAME)
//
// where TRANSPORT:NAME is a containers-image style reference such as
// "docker://quay.io/x", "registry:quay.io/x" or "oci:/srv/layout:tag".
// [OstreeImageReference.String] prints upstream's display form, which
// [Parse] reads back to an equal value.
//
// # Validation
//
// Parsing is stricter than upstream, which leaves most checking to skopeo:
// names must be non-empty valid UTF-8 without white space or control
// characters; registry (and docker-daemon) names must be valid Docker
// references in containers/image's docker/reference grammar, without
// its docker.io normalisation; path based transports need a
// non-empty path. Errors wrap the sentinels [ErrInvalidReference],
// [ErrUnknownTransport] and [ErrUnknownScheme], usable with errors.Is.
//
// # ostree refs
//
// Imported images are recorded in the ostree repository under refs built by
// [BlobRef] ("ostree/container/blob/<escaped layer digest>") and [ImageRef]
// ("ostree/container/image/<escaped ImageReference.String()>"). The escaping
// ([EscapeRef], [UnescapeRef]) is byte-for-byte the one of ostree-ext, so refs
// written by upstream bootc or rpm-ostree are found by this package and the
// other way round.
//
// The package uses only the Go standard library.
package imgref
