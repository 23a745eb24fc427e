package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"go.podman.io/image/v5/docker/reference"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

// storageTransportName is the name of the containers-storage transport.
const storageTransportName = "containers-storage"

// csSpec is a parsed containers-storage reference:
// containers-storage:[driver@graphroot+runroot:options]name.
type csSpec struct {
	hasStore  bool
	driver    string
	graphRoot string
	runRoot   string
	options   []string
	name      string // the reference within the store: name[:tag][@digest], ID, or @ID
}

// parseCSSpec parses what follows "containers-storage:" without opening any store (unlike
// containers/image's transport, which opens the default store as a side effect).
func parseCSSpec(within string) (*csSpec, error) {
	sp := &csSpec{name: within}
	if !strings.HasPrefix(within, "[") {
		return sp, nil
	}
	end := strings.IndexByte(within, ']')
	if end < 1 {
		return nil, fmt.Errorf("store specification in %q is not closed by ']'", within)
	}
	spec := within[1:end]
	sp.name = within[end+1:]
	sp.hasStore = true
	if d, rest, ok := strings.Cut(spec, "@"); ok {
		if d == "" || rest == "" {
			return nil, fmt.Errorf("invalid store specification %q", within[:end+1])
		}
		sp.driver, spec = d, rest
	}
	spec, opts, ok := strings.Cut(spec, ":")
	if ok {
		sp.options = strings.Split(opts, ",")
	}
	sp.graphRoot, sp.runRoot, _ = strings.Cut(spec, "+")
	for _, p := range []string{sp.graphRoot, sp.runRoot} {
		if p != "" && !filepath.IsAbs(p) {
			return nil, fmt.Errorf("store path %q in %q is not absolute", p, within[:end+1])
		}
	}
	return sp, nil
}

// sameStore reports whether sp names the store s (or no store at all, which means s).
func (sp *csSpec) sameStore(s *Store) bool {
	if !sp.hasStore || sp.graphRoot == "" {
		return true
	}
	if filepath.Clean(sp.graphRoot) != s.store.GraphRoot() {
		return false
	}
	return sp.driver == "" || sp.driver == s.store.GraphDriverName()
}

// source is a resolved pull source.
type source struct {
	raw string
	// ref is the containers/image reference to read from.
	ref types.ImageReference
	// inPlace is set when ref names an image of this very store.
	inPlace bool
	// cleanup releases resources (another store opened for a containers-storage source).
	cleanup func() error
}

// parseTransport splits a transport-qualified image reference and checks that the transport
// is known.
func parseTransport(raw string) (name, within string, err error) {
	name, within, ok := strings.Cut(raw, ":")
	if !ok || name == "" {
		return "", "", fmt.Errorf("image reference %q: no transport (expected TRANSPORT:NAME, e.g. docker://quay.io/x/y:tag, oci:/path:tag): %w", raw, ErrUnknownTransport)
	}
	if transports.Get(name) == nil {
		known := transports.ListNames()
		slices.Sort(known)
		return "", "", fmt.Errorf("image reference %q: transport %q (known: %s): %w", raw, name, strings.Join(known, ", "), ErrUnknownTransport)
	}
	return name, within, nil
}

// resolveSource parses raw, unless parsed (not nil) is raw already parsed by the caller. A
// containers-storage reference is always resolved here: against this store (inPlace) or,
// when it names another store, against that store opened for the duration.
func (s *Store) resolveSource(ctx context.Context, raw string, parsed types.ImageReference) (*source, error) {
	if parsed != nil && parsed.Transport().Name() != storageTransportName {
		return &source{raw: raw, ref: parsed}, nil
	}
	name, within, err := parseTransport(raw)
	if err != nil {
		return nil, err
	}
	if name != storageTransportName {
		ref, err := alltransports.ParseImageName(raw)
		if err != nil {
			return nil, fmt.Errorf("image reference %q: %w", raw, err)
		}
		return &source{raw: raw, ref: ref}, nil
	}
	sp, err := parseCSSpec(within)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", raw, err)
	}
	if s != nil && sp.sameStore(s) {
		ref, err := istorage.Transport.ParseStoreReference(s.store, sp.name)
		if err != nil {
			return nil, fmt.Errorf("image reference %q: %w", raw, err)
		}
		return &source{raw: raw, ref: ref, inPlace: true}, nil
	}
	if !sp.hasStore || sp.graphRoot == "" {
		return nil, fmt.Errorf("image reference %q: a containers-storage reference needs an open store, or a [driver@graphroot+runroot] store specification", raw)
	}
	other, err := Open(ctx, Options{Root: sp.graphRoot, RunRoot: sp.runRoot, Driver: sp.driver, DriverOptions: sp.options, Log: *s.logger()})
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", raw, err)
	}
	ref, err := istorage.Transport.ParseStoreReference(other.store, sp.name)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("image reference %q: %w", raw, err), other.Close())
	}
	return &source{raw: raw, ref: ref, cleanup: other.Close}, nil
}

// close runs the source's cleanup, if any.
func (src *source) close() error {
	if src.cleanup == nil {
		return nil
	}
	return src.cleanup()
}

// openSource resolves o's source as resolveSource does and returns it with a release
// function that closes it, logging a failure to close as a warning; the caller defers
// release. s may be nil.
func (s *Store) openSource(ctx context.Context, o *PullOptions) (src *source, release func(), err error) {
	src, err = s.resolveSource(ctx, o.source(), o.SourceRef)
	if err != nil {
		return nil, nil, err
	}
	release = func() {
		if err := src.close(); err != nil {
			s.logger().Warn().Err(err).Str("image", o.Source).Msg("closing source store")
		}
	}
	return src, release, nil
}

// destinationName is the name under which an image read from ref is stored: the explicit
// name if given, else the source's Docker reference, else a name generated from the source
// reference: localhost/bootc/<transport>:<hash of the reference>.
func destinationName(ref types.ImageReference, explicit string) (reference.Named, error) {
	if explicit != "" {
		named, err := reference.ParseNormalizedNamed(explicit)
		if err != nil {
			return nil, fmt.Errorf("image name %q: %w", explicit, err)
		}
		return reference.TagNameOnly(named), nil
	}
	if named := ref.DockerReference(); named != nil {
		return named, nil
	}
	sum := sha256.Sum256([]byte(transports.ImageName(ref)))
	name := fmt.Sprintf("localhost/bootc/%s:%s", ref.Transport().Name(), hex.EncodeToString(sum[:])[:16])
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil, fmt.Errorf("generated image name %q: %w", name, err)
	}
	return named, nil
}
