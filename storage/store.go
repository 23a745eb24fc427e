package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/types"
	"golang.org/x/sys/unix"
)

// EnvStorageRoot is the environment variable that chooses the graph root of the store when
// Options.Root is empty. It overrides the graphroot of storage.conf.
const EnvStorageRoot = "BOOTC_STORAGE_ROOT"

// Options configures Open. The zero value opens the host's containers-storage store exactly as
// podman uses it (storage.conf, CONTAINERS_STORAGE_CONF, STORAGE_DRIVER and STORAGE_OPTS are
// honoured), so images built or pulled with podman are used in place.
//
// The graph root is chosen with this precedence: Options.Root, then the environment variable
// BOOTC_STORAGE_ROOT, then graphroot from storage.conf. When the graph root is not the one from
// storage.conf and RunRoot is empty, a run root private to that graph root is derived (see
// Open), because two stores must never share a run root.
type Options struct {
	// Root is the graph root (where layers and images are kept). Empty: BOOTC_STORAGE_ROOT, else
	// storage.conf.
	Root string
	// RunRoot is the run root (mount state, lost at reboot). Empty: storage.conf's runroot when
	// the graph root is storage.conf's, else /run/bootc/storage-<hash of the graph root> (for
	// root), which stays until reboot. Tests using temporary graph roots should set it (to a
	// t.TempDir()) so that no directory is left behind in /run.
	RunRoot string
	// Driver is the graph driver ("overlay", "vfs", ...). Empty: storage.conf's driver, else the
	// driver already used in the graph root, else containers-storage's choice (overlay first).
	Driver string
	// DriverOptions replaces storage.conf's driver options when non-nil. When Driver names a
	// driver other than storage.conf's and DriverOptions is nil, storage.conf's options are
	// dropped (they are specific to the other driver).
	DriverOptions []string
	// BlobInfoCacheDir is where containers/image keeps its blob info cache (which compressed
	// blob corresponds to which diff ID, where blobs were seen). Empty: containers/image's
	// default (/var/lib/containers/cache for root) when the graph root is storage.conf's,
	// else the directory "bootc-blob-info-cache" inside the graph root.
	BlobInfoCacheDir string
	// TempDir is where containers/image stages downloaded blobs before they are applied to the
	// store. Empty: /var/tmp, as containers/image does.
	TempDir string
	// FreeSpace reports the bytes available to an unprivileged writer on the filesystem
	// holding path; Pull refuses to start when the layers it must fetch do not fit. Nil: statfs.
	// Tests set it to simulate a full disk.
	FreeSpace func(path string) (uint64, error)
	// Log receives warnings and debug messages. The zero value discards them.
	Log zerolog.Logger
}

// Store is an open containers-storage store. Its methods are safe for concurrent use. Close
// it when done: that releases the driver's kernel resources (the overlay driver leaves a bind
// mount on <graphroot>/overlay otherwise).
//
// Processes using a Store must call reexec.Init() from go.podman.io/storage/pkg/reexec at the
// very start of main (and return when it reports true): containers-storage re-executes the
// current binary to apply layers in a chroot and to mount overlays with long option strings.
type Store struct {
	store            cstorage.Store
	log              zerolog.Logger
	freeSpace        func(string) (uint64, error)
	blobInfoCacheDir string
	tempDir          string

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// openStores counts the Stores open on each underlying containers-storage store:
// containers-storage returns the same object for the same roots within a process, so it is
// shut down only when the last Store on it is closed. openMu also serialises GetStore against
// Free, which containers-storage does not lock.
var (
	openMu     sync.Mutex
	openStores = map[cstorage.Store]int{}
)

// storeOptions computes the containers-storage options for o, given the options read from
// storage.conf (conf) and the value of BOOTC_STORAGE_ROOT (env). It reports whether the
// graph root is the one from storage.conf.
func storeOptions(o Options, conf types.StoreOptions, env string, euid int, xdgRuntimeDir string) (types.StoreOptions, bool, error) {
	res := conf
	root := o.Root
	if root == "" {
		root = env
	}
	confRoot := true
	if root != "" {
		abs, err := filepath.Abs(root)
		if err != nil {
			return res, false, fmt.Errorf("storage root %q: %w", root, err)
		}
		if abs != filepath.Clean(conf.GraphRoot) && sameDir(abs, conf.GraphRoot) {
			// The host's store by another path (on a booted host, /var/lib/containers/storage
			// through the /sysroot mount, where its files can be hardlinked with the
			// repository's objects): the host's run root, so that locks are shared.
			res.GraphRoot = abs
		} else if abs != filepath.Clean(conf.GraphRoot) {
			confRoot = false
			res.GraphRoot = abs
			// An image store configured for the host's store does not belong to another root.
			res.ImageStore = ""
		}
	}
	switch {
	case o.RunRoot != "":
		abs, err := filepath.Abs(o.RunRoot)
		if err != nil {
			return res, false, fmt.Errorf("storage run root %q: %w", o.RunRoot, err)
		}
		res.RunRoot = abs
	case !confRoot:
		res.RunRoot = derivedRunRoot(res.GraphRoot, euid, xdgRuntimeDir)
	}
	if o.Driver != "" {
		if o.Driver != conf.GraphDriverName && o.DriverOptions == nil {
			res.GraphDriverOptions = nil
		}
		res.GraphDriverName = o.Driver
		res.GraphDriverPriority = nil
	}
	if o.DriverOptions != nil {
		res.GraphDriverOptions = slices.Clone(o.DriverOptions)
	}
	if res.GraphRoot == "" || res.RunRoot == "" {
		return res, false, errors.New("storage: no graph root or run root configured")
	}
	return res, confRoot, nil
}

// sameDir reports whether a and b name one directory: the same inode, or, where they do not
// exist yet, the same names below one existing directory.
func sameDir(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	for {
		var sa, sb unix.Stat_t
		ea, eb := unix.Stat(a, &sa) == nil, unix.Stat(b, &sb) == nil
		if ea && eb {
			return sa.Dev == sb.Dev && sa.Ino == sb.Ino
		}
		if filepath.Base(a) != filepath.Base(b) || a == "/" || b == "/" {
			return false
		}
		a, b = filepath.Dir(a), filepath.Dir(b)
	}
}

// DerivedRunRoot returns the run root Open uses for graphRoot when it is not storage.conf's
// and no run root is given (so that tests can remove it afterwards).
func DerivedRunRoot(graphRoot string) string {
	return derivedRunRoot(graphRoot, os.Geteuid(), os.Getenv("XDG_RUNTIME_DIR"))
}

// derivedRunRoot is the run root used for a graph root other than storage.conf's:
// /run/bootc/storage-<hash> for root, $XDG_RUNTIME_DIR/bootc/storage-<hash> otherwise, where
// <hash> identifies the graph root.
func derivedRunRoot(graphRoot string, euid int, xdgRuntimeDir string) string {
	sum := sha256.Sum256([]byte(graphRoot))
	name := "storage-" + hex.EncodeToString(sum[:])[:16]
	base := "/run/bootc"
	if euid != 0 {
		if xdgRuntimeDir != "" {
			base = filepath.Join(xdgRuntimeDir, "bootc")
		} else {
			base = filepath.Join(os.TempDir(), fmt.Sprintf("bootc-%d", euid))
		}
	}
	return filepath.Join(base, name)
}

// Open opens (creating it if needed) the containers-storage store selected by o.
func Open(ctx context.Context, o Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conf, err := types.LoadStoreOptions(types.LoadOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading storage.conf: %w", err)
	}
	opts, confRoot, err := storeOptions(o, conf, os.Getenv(EnvStorageRoot), os.Geteuid(), os.Getenv("XDG_RUNTIME_DIR"))
	if err != nil {
		return nil, err
	}
	opts.GraphDriverOptions = withSkipMountHome(opts.GraphDriverOptions)
	openMu.Lock()
	cs, err := cstorage.GetStore(opts)
	if err == nil {
		openStores[cs]++
	}
	openMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("opening containers-storage at %s (driver %q): %w", opts.GraphRoot, opts.GraphDriverName, err)
	}
	s := &Store{
		store:            cs,
		log:              o.Log,
		freeSpace:        o.FreeSpace,
		blobInfoCacheDir: o.BlobInfoCacheDir,
		tempDir:          o.TempDir,
		closed:           make(chan struct{}),
	}
	if s.tempDir == "" {
		s.tempDir = defaultTempDir
	} else if err := os.MkdirAll(s.tempDir, 0o700); err != nil {
		return nil, errors.Join(fmt.Errorf("temporary directory: %w", err), s.Close())
	}
	if s.freeSpace == nil {
		s.freeSpace = statfsFree
	}
	if s.blobInfoCacheDir == "" && !confRoot {
		s.blobInfoCacheDir = filepath.Join(cs.GraphRoot(), "bootc-blob-info-cache")
	}
	// GetStore initialises the driver lazily; force it now so that a driver that does not work
	// here is reported by Open, not by the first pull.
	if _, err := cs.GraphDriver(); err != nil {
		cerr := s.Close()
		return nil, errors.Join(fmt.Errorf("containers-storage at %s: graph driver %q: %w", opts.GraphRoot, opts.GraphDriverName, err), cerr)
	}
	if d := cs.GraphDriverName(); d == "vfs" {
		s.log.Warn().Str("root", cs.GraphRoot()).Msg("containers-storage uses the vfs driver: every layer is a full copy")
	}
	s.log.Debug().Str("root", cs.GraphRoot()).Str("runroot", cs.RunRoot()).Str("driver", cs.GraphDriverName()).Msg("opened containers-storage")
	return s, nil
}

// skipMountHomeOption keeps the overlay driver from bind-mounting <graphroot>/overlay on
// itself: a hardlink cannot cross a mount point, even within one filesystem, so with that bind
// mount PutImage could never link a store file to a file outside the store (the ostree repo).
const skipMountHomeOption = "overlay.skip_mount_home=true"

// withSkipMountHome adds skipMountHomeOption to opts unless they already say something about
// skip_mount_home. Options for other drivers ignore it.
func withSkipMountHome(opts []string) []string {
	for _, o := range opts {
		if strings.Contains(o, "skip_mount_home") {
			return opts
		}
	}
	return append(slices.Clone(opts), skipMountHomeOption)
}

// Close releases the store: when no other Store of this process uses the same
// containers-storage store, it calls Shutdown(false) on it (unmounting the driver's own
// mounts). Close is idempotent; later calls return the first call's result. Using a Store
// after Close returns ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		openMu.Lock()
		defer openMu.Unlock()
		openStores[s.store]--
		if openStores[s.store] > 0 {
			return
		}
		delete(openStores, s.store)
		layers, err := s.store.Shutdown(false)
		if err != nil {
			s.closeErr = fmt.Errorf("shutting down containers-storage at %s (mounted layers: %v): %w", s.store.GraphRoot(), layers, err)
		}
		s.store.Free()
	})
	return s.closeErr
}

// check returns ErrClosed after Close, and ctx's error when it is done.
func (s *Store) check(ctx context.Context) error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	return ctx.Err()
}

// GraphRoot returns the store's graph root.
func (s *Store) GraphRoot() string { return s.store.GraphRoot() }

// RunRoot returns the store's run root.
func (s *Store) RunRoot() string { return s.store.RunRoot() }

// Driver returns the name of the graph driver in use.
func (s *Store) Driver() string { return s.store.GraphDriverName() }

// defaultTempDir is containers/image's directory for big temporary files.
const defaultTempDir = "/var/tmp"

// sameFilesystem reports whether a and b are on the same filesystem (same device).
func sameFilesystem(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev
}

// statfsFree returns the bytes available to unprivileged users on the filesystem holding path.
func statfsFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Logger returns the store's logger.
func (s *Store) Logger() *zerolog.Logger { return s.logger() }
