package storagetest

import (
	"context"
	"fmt"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

// Copy copies an image between two transport-qualified references with containers/image,
// accepting any image (no signature policy), e.g. to push a generated OCI layout to a test
// registry. sys applies to both ends (set DockerInsecureSkipTLSVerify for a plain-HTTP
// registry, BlobInfoCacheDir to keep the host's cache untouched).
func Copy(ctx context.Context, src, dst string, sys *types.SystemContext) error {
	srcRef, err := alltransports.ParseImageName(src)
	if err != nil {
		return fmt.Errorf("source %q: %w", src, err)
	}
	dstRef, err := alltransports.ParseImageName(dst)
	if err != nil {
		return fmt.Errorf("destination %q: %w", dst, err)
	}
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		return err
	}
	defer func() { _ = pc.Destroy() }()
	if _, err := copy.Image(ctx, pc, dstRef, srcRef, &copy.Options{SourceCtx: sys, DestinationCtx: sys}); err != nil {
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return nil
}
