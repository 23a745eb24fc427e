package ostree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The binding's types, constants and pure-Go methods: shared by the libostree build (the
// files that import "C") and the no-cgo twin (nocgo.go). Handles to C objects are reached
// through types that each build defines (cRepo, cSysroot, cMutableTree, deploymentRef,
// keyFileHandle), so that one definition of each exported type serves both.

// Metadata is an ostree a{sv} dictionary (commit metadata, detached metadata) in Go form.
// Values may be string, []string, []byte, bool, int32, uint32, int64, uint64 or a nested
// Metadata. When read back from a repository, values of any other GVariant type are given
// as Variant.
type Metadata map[string]any

// Variant is a GVariant value of a type Metadata has no Go form for, kept as its type string
// and its GVariant text form (g_variant_print).
type Variant struct {
	Type string
	Text string
}

// Xattr is one extended attribute. ostree checksums depend on the order of a file's
// extended attributes, so they are kept as an ordered slice.
type Xattr struct {
	Name  string
	Value []byte
}

// FileMeta is the ownership, mode and extended attributes of an object to write.
// Mode holds the permission bits including setuid, setgid and sticky (07777); the file type
// bits are added by each write call.
type FileMeta struct {
	UID, GID uint32
	Mode     uint32
	Xattrs   []Xattr
}

// ObjectType names an ostree object type.
type ObjectType int

// Object types.
const (
	ObjectFile       ObjectType = 1
	ObjectDirTree    ObjectType = 2
	ObjectDirMeta    ObjectType = 3
	ObjectCommit     ObjectType = 4
	ObjectCommitMeta ObjectType = 6
)

// FileObject is a file object read back from a repository.
type FileObject struct {
	// Mode is the full st_mode (file type and permission bits).
	Mode     uint32
	UID, GID uint32
	Size     int64
	// Target is a symlink's target ("" for regular files).
	Target string
	// Content is the start of a regular file's content, up to the limit given to LoadFile.
	Content []byte
}

// IsSymlink reports whether the object is a symbolic link.
func (f *FileObject) IsSymlink() bool { return f.Mode&unix.S_IFMT == unix.S_IFLNK }

// RawFileMeta is the header of a content object as an encapsulated image carries it:
// ownership, st_mode permission bits (07777) and the serialized a(ayay) extended attributes
// exactly as they are stored (their order is part of the checksum).
type RawFileMeta struct {
	UID, GID uint32
	Mode     uint32
	Xattrs   []byte
}

// String names the object type as its file extension in a repository does.
func (t ObjectType) String() string {
	switch t {
	case ObjectFile:
		return "file"
	case ObjectDirTree:
		return "dirtree"
	case ObjectDirMeta:
		return "dirmeta"
	case ObjectCommit:
		return "commit"
	case ObjectCommitMeta:
		return "commitmeta"
	}
	return fmt.Sprintf("objtype(%d)", int(t))
}

// TreeFile is a file entry of a dirtree object.
type TreeFile struct{ Name, Checksum string }

// TreeDir is a subdirectory entry of a dirtree object.
type TreeDir struct{ Name, Tree, Meta string }

// CommitOptions describe a commit to write.
type CommitOptions struct {
	// Parent is the parent commit checksum, or "" for none.
	Parent string
	// Subject and Body are the commit message.
	Subject, Body string
	// Metadata is the commit's a{sv} metadata.
	Metadata Metadata
	// Timestamp is the commit time; the zero time means now.
	Timestamp time.Time
}

// Commit is a commit object read from a repository.
type Commit struct {
	Checksum string
	Metadata Metadata
	Parent   string
	Subject  string
	Body     string
	// Timestamp is the commit time (second resolution, UTC).
	Timestamp time.Time
	// RootContents and RootMeta are the checksums of the root dirtree and dirmeta.
	RootContents, RootMeta string
	// Partial is set when the commit's objects were not all fetched.
	Partial bool
}

// FsckResult is what FsckCommit found.
type FsckResult struct {
	// Objects is the number of objects checked.
	Objects int
	// Bad describes each missing or corrupt object ("file CHECKSUM: why"); empty when the
	// commit is whole.
	Bad []string
}

// PruneFlags select what Prune does.
type PruneFlags int

// Prune flags.
const (
	// PruneRefsOnly keeps only objects reachable from refs (the usual mode).
	PruneRefsOnly PruneFlags = 1 << 1
	// PruneDryRun computes what would be pruned without deleting.
	PruneDryRun PruneFlags = 1 << 0
	// PruneCommitOnly only traverses commit objects.
	PruneCommitOnly PruneFlags = 1 << 2
)

// PruneStats reports what Prune did.
type PruneStats struct {
	Objects, Pruned int
	Bytes           uint64
}

// OverwriteMode says what a checkout does with files that already exist.
type OverwriteMode int

// Overwrite modes.
const (
	// OverwriteNone fails on existing files.
	OverwriteNone OverwriteMode = 0
	// OverwriteUnionFiles replaces existing files (layering).
	OverwriteUnionFiles OverwriteMode = 1
	// OverwriteAddFiles only adds new files.
	OverwriteAddFiles OverwriteMode = 2
	// OverwriteUnionIdentical replaces files, failing unless they are identical.
	OverwriteUnionIdentical OverwriteMode = 3
)

// CheckoutOptions control Repo.Checkout.
type CheckoutOptions struct {
	// User checks out as the calling user, ignoring ownership (needed for non-root).
	User bool
	// Overwrite chooses what happens with existing files (union mode for layering).
	Overwrite OverwriteMode
	// ProcessWhiteouts applies overlayfs/OCI whiteouts (.wh.NAME, .wh..wh..opq).
	ProcessWhiteouts bool
	// ForceCopy copies files instead of hardlinking them from the repo.
	ForceCopy bool
	// NoCopyFallback fails rather than copying when hardlinking is impossible.
	NoCopyFallback bool
	// Subpath checks out only this path of the commit ("" or "/" for all).
	Subpath string
}

// RepoMode is the storage mode of a repository.
type RepoMode int

// Repository modes.
const (
	// ModeBare stores files as themselves; needs root to write. Used by sysroots.
	ModeBare RepoMode = 0
	// ModeArchive stores compressed objects, owned by the writer; usable without root.
	ModeArchive RepoMode = 1
	// ModeBareUser stores ownership and xattrs in a user xattr.
	ModeBareUser RepoMode = 2
	// ModeBareUserOnly keeps no ownership or xattrs.
	ModeBareUserOnly RepoMode = 3
)

// String names the mode as the ostree command-line tool does.
func (m RepoMode) String() string {
	switch m {
	case ModeBare:
		return "bare"
	case ModeArchive:
		return "archive"
	case ModeBareUser:
		return "bare-user"
	case ModeBareUserOnly:
		return "bare-user-only"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// ErrClosed is returned by methods of a Repo, Sysroot or MutableTree that was closed.
var ErrClosed = errors.New("ostree: use of closed object")

// ErrNoCgo is the error of every call of a bootc built without cgo (CGO_ENABLED=0), which
// has no libostree (see nocgo.go).
var ErrNoCgo = errors.New("ostree: built without cgo; libostree is unavailable")

// Repo is an open OstreeRepo.
//
// Ownership: a Repo owns one reference to the C object (and so its directory file
// descriptors and lock files) until Close. Close must be called; it is idempotent.
//
// Thread safety: object writes, reads, ref and commit calls may be made from several
// goroutines at once, as libostree documents OstreeRepo as multithread-safe for those.
// Only one transaction may be open at a time (see Transaction). Close waits for calls in
// flight and must not race with new ones.
type Repo struct {
	mu   sync.RWMutex
	ptr  *cRepo
	path string
	mode RepoMode
}

// Transaction is an open repository transaction. Objects written and refs set through it
// become durable at Commit; Abort discards refs set in it. Use Repo.WithTransaction, which
// aborts on every error path, rather than managing one by hand.
type Transaction struct {
	repo *Repo
	done bool
}

// StagedLockedPath is the file that keeps libostree's ostree-finalize-staged.service from
// finalizing a staged deployment (libostree 2022.7 has no "locked" deploy option).
const StagedLockedPath = "/run/ostree/staged-deployment-locked"

// ErrLocked is returned by Sysroot.Lock when another process holds the sysroot lock and the
// context ends first, and by TryLock callers that want an error.
var ErrLocked = errors.New("sysroot is locked by another process")

// Sysroot is an OstreeSysroot: the physical root holding ostree/repo, ostree/deploy and
// boot/. It is the booted system's sysroot (path "/") or an offline one.
//
// Ownership: a Sysroot owns one reference to the C object; Close unlocks it if locked and
// drops the reference. Close must be called; it is idempotent.
//
// Thread safety: libostree documents OstreeSysroot as unsafe for concurrent use, so every
// method takes the Sysroot's mutex; calls from several goroutines are serialised.
// Cross-process exclusion is the sysroot lock (Lock, TryLock).
type Sysroot struct {
	mu     sync.Mutex
	ptr    *cSysroot
	path   string
	locked bool
	// loaded is set once Load succeeded: libostree asserts (aborts the process) when the
	// deployment accessors are used on a sysroot that is not loaded.
	loaded bool
}

// ErrNotLoaded is returned by the Sysroot methods that need the sysroot's state when Load
// has not succeeded yet.
var ErrNotLoaded = errors.New("ostree: sysroot not loaded")

// DeployOptions describe a new deployment.
type DeployOptions struct {
	// Stateroot to deploy into (required).
	Stateroot string
	// Revision is the commit (checksum or ref) to deploy.
	Revision string
	// Origin is written as the deployment's origin file (nil for none).
	Origin *KeyFile
	// Merge is the deployment whose /etc is merged and whose kernel arguments are the
	// default (nil: none, a fresh /etc).
	Merge *Deployment
	// KernelArgs, when not nil, replace the kernel arguments.
	KernelArgs []string
	// Locked (staging only) keeps the staged deployment from being finalized at shutdown
	// until the lock is removed (UnlockStaged).
	Locked bool
}

// WriteOptions control WriteDeployments.
type WriteOptions struct {
	// NoCleanup skips the cleanup (old deployments, repo prune) that normally follows.
	NoCleanup bool
}

// MutableTree is an in-memory directory tree of object checksums (OstreeMutableTree),
// built up file by file and written with Repo.WriteCommit.
//
// Ownership: each MutableTree holds one reference; nodes returned by EnsureDir, Walk,
// Lookup and friends hold their own reference and must be closed too (closing a child
// does not affect the tree it belongs to).
//
// Thread safety: none. OstreeMutableTree is not thread-safe; a tree and all its nodes must
// be used from one goroutine at a time.
type MutableTree struct {
	ptr *cMutableTree
}

// UnlockedState is a deployment's /usr overlay state (ostree admin unlock).
type UnlockedState string

// Unlocked states, named as libostree names them.
const (
	UnlockedNone        UnlockedState = "none"
	UnlockedDevelopment UnlockedState = "development"
	UnlockedHotfix      UnlockedState = "hotfix"
	UnlockedTransient   UnlockedState = "transient"
)

// Deployment is a snapshot of one OstreeDeployment of a sysroot: its fields are read when
// the Deployment is obtained and do not change. It also keeps a reference to the C object,
// so it can be handed back to Sysroot methods (as a merge deployment, or in the list given
// to WriteDeployments).
//
// Ownership: the reference is dropped by Close, or by the garbage collector if Close is
// never called (a safety net; deployments hold no file descriptors). Thread safety: the
// snapshot is immutable and may be shared between goroutines.
type Deployment struct {
	ref *deploymentRef

	// Index is the position in the sysroot's deployment list (0 boots by default).
	Index int
	// Stateroot is the deployment's stateroot (osname), e.g. "default".
	Stateroot string
	// Checksum is the commit the deployment was made from.
	Checksum string
	// Serial distinguishes deployments of the same commit.
	Serial int
	// BootChecksum identifies the kernel and initramfs; BootSerial distinguishes entries
	// sharing it.
	BootChecksum string
	BootSerial   int
	// Staged is set for a deployment staged for finalization at shutdown.
	Staged bool
	// Pinned deployments are never garbage collected.
	Pinned bool
	// Unlocked is the /usr overlay state.
	Unlocked UnlockedState
	// Origin is a copy of the origin file (nil when there is none, or when it could not be
	// copied: OriginErr says why).
	Origin *KeyFile
	// OriginErr is the error copying the origin file out of libostree.
	OriginErr error
	// BootOptions is the kernel command line of its boot entry ("" when none is written yet).
	BootOptions string
}

// Equal reports whether d and o are the same deployment (stateroot, checksum, serial).
func (d *Deployment) Equal(o *Deployment) bool {
	if d == nil || o == nil {
		return d == o
	}
	return d.Stateroot == o.Stateroot && d.Checksum == o.Checksum && d.Serial == o.Serial
}

// Relpath is the deployment directory relative to the sysroot.
func (d *Deployment) Relpath() string {
	return "ostree/deploy/" + d.Stateroot + "/deploy/" + d.Checksum + "." + itoa(d.Serial)
}

func itoa(i int) string { return strconv.Itoa(i) }

// KeyFile is a GLib key file (the format of ostree origin files and repo configs): GLib's
// own GKeyFile, so that it is parsed and written exactly as libostree reads and writes it.
// Comments and the order of groups and keys are kept, so a file read and written again is
// unchanged apart from edited keys. The zero value is an empty key file. A KeyFile is not
// safe for concurrent use.
type KeyFile struct {
	h *keyFileHandle
}

// Error domains that callers branch on.
const (
	// DomainIO is GLib's G_IO_ERROR domain.
	DomainIO = "g-io-error-quark"
	// DomainFile is GLib's G_FILE_ERROR domain.
	DomainFile = "g-file-error-quark"
	// DomainKeyFile is GLib's G_KEY_FILE_ERROR domain.
	DomainKeyFile = "g-key-file-error-quark"
	// DomainGPG is libostree's OSTREE_GPG_ERROR domain.
	DomainGPG = "OstreeGpgError"
)

// Codes of the G_IO_ERROR domain that this package maps to Go errors.
const (
	IOErrorFailed    int = 0
	IOErrorNotFound  int = 1
	IOErrorExists    int = 2
	IOErrorCancelled int = 19
	IOErrorBusy      int = 26
	IOErrorNoSpace   int = 12
	// IOErrorPermissionDenied is G_IO_ERROR_PERMISSION_DENIED.
	IOErrorPermissionDenied int = 14
)

// Codes of GLib's G_FILE_ERROR domain that GError.Is maps to Go errors.
const (
	gFileErrorExist = 0
	gFileErrorAcces = 2
	gFileErrorNoent = 4
	gFileErrorPerm  = 22
)

// GError is a GLib error converted to Go: its domain (the quark's string), its code within
// that domain and its message. errors.Is maps cancellation, not-found, exists and
// permission denied to context.Canceled, fs.ErrNotExist, fs.ErrExist and fs.ErrPermission.
type GError struct {
	Domain  string
	Code    int
	Message string
}

// Error returns the GLib message.
func (e *GError) Error() string { return e.Message }

// Is reports whether e corresponds to target (context.Canceled, fs.ErrNotExist, fs.ErrExist,
// fs.ErrPermission, or another *GError with the same domain and code).
func (e *GError) Is(target error) bool {
	switch target {
	case context.Canceled:
		return e.Domain == DomainIO && e.Code == IOErrorCancelled
	case fs.ErrNotExist:
		return (e.Domain == DomainIO && e.Code == IOErrorNotFound) ||
			(e.Domain == DomainFile && e.Code == gFileErrorNoent)
	case fs.ErrExist:
		return (e.Domain == DomainIO && e.Code == IOErrorExists) ||
			(e.Domain == DomainFile && e.Code == gFileErrorExist)
	case fs.ErrPermission:
		return (e.Domain == DomainIO && e.Code == IOErrorPermissionDenied) ||
			(e.Domain == DomainFile && (e.Code == gFileErrorAcces || e.Code == gFileErrorPerm))
	}
	var t *GError
	if errors.As(target, &t) {
		return t.Domain == e.Domain && t.Code == e.Code
	}
	return false
}

// Path returns the path the repository was opened at.
func (r *Repo) Path() string { return r.path }

// Mode returns the repository's storage mode.
func (r *Repo) Mode() RepoMode { return r.mode }

// Path returns the sysroot's absolute path.
func (s *Sysroot) Path() string { return s.path }

// DeploymentPath returns the absolute path of d's root directory.
func (s *Sysroot) DeploymentPath(d *Deployment) string {
	return filepath.Join(s.path, d.Relpath())
}
