package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/pkg/blobinfocache"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage/pkg/configfile"
	sttypes "go.podman.io/storage/types"

	"github.com/bootc-go/bootc/internal/progress"
)

// DefaultMaxParallelDownloads is the number of blobs fetched concurrently when
// PullOptions.MaxParallelDownloads is 0.
const DefaultMaxParallelDownloads = 6

// DefaultProgressInterval is the interval between byte-count progress events when
// PullOptions.ProgressInterval is 0.
const DefaultProgressInterval = 200 * time.Millisecond

// OstreeAuthFiles are the authentication files upstream bootc reads as root, in order; the
// first that exists is used. When none exists (or when not running as root), containers/image's
// defaults apply: ${XDG_RUNTIME_DIR}/containers/auth.json (/run/containers/0/auth.json for
// root), then ~/.docker/config.json.
var OstreeAuthFiles = []string{"/run/ostree/auth.json", "/etc/ostree/auth.json", "/usr/lib/ostree/auth.json"}

// PullOptions says what to pull and how. Only Source is required.
type PullOptions struct {
	// Source is a transport-qualified containers/image reference: "docker://quay.io/x/y:tag",
	// "oci:/path:tag", "oci-archive:/p.tar", "containers-storage:localhost/x", "dir:/p",
	// "docker-archive:/p.tar". (Upstream's ostree-unverified-registry: forms are translated
	// by internal/imgref, not here.) A containers-storage reference without a store
	// specification, or with this store's, is read in place and never copied.
	Source string
	// SourceRef, if set, is Source as the caller already parsed it (it must name the same
	// image; Source is then used in messages only), so that it is not parsed again here. It
	// is not used for a containers-storage Source, which is resolved against the store.
	SourceRef types.ImageReference
	// Name is the name the pulled image gets in the store. Empty: the source's Docker
	// reference (registry/repo:tag), else localhost/bootc/<transport>:<hash of Source>.
	Name string
	// SignaturePolicy is the path of a policy.json. Empty: containers' default
	// ($CONTAINERS_POLICY_JSON, ~/.config/containers/policy.json, /etc/containers/policy.json);
	// when none of those exists, anything is accepted and a warning is logged. An explicit path
	// must exist.
	SignaturePolicy string
	// RequireSignedPolicy refuses the pull (ErrInsecurePolicy) when the policy's default
	// requirement is insecureAcceptAnything, as upstream does for ostree-image-signed:.
	RequireSignedPolicy bool
	// AuthFile overrides the registry authentication file. Empty: the first existing of
	// OstreeAuthFiles when running as root, else containers/image's defaults.
	AuthFile string
	// RegistriesConf is the path of a registries.conf replacing the system's
	// (/etc/containers/registries.conf); the drop-in directory "<RegistriesConf>.d" replaces
	// /etc/containers/registries.conf.d. Mirrors and insecure registries come from there.
	RegistriesConf string
	// Progress, if set, receives progress events, from a single goroutine, in order. It must
	// return quickly: the copy waits for it.
	Progress func(ProgressEvent)
	// ProgressInterval is the minimum interval between two ProgressBytes events for a blob.
	// Zero: DefaultProgressInterval.
	ProgressInterval time.Duration
	// MaxParallelDownloads is the number of blobs fetched at the same time. Zero:
	// DefaultMaxParallelDownloads.
	MaxParallelDownloads uint
	// Architecture is the architecture to pull (from a manifest list) and to require of the
	// image. Empty: runtime.GOARCH.
	Architecture string
	// UserAgent is sent to registries. Empty: "bootc/<version of this binary>".
	UserAgent string
	// SourceStore, if set, is the store specification ("[driver@graphroot+runroot]") a
	// containers-storage: Source naming no store is read in: the host's podman store (see
	// HostStoreSpec) when the store opened is another one (an offline sysroot's cache).
	SourceStore string
}

// source returns o.Source with SourceStore applied.
func (o *PullOptions) source() string {
	rest, ok := strings.CutPrefix(o.Source, storageTransportName+":")
	if !ok || o.SourceStore == "" || strings.HasPrefix(rest, "[") {
		return o.Source
	}
	return storageTransportName + ":" + o.SourceStore + rest
}

// HostStoreSpec is the store specification of the host's store as storage.conf
// configures it ("[overlay@/var/lib/containers/storage+/run/containers/storage]"), for
// PullOptions.SourceStore.
func HostStoreSpec() (string, error) {
	conf, err := sttypes.LoadStoreOptions(sttypes.LoadOptions{})
	if err != nil {
		return "", fmt.Errorf("reading storage.conf: %w", err)
	}
	driver := conf.GraphDriverName
	if driver == "" {
		driver = "overlay"
	}
	return "[" + driver + "@" + conf.GraphRoot + "+" + conf.RunRoot + "]", nil
}

// architecture returns the requested architecture.
func (o *PullOptions) architecture() string {
	if o.Architecture != "" {
		return o.Architecture
	}
	return runtime.GOARCH
}

// userAgent returns the User-Agent to send to registries.
func (o *PullOptions) userAgent() string {
	if o.UserAgent != "" {
		return o.UserAgent
	}
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "bootc/" + v
}

// ostreeAuthFile returns the first of OstreeAuthFiles (below prefix) that exists when euid is 0,
// else "".
func ostreeAuthFile(prefix string, euid int) string {
	if euid != 0 {
		return ""
	}
	for _, p := range OstreeAuthFiles {
		if _, err := os.Stat(prefix + p); err == nil {
			return prefix + p
		}
	}
	return ""
}

// logger returns the store's logger; a nil Store logs nothing.
func (s *Store) logger() *zerolog.Logger {
	if s == nil {
		l := zerolog.Nop()
		return &l
	}
	return &s.log
}

// systemContext builds the containers/image SystemContext for o.
func (s *Store) systemContext(o *PullOptions) *types.SystemContext {
	sys := &types.SystemContext{
		ArchitectureChoice:      o.architecture(),
		DockerRegistryUserAgent: o.userAgent(),
		AuthFilePath:            o.AuthFile,
		SignaturePolicyPath:     o.SignaturePolicy,
	}
	if sys.AuthFilePath == "" {
		sys.AuthFilePath = ostreeAuthFile("", os.Geteuid())
	}
	if o.RegistriesConf != "" {
		sys.SystemRegistriesConfPath = o.RegistriesConf
		sys.SystemRegistriesConfDirPath = o.RegistriesConf + ".d"
	}
	if s != nil {
		sys.BlobInfoCacheDir = s.blobInfoCacheDir
		sys.BigFilesTemporaryDir = s.tempDir
	}
	return sys
}

// loadPolicy returns the signature policy for o (see PullOptions.SignaturePolicy).
func (s *Store) loadPolicy(o *PullOptions, sys *types.SystemContext) (*signature.Policy, error) {
	if o.SignaturePolicy != "" {
		p, err := signature.NewPolicyFromFile(o.SignaturePolicy)
		if err != nil {
			return nil, fmt.Errorf("signature policy %s: %w", o.SignaturePolicy, err)
		}
		return p, nil
	}
	p, err := signature.DefaultPolicy(sys)
	if err == nil {
		return p, nil
	}
	if errors.Is(err, configfile.ErrConfigFileNotFound) || errors.Is(err, fs.ErrNotExist) {
		s.logger().Warn().Err(err).Msg("no containers signature policy (policy.json) found; accepting any image without signature verification")
		return &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}, nil
	}
	return nil, fmt.Errorf("signature policy: %w", err)
}

// policyIsInsecure reports whether every requirement of the policy's default is
// insecureAcceptAnything (so that unsigned images are accepted by default).
func policyIsInsecure(p *signature.Policy) (bool, error) {
	if len(p.Default) == 0 {
		return true, nil
	}
	for _, req := range p.Default {
		b, err := json.Marshal(req)
		if err != nil {
			return false, err
		}
		var t struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &t); err != nil {
			return false, err
		}
		if t.Type != "insecureAcceptAnything" {
			return false, nil
		}
	}
	return true, nil
}

// policyContext loads the policy and returns its evaluation context; the caller destroys it.
func (s *Store) policyContext(o *PullOptions, sys *types.SystemContext) (*signature.PolicyContext, error) {
	policy, err := s.loadPolicy(o, sys)
	if err != nil {
		return nil, err
	}
	if o.RequireSignedPolicy {
		insecure, err := policyIsInsecure(policy)
		if err != nil {
			return nil, fmt.Errorf("signature policy: %w", err)
		}
		if insecure {
			where := o.SignaturePolicy
			if where == "" {
				where = "the containers policy.json"
			}
			return nil, fmt.Errorf("pulling %s: a signed image is required but the default of %s is insecureAcceptAnything: %w", o.Source, where, ErrInsecurePolicy)
		}
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		return nil, fmt.Errorf("signature policy: %w", err)
	}
	return pc, nil
}

// Pull copies the image named by o.Source into the store and returns it.
//
// In order, before anything is written: the source reference is parsed (unknown transports
// are refused); the signature policy is loaded (and, with RequireSignedPolicy, refused if it
// accepts unsigned images); a containers-storage source naming an image of this store is
// resolved, checked against the policy and the architecture, and returned as is, without
// copying; the manifest and config are read; the architecture is checked; the size of the
// blobs the store lacks is compared with the free space (see checkFreeSpace). Then
// containers/image copies the image, evaluating the signature policy, fetching up to
// MaxParallelDownloads blobs at a time, and skipping layers the store already has: by blob
// digest, by uncompressed digest (blobs from containers-storage), or by a diff ID that the
// blob info cache verified earlier for that blob. containers/image does not reuse a layer on
// the word of the config's diff IDs alone, so the same layer recompressed differently is
// fetched again. A failed pull leaves no image behind; layers it already committed stay,
// unreferenced, and are reused by the next attempt.
//
// Images created by Pull are marked as pulled by bootc (see PulledKey), which is what Prune
// deletes; an image that existed before (built or pulled by podman) is never marked.
func (s *Store) Pull(ctx context.Context, o PullOptions) (*Image, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	src, release, err := s.openSource(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer release()
	sys := s.systemContext(&o)
	pc, err := s.policyContext(&o, sys)
	if err != nil {
		return nil, err
	}
	defer func() { _ = pc.Destroy() }()
	if src.inPlace {
		return s.inPlace(ctx, src, pc, sys, o.architecture())
	}

	ri, err := inspectRef(ctx, src.ref, sys)
	if err != nil {
		return nil, err
	}
	if err := ri.CheckArchitecture(o.architecture()); err != nil {
		return nil, err
	}
	if err := s.checkFreeSpace(ri, sys); err != nil {
		return nil, err
	}

	named, err := destinationName(src.ref, o.Name)
	if err != nil {
		return nil, err
	}
	destRef, err := istorage.Transport.NewStoreReference(s.store, named, "")
	if err != nil {
		return nil, fmt.Errorf("storage reference for %s: %w", named, err)
	}
	before, err := s.imageIDs()
	if err != nil {
		return nil, err
	}

	tracker := newPullTracker(ri)
	progress := make(chan types.ProgressProperties, 16)
	consumed := make(chan struct{})
	interval := o.ProgressInterval
	if interval <= 0 {
		interval = DefaultProgressInterval
	}
	go func() {
		defer close(consumed)
		f := progressFilter{interval: interval, last: map[digest.Digest]time.Time{}, applying: map[digest.Digest]bool{}}
		for p := range progress {
			ev := tracker.observe(p)
			if o.Progress != nil {
				f.forward(ev, o.Progress)
			}
		}
	}()
	parallel := o.MaxParallelDownloads
	if parallel == 0 {
		parallel = DefaultMaxParallelDownloads
	}
	var resolved types.ImageReference
	copyOpts := &copy.Options{
		SourceCtx:      sys,
		DestinationCtx: sys,
		Progress:       progress,
		// Every read is reported (progressFilter rate-limits them): the last one says that
		// the whole layer was read, when containers-storage starts applying it.
		ProgressInterval:        copyProgressInterval,
		MaxParallelDownloads:    parallel,
		ReportResolvedReference: &resolved,
	}
	s.log.Debug().Str("image", o.Source).Str("name", named.String()).Str("manifest", ri.ManifestDigest.String()).Msg("pulling")
	_, copyErr := copy.Image(ctx, pc, destRef, src.ref, copyOpts)
	close(progress)
	<-consumed
	if copyErr != nil {
		return nil, tracker.blame(o.Source, copyErr)
	}
	if resolved == nil {
		resolved = destRef
	}
	_, simg, err := istorage.ResolveReference(resolved)
	if err != nil {
		return nil, fmt.Errorf("pulled %s but cannot find it in the store: %w", o.Source, err)
	}
	if !slices.Contains(before, simg.ID) {
		err = s.markPulled(simg.ID, o.Source, []string{named.String()})
	} else {
		err = s.recordNames(simg.ID, named.String())
	}
	if err != nil {
		return nil, err
	}
	id := simg.ID
	if simg, err = s.store.Image(id); err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	img, err := s.loadImage(simg)
	if err != nil {
		return nil, err
	}
	report := tracker.report()
	img.Report = &report
	if img.ConfigDigest != ri.ConfigDigest {
		s.log.Info().Str("image", o.Source).Str("inspected", ri.ConfigDigest.String()).Str("pulled", img.ConfigDigest.String()).Msg("the image changed at its source during the pull")
	}
	return img, nil
}

// inPlace resolves a containers-storage reference to this store's image without copying, and
// checks it against the signature policy (signatures stored with the image are used) and the
// architecture.
func (s *Store) inPlace(ctx context.Context, src *source, pc *signature.PolicyContext, sys *types.SystemContext, arch string) (*Image, error) {
	resolved, simg, err := istorage.ResolveReference(src.ref)
	if err != nil {
		if errors.Is(err, istorage.ErrNoSuchImage) {
			return nil, fmt.Errorf("image %s is not in containers-storage at %s: %w", src.raw, s.store.GraphRoot(), ErrImageNotFound)
		}
		return nil, fmt.Errorf("image %s: %w", src.raw, err)
	}
	is, err := resolved.NewImageSource(ctx, sys)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src.raw, err)
	}
	_, err = pc.IsRunningImageAllowed(ctx, image.UnparsedInstance(is, nil))
	is.Close()
	if err != nil {
		return nil, fmt.Errorf("image %s (%s) rejected by the signature policy: %w", src.raw, simg.ID, err)
	}
	img, err := s.loadImage(simg)
	if err != nil {
		return nil, err
	}
	if err := CheckArchitecture(src.raw, img.OCIConfig, arch); err != nil {
		return nil, err
	}
	img.Report = &PullReport{InPlace: true}
	return img, nil
}

// imageIDs lists the IDs of the images in the store.
func (s *Store) imageIDs() ([]string, error) {
	imgs, err := s.store.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images in %s: %w", s.store.GraphRoot(), err)
	}
	ids := make([]string, 0, len(imgs))
	for _, i := range imgs {
		ids = append(ids, i.ID)
	}
	return ids, nil
}

// checkFreeSpace refuses (ErrInsufficientSpace) when the blobs of ri not yet in the store do
// not fit: containers/image stages each fetched blob in the temporary directory, then the
// store extracts it into the graph root, so both need the blobs' compressed size (twice that
// when they share a filesystem). Compressed sizes make this a lower bound: extracted layers
// are bigger.
func (s *Store) checkFreeSpace(ri *RemoteImage, sys *types.SystemContext) error {
	need := uint64(0)
	if ri.ConfigSize > 0 {
		need += uint64(ri.ConfigSize)
	}
	missing := 0
	bic := blobinfocache.DefaultCache(sys)
	for _, l := range ri.Layers {
		if s.hasLayer(l.Digest, bic) {
			continue
		}
		missing++
		if l.Size > 0 {
			need += uint64(l.Size)
		}
	}
	root := s.store.GraphRoot()
	type check struct {
		path string
		need uint64
	}
	checks := []check{{root, need}, {s.tempDir, need}}
	if sameFilesystem(root, s.tempDir) {
		checks = []check{{root, 2 * need}}
	}
	for _, c := range checks {
		avail, err := s.freeSpace(c.path)
		if err != nil {
			return fmt.Errorf("free space of %s: %w", c.path, err)
		}
		s.log.Debug().Str("image", ri.Reference).Str("path", c.path).Int("layers", len(ri.Layers)).Int("missing", missing).Uint64("need", c.need).Uint64("available", avail).Msg("free space check")
		if c.need > avail {
			return fmt.Errorf("%w: pulling %s needs at least %d bytes (%s; %d of %d layers to fetch, compressed size) in %s, but only %d bytes (%s) are available",
				ErrInsufficientSpace, ri.Reference, c.need, progress.HumanBytes(c.need), missing, len(ri.Layers), c.path, avail, progress.HumanBytes(avail))
		}
	}
	return nil
}

// hasLayer reports whether containers/image will find the blob d in the store instead of
// fetching it: a layer made from that blob (compressed digest), a layer whose uncompressed
// digest is d (uncompressed blobs), or a layer with the uncompressed digest that the blob info
// cache has recorded for d (it records only locally verified pairs). A layer with a matching
// diff ID from the config alone is not enough: containers/image does not trust configs for
// that.
func (s *Store) hasLayer(d digest.Digest, bic types.BlobInfoCache) bool {
	if d == "" {
		return false
	}
	if ls, err := s.store.LayersByCompressedDigest(d); err == nil && len(ls) > 0 {
		return true
	}
	if ls, err := s.store.LayersByUncompressedDigest(d); err == nil && len(ls) > 0 {
		return true
	}
	if bic != nil {
		if u := bic.UncompressedDigest(d); u != "" && u != d {
			if ls, err := s.store.LayersByUncompressedDigest(u); err == nil && len(ls) > 0 {
				return true
			}
		}
	}
	return false
}

// blameBlobs appends to err the blobs named in blobs unless err already names one of them.
func blameBlobs(source string, blobs []digest.Digest, err error) error {
	msg := err.Error()
	for _, b := range blobs {
		if strings.Contains(msg, b.Encoded()) {
			return fmt.Errorf("pulling %s: %w", source, err)
		}
	}
	if len(blobs) == 0 {
		return fmt.Errorf("pulling %s: %w", source, err)
	}
	names := make([]string, len(blobs))
	for i, b := range blobs {
		names[i] = b.String()
	}
	return fmt.Errorf("pulling %s: blob %s: %w", source, strings.Join(names, ", "), err)
}

// copyProgressInterval is the interval containers/image reports reads at in Pull: as
// often as it reads.
const copyProgressInterval = time.Nanosecond

// progressFilter turns containers/image's read events into Pull's progress events: at most
// one ProgressBytes event per blob and interval, and a ProgressApplying event as soon as a
// layer has been read whole, while the store applies it (containers/image reports the
// layer done only once it is applied).
type progressFilter struct {
	interval time.Duration
	last     map[digest.Digest]time.Time
	applying map[digest.Digest]bool
}

func (f *progressFilter) forward(ev ProgressEvent, to func(ProgressEvent)) {
	if ev.Kind != ProgressBytes {
		to(ev)
		return
	}
	if f.applying[ev.Digest] {
		return
	}
	if ev.Layer >= 0 && ev.Total > 0 && ev.Fetched >= uint64(ev.Total) {
		f.applying[ev.Digest] = true
		to(ev)
		ev.Kind = ProgressApplying
		to(ev)
		return
	}
	now := time.Now()
	if t, ok := f.last[ev.Digest]; ok && now.Sub(t) < f.interval {
		return
	}
	f.last[ev.Digest] = now
	to(ev)
}
