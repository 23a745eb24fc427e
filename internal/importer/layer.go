package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bootc-go/bootc/internal/chunkstream"
	"github.com/bootc-go/bootc/internal/tarstream"
	"github.com/bootc-go/bootc/ostree"
)

// inlineMax is the largest file read whole before it is written; larger files are streamed
// to a writer goroutine in chunks.
const inlineMax = 64 << 10

// queueDepth bounds the entries in flight between the parser, the writers and the tree
// goroutine (and so memory: at most queueDepth small files are buffered).
const queueDepth = 256

var smallPool = sync.Pool{New: func() any { b := make([]byte, inlineMax); return &b }}

// Stats counts what a layer import wrote and dropped.
type Stats struct {
	Files, Dirs, Symlinks, Hardlinks, Whiteouts int
	// Bytes is the content size of the regular files written.
	Bytes int64
	// Filtered counts entries dropped by the path rules, by toplevel directory.
	Filtered map[string]int
	// Adopted counts regular files hardlinked into the repository from the adopt
	// directory, Present those whose object the repository already had (adopt mode only).
	Adopted, Present int
}

// LayerOptions control ImportLayer.
type LayerOptions struct {
	Rules PathRules
	// Writers is the number of goroutines writing file objects (default: GOMAXPROCS).
	Writers int
	// Metadata is added to the layer commit.
	Metadata ostree.Metadata
	// OnBytes, if set, is called from the parser goroutine with the number of bytes of
	// file content read so far.
	OnBytes func(n int64)
	// AdoptDir, if set, turns on adopt mode (see adopt.go): the directory holds the
	// layer's files unpacked at their tar paths (a containers-storage diff directory),
	// and regular files are hardlinked from there into a bare repository instead of
	// being written as copies, once checked identical. The layer commit is the same as
	// without it.
	AdoptDir string
	// onHeader, if set, is called by the parser with each entry's header as soon as it is
	// read, before the entry's content (tar-split recording).
	onHeader func(*tarstream.Header)
	// onFile, if set, is called for an entry whose content goes to a writer goroutine; the
	// writer sums the content into the returned payloadSum.
	onFile func() *payloadSum
	// onFiltered, if set, is called with each regular file with content that the path
	// rules drop, and may read its content from r.
	onFiltered func(name string, size int64, r io.Reader) error
}

// entryKind is what an entry becomes in the tree.
type entryKind int

const (
	kindDir entryKind = iota
	kindFile
	kindSymlink
	kindHardlink
	// kindSpecial is a device node or FIFO: refused unless filtered out.
	kindSpecial
)

// job is one tar entry on its way into the tree.
type job struct {
	name   string // as in the archive, for errors
	kind   entryKind
	norm   normalized
	meta   ostree.FileMeta
	link   string     // symlink target
	hlink  [][]string // normalised hardlink target paths
	size   int64
	small  *[]byte          // content of a small file (pooled)
	chunks chan *[]byte     // content of a large file (pooled chunks)
	done   chan writeResult // result of the object write (files only)
	sum    *payloadSum      // tar-split payload checksum the writer computes (or nil)
}

type writeResult struct {
	checksum string
	err      error
}

// ImportLayer reads an uncompressed layer tar from r and writes its content and a commit
// into repo, which must be inside a transaction. It returns the commit checksum.
func ImportLayer(ctx context.Context, repo *ostree.Repo, r io.Reader, opts LayerOptions) (string, Stats, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stats := Stats{Filtered: map[string]int{}}
	writers := opts.Writers
	if writers <= 0 {
		writers = runtime.GOMAXPROCS(0)
	}

	order := make(chan *job, queueDepth)
	work := make(chan *job, queueDepth)
	ad := newAdopter(repo, opts.AdoptDir)
	batch := repo.NewObjectBatch()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeFiles(ctx, batch, ad, work)
		}()
	}
	parseErr := make(chan error, 1)
	go func() {
		err := parse(ctx, r, opts, order, work, &stats)
		close(order)
		close(work)
		if err != nil {
			cancel(err)
		}
		parseErr <- err
	}()

	t := newTreeBuilder(ctx, repo)
	treeErr := t.consume(order, &stats)
	if treeErr != nil {
		cancel(treeErr)
		for range order { // let the parser finish
		}
	}
	wg.Wait()
	ad.addStats(&stats)
	err := <-parseErr
	if err == nil {
		err = treeErr
	}
	if err == nil {
		// The layer's objects become objects once all are on disk.
		err = batch.Publish()
	} else {
		batch.Discard()
	}
	var commit string
	if err == nil {
		commit, err = t.commit(opts.Metadata)
	}
	t.close()
	if err != nil {
		return "", stats, err
	}
	return commit, stats, nil
}

// parse reads the archive and feeds jobs to the tree goroutine (order) and file contents to
// the writers (work).
func parse(ctx context.Context, r io.Reader, opts LayerOptions, order, work chan<- *job, stats *Stats) error {
	tr := tarstream.NewReader(r)
	var read int64
	send := func(ch chan<- *job, j *job) error {
		select {
		case ch <- j:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading layer: %w", err)
		}
		if opts.onHeader != nil {
			opts.onHeader(hdr)
		}
		j, err := newJob(hdr, opts.Rules)
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", shortName(hdr.Name), err)
		}
		if j == nil { // filtered
			stats.Filtered[filteredName(hdr.Name)]++
			if opts.onFiltered != nil && hdr.Size > 0 && isRegular(hdr.Typeflag) {
				if err := opts.onFiltered(hdr.Name, hdr.Size, tr); err != nil {
					return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
				}
			}
			continue
		}
		if j.kind != kindFile {
			if err := send(order, j); err != nil {
				return err
			}
			continue
		}
		j.done = make(chan writeResult, 1)
		if opts.onFile != nil {
			j.sum = opts.onFile()
		}
		if j.size <= inlineMax {
			bp := smallPool.Get().(*[]byte)
			if _, err := io.ReadFull(tr, (*bp)[:j.size]); err != nil {
				smallPool.Put(bp)
				return fmt.Errorf("layer entry %q: reading content: %w", hdr.Name, err)
			}
			j.small = bp
			read += j.size
			if opts.OnBytes != nil {
				opts.OnBytes(read)
			}
			if err := send(order, j); err != nil {
				smallPool.Put(bp)
				return err
			}
			if err := send(work, j); err != nil {
				return err
			}
			continue
		}
		j.chunks = make(chan *[]byte, 4)
		if err := send(order, j); err != nil {
			return err
		}
		if err := send(work, j); err != nil {
			return err
		}
		var onRead func(int64)
		if opts.OnBytes != nil {
			before := read
			onRead = func(n int64) { opts.OnBytes(before + n) }
		}
		err = chunkstream.Send(ctx, tr, j.size, j.chunks, onRead)
		close(j.chunks)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("layer entry %q: reading content: %w", hdr.Name, err)
		}
		read += j.size
	}
}

func filteredName(name string) string {
	parts, _ := splitPath(name)
	if len(parts) == 0 {
		return name
	}
	return parts[0]
}

// isRegular reports whether a tar entry type is a regular file's.
func isRegular(flag byte) bool {
	return flag == tarstream.TypeReg || flag == tarstream.TypeRegA || flag == tarstream.TypeCont
}

// newJob validates a header and maps it to a job; nil means the entry is filtered out.
func newJob(hdr *tarstream.Header, rules PathRules) (*job, error) {
	j := &job{name: hdr.Name}
	switch hdr.Typeflag {
	case tarstream.TypeReg, tarstream.TypeCont:
		j.kind = kindFile
	case tarstream.TypeRegA:
		j.kind = kindFile
		if strings.HasSuffix(hdr.Name, "/") {
			j.kind = kindDir
		}
	case tarstream.TypeDir:
		j.kind = kindDir
	case tarstream.TypeSymlink:
		j.kind = kindSymlink
		if hdr.Linkname == "" {
			return nil, errors.New("symlink with an empty target")
		}
		// libostree stores the target as a GVariant string: an invalid UTF-8 target is
		// silently left out of the object, so all such symlinks would share one checksum
		// and check out with the first one's target.
		if !utf8.ValidString(hdr.Linkname) {
			return nil, fmt.Errorf("symlink target %q is not valid UTF-8", hdr.Linkname)
		}
		if len(hdr.Linkname) > MaxPathBytes {
			return nil, fmt.Errorf("symlink target is %d bytes long, more than the %d accepted", len(hdr.Linkname), MaxPathBytes)
		}
		j.link = hdr.Linkname
	case tarstream.TypeLink:
		j.kind = kindHardlink
	case tarstream.TypeChar, tarstream.TypeBlock, tarstream.TypeFifo:
		j.kind = kindSpecial
	default:
		return nil, fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	norm, err := rules.normalize(hdr.Name, j.kind == kindDir)
	if err != nil {
		return nil, err
	}
	if norm.filtered != "" {
		// Filtered before the entry type is refused, as upstream does: images that ship
		// device nodes under /dev import.
		return nil, nil
	}
	switch {
	case j.kind != kindSpecial:
	case hdr.Typeflag == tarstream.TypeFifo:
		return nil, errors.New("FIFOs are not supported in bootable container images")
	default:
		return nil, errors.New("device nodes are not supported in bootable container images")
	}
	if norm.root && j.kind != kindDir {
		return nil, errors.New("the root of the layer is not a directory")
	}
	j.norm = norm
	if j.kind == kindHardlink {
		target, err := rules.normalize(hdr.Linkname, false)
		if err != nil {
			return nil, fmt.Errorf("hardlink target: %w", err)
		}
		if target.root || target.filtered != "" {
			return nil, fmt.Errorf("hardlink target %q is outside the imported tree", hdr.Linkname)
		}
		j.hlink = target.paths
	}
	if hdr.Uid < 0 || hdr.Gid < 0 || int64(hdr.Uid) > 1<<32-1 || int64(hdr.Gid) > 1<<32-1 {
		return nil, fmt.Errorf("owner %d:%d out of range", hdr.Uid, hdr.Gid)
	}
	j.meta = ostree.FileMeta{UID: uint32(hdr.Uid), GID: uint32(hdr.Gid), Mode: uint32(hdr.Mode & 07777)}
	// libarchive, and so `ostree commit --tree=tar=` and upstream's layer commits, store
	// extended attributes in the reverse of their PAX header order; checksums depend on it.
	for i := len(hdr.Xattrs) - 1; i >= 0; i-- {
		j.meta.Xattrs = append(j.meta.Xattrs, ostree.Xattr{Name: hdr.Xattrs[i].Name, Value: hdr.Xattrs[i].Value})
	}
	if j.kind == kindFile {
		if hdr.Size < 0 {
			return nil, fmt.Errorf("negative size %d", hdr.Size)
		}
		j.size = hdr.Size
	}
	return j, nil
}

// writeFiles is a writer goroutine: it writes file objects (into batch, published when the
// layer is complete) and reports their checksums.
func writeFiles(ctx context.Context, batch *ostree.ObjectBatch, ad *adopter, work <-chan *job) {
	for j := range work {
		if ad != nil {
			csum, err := ad.write(ctx, j)
			j.done <- writeResult{checksum: csum, err: err}
			continue
		}
		var rd io.Reader
		if j.small != nil {
			rd = bytes.NewReader((*j.small)[:j.size])
			j.sum.write((*j.small)[:j.size])
		} else {
			rd = j.sum.tee(chunkstream.NewReader(ctx, j.chunks))
		}
		csum, err := batch.WriteRegfile(ctx, j.meta, j.size, rd)
		j.sum.close()
		if j.small != nil {
			smallPool.Put(j.small)
			j.small = nil
		} else {
			chunkstream.Drain(j.chunks) // what an error left unread
		}
		j.done <- writeResult{checksum: csum, err: err}
	}
}

// treeBuilder owns the layer's mutable tree (OstreeMutableTree is single-threaded).
type treeBuilder struct {
	ctx      context.Context
	repo     *ostree.Repo
	root     *ostree.MutableTree
	dirs     map[string]*ostree.MutableTree // open directory nodes by path
	files    map[string]string              // regular file checksums by path, for hardlinks
	dirmetas map[string]string              // dirmeta checksums by metadata key
	rootMeta bool
}

func newTreeBuilder(ctx context.Context, repo *ostree.Repo) *treeBuilder {
	return &treeBuilder{
		ctx: ctx, repo: repo, root: ostree.NewMutableTree(),
		dirs: map[string]*ostree.MutableTree{}, files: map[string]string{}, dirmetas: map[string]string{},
	}
}

func (t *treeBuilder) close() {
	for _, d := range t.dirs {
		d.Close()
	}
	t.root.Close()
}

// consume applies jobs in archive order, waiting for each file's object write.
func (t *treeBuilder) consume(order <-chan *job, stats *Stats) error {
	for j := range order {
		var csum string
		if j.done != nil {
			var res writeResult
			select {
			case res = <-j.done:
			case <-t.ctx.Done():
				return context.Cause(t.ctx)
			}
			if res.err != nil {
				return fmt.Errorf("layer entry %q: %w", j.name, res.err)
			}
			csum = res.checksum
		}
		if err := t.apply(j, csum, stats); err != nil {
			return fmt.Errorf("layer entry %q: %w", j.name, err)
		}
	}
	return nil
}

func (t *treeBuilder) apply(j *job, csum string, stats *Stats) error {
	switch j.kind {
	case kindDir:
		dm, err := t.dirmeta(j.meta)
		if err != nil {
			return err
		}
		if j.norm.root {
			t.rootMeta = true
			return t.root.SetMetadataChecksum(dm)
		}
		for _, p := range j.norm.paths {
			d, err := t.dir(p, true)
			if err != nil {
				return err
			}
			if err := d.SetMetadataChecksum(dm); err != nil {
				return err
			}
		}
		stats.Dirs++
		return nil
	case kindSymlink:
		var err error
		if csum, err = t.repo.WriteSymlink(t.ctx, j.meta, j.link); err != nil {
			return err
		}
		stats.Symlinks++
	case kindHardlink:
		key := strings.Join(j.hlink[0], "/")
		var ok bool
		if csum, ok = t.files[key]; !ok {
			return fmt.Errorf("hardlink target %q is not a file earlier in this layer", key)
		}
		stats.Hardlinks++
	case kindFile:
		stats.Files++
		stats.Bytes += j.size
		if base := j.norm.paths[0][len(j.norm.paths[0])-1]; strings.HasPrefix(base, ".wh.") {
			stats.Whiteouts++
		}
	}
	for _, p := range j.norm.paths {
		if err := t.putFile(p, csum); err != nil {
			return err
		}
		if j.kind != kindSymlink {
			t.files[strings.Join(p, "/")] = csum
		}
	}
	return nil
}

// putFile adds a file (regular or symlink) at p, replacing whatever was there.
func (t *treeBuilder) putFile(p []string, csum string) error {
	parent, err := t.dir(p[:len(p)-1], false)
	if err != nil {
		return err
	}
	name := p[len(p)-1]
	if err := parent.ReplaceFile(name, csum); err != nil {
		// A directory of that name: a later entry replaces it, as tar extraction does.
		key := strings.Join(p, "/")
		if _, isDir := t.dirs[key]; !isDir {
			return err
		}
		t.forgetDirs(key)
		if err := parent.Remove(name, false); err != nil {
			return err
		}
		return parent.ReplaceFile(name, csum)
	}
	return nil
}

// forgetDirs drops cached nodes at or below key.
func (t *treeBuilder) forgetDirs(key string) {
	for k, d := range t.dirs {
		if k == key || strings.HasPrefix(k, key+"/") {
			d.Close()
			delete(t.dirs, k)
		}
	}
}

// dir returns the directory node at p, creating missing directories with default metadata.
// With replaceFile, a file at p itself is replaced by the directory (a later tar entry
// wins); a file at a parent of p is always an error (the path would go through it).
func (t *treeBuilder) dir(p []string, replaceFile bool) (*ostree.MutableTree, error) {
	if len(p) == 0 {
		return t.root, nil
	}
	key := strings.Join(p, "/")
	if d, ok := t.dirs[key]; ok {
		return d, nil
	}
	parent, err := t.dir(p[:len(p)-1], false)
	if err != nil {
		return nil, err
	}
	name := p[len(p)-1]
	file, sub, err := parent.Lookup(name)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case err == nil && sub != nil:
		t.dirs[key] = sub
		return sub, nil
	case err == nil && file != "":
		if !replaceFile {
			return nil, fmt.Errorf("path goes through %q, which is not a directory (symlink or file)", key)
		}
		if err := parent.Remove(name, false); err != nil {
			return nil, err
		}
		delete(t.files, key)
	}
	sub, err = parent.EnsureDir(name)
	if err != nil {
		return nil, err
	}
	dm, err := t.dirmeta(ostree.FileMeta{Mode: 0o755})
	if err == nil {
		err = sub.SetMetadataChecksum(dm)
	}
	if err != nil {
		sub.Close()
		return nil, err
	}
	t.dirs[key] = sub
	return sub, nil
}

// dirmeta writes (once) the directory metadata object for meta.
func (t *treeBuilder) dirmeta(meta ostree.FileMeta) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:%d:%o", meta.UID, meta.GID, meta.Mode)
	for _, x := range meta.Xattrs {
		fmt.Fprintf(&b, "\x00%s=%x", x.Name, x.Value)
	}
	key := b.String()
	if c, ok := t.dirmetas[key]; ok {
		return c, nil
	}
	c, err := t.repo.WriteDirMeta(t.ctx, meta)
	if err != nil {
		return "", err
	}
	t.dirmetas[key] = c
	return c, nil
}

func (t *treeBuilder) commit(meta ostree.Metadata) (string, error) {
	if !t.rootMeta {
		dm, err := t.dirmeta(ostree.FileMeta{Mode: 0o755})
		if err != nil {
			return "", err
		}
		if err := t.root.SetMetadataChecksum(dm); err != nil {
			return "", err
		}
	}
	return t.repo.WriteCommit(t.ctx, t.root, ostree.CommitOptions{Metadata: meta, Timestamp: time.Unix(0, 0)})
}

// shortName is name cut to a length fit for an error message.
func shortName(name string) string {
	if len(name) > 256 {
		return name[:256] + "..."
	}
	return name
}
