package imgref

import (
	// Registers sha384 and sha512 with go-digest, which accepts only linked-in algorithms.
	_ "crypto/sha512"
	"fmt"
	"strings"

	godigest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
)

// parseDockerReference parses s with containers/image's docker/reference grammar, and
// accepts exactly what its "docker://" transport accepts (reference.ParseNormalizedNamed,
// which also refuses a bare 64-character hex image ID), but returns the name without that
// normalisation: a missing domain stays missing (it is not replaced by docker.io) and a
// one-component path does not get "library/" added.
func parseDockerReference(s string) (reference.Named, error) {
	if _, err := reference.ParseNormalizedNamed(s); err != nil {
		return nil, fmt.Errorf("docker reference %q: %w", s, digestProblem(s, err))
	}
	r, err := reference.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("docker reference %q: %w", s, err)
	}
	named, ok := r.(reference.Named)
	if !ok {
		return nil, fmt.Errorf("docker reference %q has no repository name", s)
	}
	return named, nil
}

// digestProblem returns, for a reference the library refused with err, a message naming
// its digest when the digest is what is wrong (the library says only "invalid reference
// format"), else err.
func digestProblem(s string, err error) error {
	_, d, ok := strings.Cut(s, "@")
	if !ok {
		return err
	}
	if _, derr := godigest.Parse(d); derr != nil {
		alg, _, _ := strings.Cut(d, ":")
		if a := godigest.Algorithm(alg); a.Available() {
			return fmt.Errorf("digest %q: %s needs %d lowercase hex digits: %w", d, alg, a.Size()*2, err)
		}
		return fmt.Errorf("digest %q: %w: %w", d, derr, err)
	}
	return err
}

// isDigest reports whether s is a digest "algorithm:hex" of an algorithm containers/image
// supports (sha256, sha384, sha512), as a docker-daemon or containers-storage image ID is.
func isDigest(s string) bool {
	_, err := godigest.Parse(s)
	return err == nil
}

// validateTag checks a Docker tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) with
// containers/image's grammar; errors wrap [ErrInvalidReference].
func validateTag(tag string) error {
	name, err := reference.WithName("tag")
	if err == nil {
		_, err = reference.WithTag(name, tag)
	}
	if err != nil {
		return fmt.Errorf("%w: tag %q: %w", ErrInvalidReference, tag, err)
	}
	return nil
}
