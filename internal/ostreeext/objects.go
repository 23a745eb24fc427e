package ostreeext

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bootc-go/bootc/internal/tarstream"
	"github.com/bootc-go/bootc/ostree"
)

// RepoPrefix is where an ostree-native layer carries its objects.
const RepoPrefix = "sysroot/ostree/repo/"

// Limits on the objects read whole into memory, as upstream has them.
const (
	maxMetadataSize = 10 << 20
	maxXattrsSize   = 1 << 20
)

// ObjectStats counts the objects of the layers imported: written now, or already in the
// repository (and so neither written nor, for content, read further than its header).
type ObjectStats struct {
	Written, Reused int
	// ContentBytes is the size of the content objects written.
	ContentBytes int64
}

func (s *ObjectStats) add(o ObjectStats) {
	s.Written += o.Written
	s.Reused += o.Reused
	s.ContentBytes += o.ContentBytes
}

// Verifier checks the signature of a commit (its serialized object) with its detached
// metadata (serialized a{sv}; nil when the layer has none) before anything of it is
// written. It returns a description of the signatures.
type Verifier func(ctx context.Context, commit, commitmeta []byte) (string, error)

// objectImporter reads the objects of one ostree layer. In commit mode the first object
// must be the commit; in object-set mode there must be no metadata object.
type objectImporter struct {
	ctx           context.Context
	repo          *ostree.Repo
	commit        bool
	verify        Verifier
	xattrs        map[string][]byte // serialized a(ayay) by their sha256
	next          *pendingXattrs    // the xattrs announced for the next content object
	objectSet     map[string]bool
	checksum      string // the commit (commit mode)
	verified      string // the signature description
	sawFirst      bool
	pool          *writerPool
	writers       int
	onBytes       func(n int64) // content bytes read so far (progress)
	read          int64
	pendingCommit []byte // the commit object, until its detached metadata is known
	commitBytes   []byte // the verified commit object and its detached metadata
	heldMeta      []byte
	stats         ObjectStats
}

type pendingXattrs struct{ file, xattrs string }

func newObjectImporter(ctx context.Context, repo *ostree.Repo, commit bool, verify Verifier) *objectImporter {
	return &objectImporter{ctx: ctx, repo: repo, commit: commit, verify: verify,
		xattrs: map[string][]byte{}, objectSet: map[string]bool{}}
}

// repoPath returns the path of an entry inside the embedded repository, or "" for entries
// outside it (the checkout) and for those the importer ignores.
func repoPath(hdr *tarstream.Header) string {
	if hdr.Typeflag == tarstream.TypeDir {
		return ""
	}
	name := strings.TrimPrefix(hdr.Name, "./")
	rest, ok := strings.CutPrefix(name, RepoPrefix)
	if !ok || rest == "config" || strings.HasPrefix(rest, "refs/") {
		return ""
	}
	return rest
}

// importTar reads a whole layer tar, content objects being written by a pool of
// goroutines meanwhile.
func (o *objectImporter) importTar(r io.Reader) error {
	o.pool = newWriterPool(o.ctx, o.repo, o.writers)
	parent := o.ctx
	o.ctx = o.pool.ctx
	defer func() { o.ctx = parent }()
	if err := o.importEntries(r); err != nil {
		o.pool.stop(err)
		if cause := context.Cause(o.pool.ctx); cause != nil && cause != err && !errors.Is(err, cause) {
			return cause // a writer failed first
		}
		return err
	}
	if err := o.pool.wait(); err != nil {
		return err
	}
	if err := parent.Err(); err != nil {
		return err
	}
	return nil
}

func (o *objectImporter) importEntries(r io.Reader) error {
	tr := tarstream.NewReader(r)
	for {
		if err := o.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layer: %w", err)
		}
		if o.onBytes != nil && hdr.Typeflag == tarstream.TypeReg && hdr.Size > 0 {
			o.read += hdr.Size
			o.onBytes(o.read)
		}
		p := repoPath(hdr)
		if p == "" {
			continue
		}
		if err := o.entry(hdr, p, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	if err := o.flushCommit(); err != nil {
		return err
	}
	if o.commit && o.checksum == "" {
		return errors.New("layer holds no commit object")
	}
	if o.next != nil {
		return fmt.Errorf("extended attributes announced for file object %s, which is missing", o.next.file)
	}
	return nil
}

func (o *objectImporter) entry(hdr *tarstream.Header, p string, tr *tarstream.Reader) error {
	if rest, ok := strings.CutPrefix(p, "xattrs/"); ok { // format version 0
		sum, err := validChecksum(rest)
		if err != nil {
			return err
		}
		_, err = o.cacheXattrs(hdr, tr, sum)
		return err
	}
	rest, ok := strings.CutPrefix(p, "objects/")
	if !ok {
		return nil
	}
	checksum, ext, err := parseObjectPath(rest)
	if err != nil {
		return err
	}
	first := !o.sawFirst
	o.sawFirst = true
	if o.commit && first && ext != "commit" {
		return fmt.Errorf("the first object of a commit layer is a %s, not the commit", ext)
	}
	switch ext {
	case "commit":
		if !o.commit {
			return fmt.Errorf("commit object %s in a chunk layer", checksum)
		}
		if !first {
			return fmt.Errorf("second commit object %s", checksum)
		}
		return o.readCommit(hdr, tr, checksum)
	case "commitmeta":
		return o.commitMeta(hdr, tr, checksum)
	case "dirtree", "dirmeta":
		if !o.commit {
			return fmt.Errorf("%s object %s in a chunk layer", ext, checksum)
		}
		typ := ostree.ObjectDirTree
		if ext == "dirmeta" {
			typ = ostree.ObjectDirMeta
		}
		return o.metadata(hdr, tr, typ, checksum)
	case "file":
		if err := o.content(hdr, tr, checksum); err != nil {
			return err
		}
		if !o.commit {
			if o.objectSet[checksum] {
				return fmt.Errorf("file object %s appears twice", checksum)
			}
			o.objectSet[checksum] = true
		}
		return nil
	case "file-xattrs":
		_, err := o.cacheXattrs(hdr, tr, checksum)
		return err
	case "file-xattrs-link":
		return o.xattrsLink(hdr, tr, checksum)
	case "file.xattrs": // format version 0: hardlink to xattrs/<checksum>
		if hdr.Typeflag != tarstream.TypeLink {
			return fmt.Errorf("xattrs reference of %s is not a hardlink", checksum)
		}
		if o.next != nil {
			return fmt.Errorf("dangling extended attributes for file object %s", o.next.file)
		}
		i := strings.LastIndexByte(hdr.Linkname, '/')
		sum, err := validChecksum(hdr.Linkname[i+1:])
		if err != nil {
			return err
		}
		o.next = &pendingXattrs{file: checksum, xattrs: sum}
		return nil
	}
	return fmt.Errorf("unknown object type %q", ext)
}

// parseObjectPath splits "xx/rest.ext" into the checksum and the extension.
func parseObjectPath(p string) (string, string, error) {
	dir, name, ok := strings.Cut(p, "/")
	if !ok || len(dir) != 2 || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("invalid object path %q", p)
	}
	stem, ext, ok := strings.Cut(name, ".")
	if !ok {
		return "", "", fmt.Errorf("invalid object path %q", p)
	}
	sum, err := validChecksum(dir + stem)
	return sum, ext, err
}

func validChecksum(s string) (string, error) {
	if len(s) != 64 {
		return "", fmt.Errorf("invalid checksum %q", s)
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("invalid checksum %q", s)
		}
	}
	return s, nil
}

func readSmall(hdr *tarstream.Header, tr io.Reader, max int64, what string) ([]byte, error) {
	if hdr.Typeflag != tarstream.TypeReg && hdr.Typeflag != tarstream.TypeRegA {
		return nil, fmt.Errorf("%s is not a regular file", what)
	}
	if hdr.Size < 0 || hdr.Size > max {
		return nil, fmt.Errorf("%s has size %d, above the limit of %d", what, hdr.Size, max)
	}
	b := make([]byte, hdr.Size)
	if _, err := io.ReadFull(tr, b); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return b, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readCommit holds the commit object back until its detached metadata (which carries the
// signatures) has been seen: commitMeta or the next object writes it.
func (o *objectImporter) readCommit(hdr *tarstream.Header, tr io.Reader, checksum string) error {
	b, err := readSmall(hdr, tr, maxMetadataSize, "commit object "+checksum)
	if err != nil {
		return err
	}
	if got := sha256Hex(b); got != checksum {
		return fmt.Errorf("commit object %s: content has checksum %s", checksum, got)
	}
	o.checksum = checksum
	o.pendingCommit = b
	return nil
}

func (o *objectImporter) commitMeta(hdr *tarstream.Header, tr io.Reader, checksum string) error {
	if o.pendingCommit == nil || checksum != o.checksum {
		return fmt.Errorf("detached metadata %s does not follow its commit", checksum)
	}
	b, err := readSmall(hdr, tr, maxMetadataSize, "detached metadata of "+checksum)
	if err != nil {
		return err
	}
	return o.writeCommit(b)
}

// flushCommit writes a commit that had no detached metadata.
func (o *objectImporter) flushCommit() error {
	if o.pendingCommit == nil {
		return nil
	}
	return o.writeCommit(nil)
}

func (o *objectImporter) writeCommit(meta []byte) error {
	commit := o.pendingCommit
	o.pendingCommit = nil
	if o.verify != nil {
		text, err := o.verify(o.ctx, commit, meta)
		if err != nil {
			return &refusedError{fmt.Errorf("commit %s: %w", o.checksum, err)}
		}
		o.verified = text
	}
	// libostree writes commit objects straight into the repository, not into the
	// transaction's staging directory: the commit is held until every object of the base
	// layers is in (see writeHeldCommit), so that a layer refused half-way leaves no commit.
	o.commitBytes, o.heldMeta = commit, meta
	return nil
}

// heldCommit is a verified commit object waiting to be written.
type heldCommit struct {
	checksum   string
	data, meta []byte
}

// writeHeldCommit writes a held commit and its detached metadata, reporting whether the
// commit object is new (and so is to be deleted if the import fails after all).
func writeHeldCommit(ctx context.Context, repo *ostree.Repo, c *heldCommit, stats *ObjectStats) (bool, error) {
	have, err := repo.HasObject(ctx, ostree.ObjectCommit, c.checksum)
	if err != nil {
		return false, err
	}
	if have {
		stats.Reused++
	} else {
		if err := repo.WriteMetadataExpected(ctx, ostree.ObjectCommit, c.checksum, c.data); err != nil {
			return false, err
		}
		stats.Written++
	}
	if c.meta != nil {
		if err := repo.WriteDetachedMetadataBytes(ctx, c.checksum, c.meta); err != nil {
			return !have, err
		}
	}
	return !have, nil
}

func (o *objectImporter) metadata(hdr *tarstream.Header, tr io.Reader, typ ostree.ObjectType, checksum string) error {
	if err := o.flushCommit(); err != nil {
		return err
	}
	b, err := readSmall(hdr, tr, maxMetadataSize, typ.String()+" object "+checksum)
	if err != nil {
		return err
	}
	if got := sha256Hex(b); got != checksum {
		return fmt.Errorf("%s object %s: content has checksum %s", typ, checksum, got)
	}
	have, err := o.repo.HasObject(o.ctx, typ, checksum)
	if err != nil {
		return err
	}
	if have {
		o.stats.Reused++
		return nil
	}
	if err := o.repo.WriteMetadataExpected(o.ctx, typ, checksum, b); err != nil {
		return err
	}
	o.stats.Written++
	return nil
}

// cacheXattrs reads a serialized a(ayay) and keeps it under its sha256, which must be
// expected when that is given.
func (o *objectImporter) cacheXattrs(hdr *tarstream.Header, tr io.Reader, expected string) (string, error) {
	b, err := readSmall(hdr, tr, maxXattrsSize, "extended attributes")
	if err != nil {
		return "", err
	}
	sum := sha256Hex(b)
	if expected != "" && sum != expected {
		return "", fmt.Errorf("extended attributes object %s: content has checksum %s", expected, sum)
	}
	o.xattrs[sum] = b
	return sum, nil
}

// xattrsLink announces the extended attributes of the next content object: a hardlink to
// a .file-xattrs object, or (as upstream's writer makes them) the attributes themselves.
func (o *objectImporter) xattrsLink(hdr *tarstream.Header, tr io.Reader, file string) error {
	if err := o.flushCommit(); err != nil {
		return err
	}
	if o.next != nil {
		return fmt.Errorf("dangling extended attributes for file object %s", o.next.file)
	}
	var sum string
	switch hdr.Typeflag {
	case tarstream.TypeLink:
		target := strings.TrimPrefix(strings.TrimPrefix(hdr.Linkname, "./"), RepoPrefix)
		rest, ok := strings.CutPrefix(target, "objects/")
		if !ok {
			return fmt.Errorf("extended attributes link of %s points outside the objects: %q", file, hdr.Linkname)
		}
		s, ext, err := parseObjectPath(rest)
		if err != nil {
			return err
		}
		if ext != "file-xattrs" {
			return fmt.Errorf("extended attributes link of %s points to a %s object", file, ext)
		}
		sum = s
	case tarstream.TypeReg, tarstream.TypeRegA:
		s, err := o.cacheXattrs(hdr, tr, "")
		if err != nil {
			return err
		}
		sum = s
	default:
		return fmt.Errorf("extended attributes link of %s has tar type %q", file, hdr.Typeflag)
	}
	o.next = &pendingXattrs{file: file, xattrs: sum}
	return nil
}

// content writes a content object (regular file or symlink) with the extended attributes
// announced for it; libostree checks that it hashes to its name.
func (o *objectImporter) content(hdr *tarstream.Header, tr io.Reader, checksum string) error {
	if err := o.flushCommit(); err != nil {
		return err
	}
	var xattrs []byte
	if o.next != nil {
		if o.next.file != checksum {
			return fmt.Errorf("file object %s: extended attributes were announced for file object %s", checksum, o.next.file)
		}
		var ok bool
		if xattrs, ok = o.xattrs[o.next.xattrs]; !ok {
			return fmt.Errorf("file object %s: extended attributes object %s is missing", checksum, o.next.xattrs)
		}
		o.next = nil
	}
	have, err := o.repo.HasObject(o.ctx, ostree.ObjectFile, checksum)
	if err != nil {
		return err
	}
	if have {
		o.stats.Reused++
		return nil
	}
	if hdr.Uid < 0 || hdr.Gid < 0 || int64(hdr.Uid) > 1<<32-1 || int64(hdr.Gid) > 1<<32-1 {
		return fmt.Errorf("file object %s: owner %d:%d out of range", checksum, hdr.Uid, hdr.Gid)
	}
	meta := ostree.RawFileMeta{UID: uint32(hdr.Uid), GID: uint32(hdr.Gid), Mode: uint32(hdr.Mode & 07777), Xattrs: xattrs}
	switch hdr.Typeflag {
	case tarstream.TypeReg, tarstream.TypeRegA:
		if err := o.pool.submit(checksum, meta, hdr.Size, tr); err != nil {
			return err
		}
		o.stats.ContentBytes += hdr.Size
	case tarstream.TypeSymlink:
		if err := o.repo.WriteSymlinkExpected(o.ctx, checksum, meta, hdr.Linkname); err != nil {
			return err
		}
	default:
		return fmt.Errorf("file object %s: tar type %q is not a file or symlink", checksum, hdr.Typeflag)
	}
	o.stats.Written++
	return nil
}

// writeObjectSetCommit records the content objects of a chunk layer as upstream does: a
// commit (time 0, no metadata) of one directory whose files are named by their checksums.
func writeObjectSetCommit(ctx context.Context, repo *ostree.Repo, objects map[string]bool) (string, error) {
	mt := ostree.NewMutableTree()
	defer mt.Close()
	for sum := range objects {
		if err := mt.ReplaceFile(sum, sum); err != nil {
			return "", err
		}
	}
	dm, err := repo.WriteDirMeta(ctx, ostree.FileMeta{Mode: 0o755})
	if err != nil {
		return "", err
	}
	if err := mt.SetMetadataChecksum(dm); err != nil {
		return "", err
	}
	return repo.WriteCommit(ctx, mt, ostree.CommitOptions{Timestamp: time.Unix(0, 0)})
}
