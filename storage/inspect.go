package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

// RemoteImage describes an image at its source, read without fetching any layer: the manifest
// (one request; two when the reference names a manifest list) and the config blob.
type RemoteImage struct {
	// Reference is the transport-qualified source reference.
	Reference string
	// ManifestDigest is the digest of the image manifest (for a manifest list, of the instance
	// chosen for the requested architecture).
	ManifestDigest digest.Digest
	// ListDigest is the digest of the manifest list the image was chosen from, if any.
	ListDigest digest.Digest
	// ListManifest is that manifest list, raw, if any.
	ListManifest []byte
	// Manifest is the raw image manifest, exactly as served.
	Manifest []byte
	// ManifestMIMEType is the manifest's media type.
	ManifestMIMEType string
	// ConfigDigest is the digest of the config blob (the image ID in containers-storage).
	ConfigDigest digest.Digest
	// ConfigSize is the size of the config blob.
	ConfigSize int64
	// Config is the raw config blob.
	Config []byte
	// OCIConfig is the parsed config (architecture, os, labels, created, rootfs.diff_ids; a
	// Docker schema2 config is converted).
	OCIConfig *imgspecv1.Image
	// Layers lists the layers, base first.
	Layers []RemoteLayer
}

// RemoteLayer is one layer of a RemoteImage.
type RemoteLayer struct {
	// Digest is the digest of the blob as listed in the manifest (compressed, usually).
	Digest digest.Digest
	// Size is the blob size from the manifest, -1 if unknown.
	Size int64
	// MediaType is the blob's media type from the manifest.
	MediaType string
	// DiffID is the digest of the uncompressed layer tar, from the config's rootfs.diff_ids.
	DiffID digest.Digest
}

// CheckArchitecture returns an error wrapping ErrArchitecture when cfg describes an image for
// another architecture than arch (empty arch: runtime.GOARCH). name identifies the image in
// the message.
func CheckArchitecture(name string, cfg *imgspecv1.Image, arch string) error {
	if arch == "" {
		arch = runtime.GOARCH
	}
	if cfg == nil {
		return fmt.Errorf("image %s has no config to read its architecture from: %w", name, ErrArchitecture)
	}
	if cfg.Architecture != arch {
		return fmt.Errorf("image %s is for architecture %q, but this system needs %q: %w", name, cfg.Architecture, arch, ErrArchitecture)
	}
	return nil
}

// CheckArchitecture returns an error wrapping ErrArchitecture when the image is for another
// architecture than arch (empty: runtime.GOARCH).
func (r *RemoteImage) CheckArchitecture(arch string) error {
	return CheckArchitecture(r.Reference, r.OCIConfig, arch)
}

// Inspect reads the manifest and config of the image named by o.Source (all transports except
// containers-storage, which needs a Store: use (*Store).Inspect). Nothing is written anywhere.
// Only o.Source, o.Architecture, o.AuthFile, o.RegistriesConf and o.UserAgent are used.
func Inspect(ctx context.Context, o PullOptions) (*RemoteImage, error) {
	var s *Store
	return s.Inspect(ctx, o)
}

// Inspect reads the manifest and config of the image named by o.Source without fetching any
// layer and without writing to the store; a containers-storage source is read in this store.
// It does not check the architecture (see RemoteImage.CheckArchitecture) nor the signature
// policy. s may be nil (see the package-level Inspect).
func (s *Store) Inspect(ctx context.Context, o PullOptions) (*RemoteImage, error) {
	if s != nil {
		if err := s.check(ctx); err != nil {
			return nil, err
		}
	}
	src, release, err := s.openSource(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer release()
	sys := s.systemContext(&o)
	return inspectRef(ctx, src.ref, sys)
}

// inspectRef opens ref and reads its manifest (choosing the instance for sys's architecture in
// a manifest list) and config.
func inspectRef(ctx context.Context, ref types.ImageReference, sys *types.SystemContext) (*RemoteImage, error) {
	name := transports.ImageName(ref)
	is, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return nil, fmt.Errorf("opening image %s: %w", name, err)
	}
	defer is.Close()

	ri, _, _, err := readImage(ctx, is, name, sys)
	return ri, err
}

// parseOCIConfig parses a config blob (OCI or Docker schema2: the fields used here have the
// same JSON names in both).
func parseOCIConfig(raw []byte) (*imgspecv1.Image, error) {
	if len(raw) == 0 {
		return nil, errors.New("empty config")
	}
	var cfg imgspecv1.Image
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}
