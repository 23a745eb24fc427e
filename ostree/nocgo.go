//go:build !cgo

package ostree

import (
	"context"
	"io"
)

// The no-cgo twin of the binding: the same API as the files that import "C", each call
// failing with ErrNoCgo (or, where a method has no error to return, giving the zero
// value). It lets the packages above be built, vetted and unit-tested without the
// libostree and GLib headers (CGO_ENABLED=0); a bootc built so can do nothing with a
// repository or a sysroot. TestNoCgoTwin keeps its API equal to the cgo build's.

// Stand-ins for the C objects behind Repo, Sysroot, MutableTree, Deployment and KeyFile.
type (
	cRepo         struct{}
	cSysroot      struct{}
	cMutableTree  struct{}
	deploymentRef struct{}
	keyFileHandle struct{}
)

func CheckVersion(year, release int) bool { return false }

func CreateRepo(ctx context.Context, path string, mode RepoMode) (*Repo, error) { return nil, ErrNoCgo }

func (d *Deployment) Close() {}

func (kf *KeyFile) Get(group, key string) (string, bool) { return "", false }

func (kf *KeyFile) Groups() []string { return nil }

func (kf *KeyFile) Keys(group string) []string { return nil }

func (kf *KeyFile) Remove(group, key string) {}

func (kf *KeyFile) Set(group, key, value string) {}

func (kf *KeyFile) String() string { return "" }

func (t *MutableTree) Close() {}

func (t *MutableTree) EnsureDir(name string) (*MutableTree, error) { return nil, ErrNoCgo }

func (t *MutableTree) Files() (map[string]string, error) { return nil, ErrNoCgo }

func (t *MutableTree) Lookup(name string) (fileChecksum string, dir *MutableTree, err error) {
	return "", nil, ErrNoCgo
}

func (t *MutableTree) MetadataChecksum() string { return "" }

func (t *MutableTree) Remove(name string, allowMissing bool) error { return ErrNoCgo }

func (t *MutableTree) ReplaceFile(name, checksum string) error { return ErrNoCgo }

func (t *MutableTree) SetMetadataChecksum(checksum string) error { return ErrNoCgo }

func (t *MutableTree) Subdirs() ([]string, error) { return nil, ErrNoCgo }

func (t *MutableTree) Walk(path []string) (*MutableTree, error) { return nil, ErrNoCgo }

func NewMutableTree() *MutableTree { return &MutableTree{} }

func OpenRepo(ctx context.Context, path string) (*Repo, error) { return nil, ErrNoCgo }

func OpenSysroot(path string) (*Sysroot, error) { return nil, ErrNoCgo }

func ParseKeyFile(data string) (*KeyFile, error) { return nil, ErrNoCgo }

func (r *Repo) Checkout(ctx context.Context, rev, dest string, opts CheckoutOptions) error {
	return ErrNoCgo
}

func (r *Repo) Close() error { return nil }

func (r *Repo) Config(group, key string) (string, bool, error) { return "", false, ErrNoCgo }

func (r *Repo) DeleteObject(ctx context.Context, typ ObjectType, checksum string) error {
	return ErrNoCgo
}

func (r *Repo) DeleteRef(ctx context.Context, ref string) error { return ErrNoCgo }

func (r *Repo) FileSize(ctx context.Context, checksum string) (int64, error) { return 0, ErrNoCgo }

func (r *Repo) FileXattrsBytes(ctx context.Context, checksum string) ([]byte, error) {
	return nil, ErrNoCgo
}

func (r *Repo) FsckCommit(ctx context.Context, commit string) (FsckResult, error) {
	return FsckResult{}, ErrNoCgo
}

func (r *Repo) HasObject(ctx context.Context, typ ObjectType, checksum string) (bool, error) {
	return false, ErrNoCgo
}

func (r *Repo) ListRefs(ctx context.Context, prefix string) (map[string]string, error) {
	return nil, ErrNoCgo
}

func (r *Repo) LoadDetachedMetadataBytes(ctx context.Context, commit string) ([]byte, error) {
	return nil, ErrNoCgo
}

func (r *Repo) LoadFile(ctx context.Context, checksum string, maxContent int64) (*FileObject, error) {
	return nil, ErrNoCgo
}

func (r *Repo) LoadObjectBytes(ctx context.Context, typ ObjectType, checksum string) ([]byte, error) {
	return nil, ErrNoCgo
}

func (r *Repo) NewMutableTreeFromCommit(rev string) (*MutableTree, error) { return nil, ErrNoCgo }

func (r *Repo) PrepareTransaction(ctx context.Context) (*Transaction, error) { return nil, ErrNoCgo }

func (r *Repo) Prune(ctx context.Context, flags PruneFlags, depth int) (PruneStats, error) {
	return PruneStats{}, ErrNoCgo
}

func (r *Repo) ReadCommit(ctx context.Context, rev string) (*Commit, error) { return nil, ErrNoCgo }

func (r *Repo) ReadDetachedMetadata(ctx context.Context, checksum string) (Metadata, error) {
	return nil, ErrNoCgo
}

func (r *Repo) ReadDirMeta(ctx context.Context, checksum string) (uid, gid, mode uint32, err error) {
	return 0, 0, 0, ErrNoCgo
}

func (r *Repo) ReadDirTree(ctx context.Context, checksum string) ([]TreeFile, []TreeDir, error) {
	return nil, nil, ErrNoCgo
}

func (r *Repo) ResolveRev(ctx context.Context, rev string, allowMissing bool) (string, error) {
	return "", ErrNoCgo
}

func (r *Repo) SetConfig(group, key, value string) error { return ErrNoCgo }

func (r *Repo) SetDisableFsync(disable bool) error { return ErrNoCgo }

func (r *Repo) SetRef(ctx context.Context, ref, checksum string) error { return ErrNoCgo }

func (r *Repo) VerifyCommitGPG(ctx context.Context, commit, commitmeta []byte, keyringDir, keyring string) (string, error) {
	return "", ErrNoCgo
}

func (r *Repo) WithTransaction(ctx context.Context, fn func(*Transaction) error) (err error) {
	return ErrNoCgo
}

func (r *Repo) WriteCommit(ctx context.Context, root *MutableTree, opts CommitOptions) (string, error) {
	return "", ErrNoCgo
}

func (r *Repo) WriteDetachedMetadata(ctx context.Context, checksum string, meta Metadata) error {
	return ErrNoCgo
}

func (r *Repo) WriteDetachedMetadataBytes(ctx context.Context, commit string, data []byte) error {
	return ErrNoCgo
}

func (r *Repo) WriteDirMeta(ctx context.Context, meta FileMeta) (string, error) { return "", ErrNoCgo }

func (r *Repo) WriteMetadataExpected(ctx context.Context, typ ObjectType, expected string, data []byte) error {
	return ErrNoCgo
}

func (r *Repo) WriteRegfile(ctx context.Context, meta FileMeta, size int64, rd io.Reader) (string, error) {
	return "", ErrNoCgo
}

func (r *Repo) WriteRegfileExpected(ctx context.Context, expected string, meta RawFileMeta, size int64, rd io.Reader) error {
	return ErrNoCgo
}

func (r *Repo) WriteSymlink(ctx context.Context, meta FileMeta, target string) (string, error) {
	return "", ErrNoCgo
}

func (r *Repo) WriteSymlinkExpected(ctx context.Context, expected string, meta RawFileMeta, target string) error {
	return ErrNoCgo
}

func (s *Sysroot) Booted() *Deployment { return nil }

func (s *Sysroot) Cleanup(ctx context.Context) error { return ErrNoCgo }

func (s *Sysroot) Close() error { return nil }

func (s *Sysroot) DeployTree(ctx context.Context, opts DeployOptions) (*Deployment, error) {
	return nil, ErrNoCgo
}

func (s *Sysroot) Deployments() ([]*Deployment, error) { return nil, ErrNoCgo }

func (s *Sysroot) EnsureInitialized(ctx context.Context) error { return ErrNoCgo }

func (s *Sysroot) InitStateroot(ctx context.Context, name string) error { return ErrNoCgo }

func (s *Sysroot) IsBooted() bool { return false }

func (s *Sysroot) Load(ctx context.Context) error { return ErrNoCgo }

func (s *Sysroot) Lock(ctx context.Context, onWait func()) error { return ErrNoCgo }

func (s *Sysroot) MergeDeployment(stateroot string) *Deployment { return nil }

func (s *Sysroot) PrepareCleanup(ctx context.Context) error { return ErrNoCgo }

func (s *Sysroot) PruneRepo(ctx context.Context) (PruneStats, error) { return PruneStats{}, ErrNoCgo }

func (s *Sysroot) Repo(ctx context.Context) (*Repo, error) { return nil, ErrNoCgo }

func (s *Sysroot) SetKargs(ctx context.Context, d *Deployment, args []string) error { return ErrNoCgo }

func (s *Sysroot) SetMountNamespaceInUse() {}

func (s *Sysroot) StageTree(ctx context.Context, opts DeployOptions) (*Deployment, error) {
	return nil, ErrNoCgo
}

func (s *Sysroot) Staged() *Deployment { return nil }

func (s *Sysroot) TryLock() (bool, error) { return false, ErrNoCgo }

func (s *Sysroot) Unlock() {}

func (s *Sysroot) UnlockDeployment(ctx context.Context, d *Deployment, state UnlockedState) error {
	return ErrNoCgo
}

func (s *Sysroot) WriteDeployments(ctx context.Context, deps []*Deployment, opts WriteOptions) error {
	return ErrNoCgo
}

func (s *Sysroot) WriteOrigin(ctx context.Context, d *Deployment, origin *KeyFile) error {
	return ErrNoCgo
}

func (t *Transaction) Abort() error { return ErrNoCgo }

func (t *Transaction) Commit(ctx context.Context) error { return ErrNoCgo }

func (t *Transaction) SetRef(ref, checksum string) {}
