package ostree_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bootc-go/bootc/ostree"
)

func newArchiveRepo(t *testing.T) *ostree.Repo {
	t.Helper()
	repo, err := ostree.CreateRepo(context.Background(), filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	return repo
}

// writeSimpleCommit commits files (name -> content) at the root, with metadata.
func writeSimpleCommit(t *testing.T, repo *ostree.Repo, ref string, files map[string]string, opts ostree.CommitOptions) string {
	t.Helper()
	ctx := context.Background()
	var csum string
	err := repo.WithTransaction(ctx, func(tx *ostree.Transaction) error {
		root := ostree.NewMutableTree()
		defer root.Close()
		dm, err := repo.WriteDirMeta(ctx, ostree.FileMeta{Mode: 0o755})
		if err != nil {
			return err
		}
		if err := root.SetMetadataChecksum(dm); err != nil {
			return err
		}
		for name, content := range files {
			dir, base := filepath.Split(name)
			node := root
			if dir != "" {
				for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
					sub, err := node.EnsureDir(part)
					if err != nil {
						return err
					}
					defer sub.Close()
					if err := sub.SetMetadataChecksum(dm); err != nil {
						return err
					}
					node = sub
				}
			}
			fc, err := repo.WriteRegfile(ctx, ostree.FileMeta{Mode: 0o644}, int64(len(content)), strings.NewReader(content))
			if err != nil {
				return err
			}
			if err := node.ReplaceFile(base, fc); err != nil {
				return err
			}
		}
		csum, err = repo.WriteCommit(ctx, root, opts)
		if err != nil {
			return err
		}
		if ref != "" {
			tx.SetRef(ref, csum)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return csum
}

func TestOpenMissingRepo(t *testing.T) {
	_, err := ostree.OpenRepo(context.Background(), filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want fs.ErrNotExist, got %v", err)
	}
	var gerr *ostree.GError
	if !errors.As(err, &gerr) {
		t.Fatalf("want a *GError in %v", err)
	}
	if gerr.Domain != ostree.DomainIO || gerr.Code != ostree.IOErrorNotFound || gerr.Message == "" {
		t.Fatalf("domain/code/message not kept: %+v", gerr)
	}
	if !strings.Contains(err.Error(), "nope") {
		t.Fatalf("error does not name the repo: %v", err)
	}
}

func TestGErrorIs(t *testing.T) {
	tests := []struct {
		err    *ostree.GError
		target error
		want   bool
	}{
		{&ostree.GError{Domain: ostree.DomainIO, Code: ostree.IOErrorCancelled}, context.Canceled, true},
		{&ostree.GError{Domain: ostree.DomainIO, Code: ostree.IOErrorNotFound}, fs.ErrNotExist, true},
		{&ostree.GError{Domain: ostree.DomainIO, Code: ostree.IOErrorExists}, fs.ErrExist, true},
		{&ostree.GError{Domain: ostree.DomainIO, Code: ostree.IOErrorFailed}, fs.ErrNotExist, false},
		{&ostree.GError{Domain: ostree.DomainIO, Code: ostree.IOErrorPermissionDenied}, fs.ErrPermission, true},
		{&ostree.GError{Domain: ostree.DomainIO, Code: ostree.IOErrorFailed}, fs.ErrPermission, false},
		{&ostree.GError{Domain: ostree.DomainGPG, Code: ostree.IOErrorNotFound}, fs.ErrNotExist, false},
		{&ostree.GError{Domain: ostree.DomainIO, Code: ostree.IOErrorBusy}, &ostree.GError{Domain: ostree.DomainIO, Code: ostree.IOErrorBusy}, true},
		{&ostree.GError{Domain: ostree.DomainIO, Code: ostree.IOErrorBusy}, &ostree.GError{Domain: ostree.DomainGPG, Code: ostree.IOErrorBusy}, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("errors.Is(%+v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
		}
	}
}

// cancelAfter is a reader that cancels a context once n bytes were read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestCancellation(t *testing.T) {
	repo := newArchiveRepo(t)

	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := ostree.OpenRepo(ctx, repo.Path())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
	})

	t.Run("cancelled inside libostree", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		size := int64(8 << 20)
		data := bytes.Repeat([]byte("x"), int(size))
		err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
			_, err := repo.WriteRegfile(ctx, ostree.FileMeta{Mode: 0o644}, size,
				&cancelAfter{r: bytes.NewReader(data), n: 1 << 20, cancel: cancel})
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		var gerr *ostree.GError
		if !errors.As(err, &gerr) || gerr.Domain != ostree.DomainIO || gerr.Code != ostree.IOErrorCancelled {
			t.Fatalf("want the G_IO_ERROR_CANCELLED GError kept in %v", err)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		_, err := repo.ListRefs(ctx, "")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want DeadlineExceeded, got %v", err)
		}
	})
}

func TestWriteRegfileSizeMismatch(t *testing.T) {
	repo := newArchiveRepo(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		size    int64
		content string
	}{
		{"short inline", 10, "abc"},
		{"long inline", 2, "abc"},
		{"short streamed", 1 << 20, "abc"},
		{"long streamed", 100 << 10, strings.Repeat("y", 100<<10+1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
				_, err := repo.WriteRegfile(ctx, ostree.FileMeta{Mode: 0o644}, tt.size, strings.NewReader(tt.content))
				return err
			})
			if err == nil {
				t.Fatal("want an error for content not matching its size")
			}
		})
	}
}

func TestCommitMetadataRoundTrip(t *testing.T) {
	repo := newArchiveRepo(t)
	ctx := context.Background()
	meta := ostree.Metadata{
		"ostree.manifest-digest": "sha256:abc",
		"strv":                   []string{"a", "b"},
		"bytes":                  []byte{0, 1, 2},
		"bool":                   true,
		"u64":                    uint64(1 << 40),
		"i64":                    int64(-5),
		"u32":                    uint32(7),
		"i32":                    int32(-7),
		"nested":                 ostree.Metadata{"k": "v"},
	}
	ts := time.Date(2024, 8, 7, 12, 0, 0, 0, time.UTC)
	parent := writeSimpleCommit(t, repo, "", map[string]string{"a": "1"}, ostree.CommitOptions{})
	csum := writeSimpleCommit(t, repo, "test/ref", map[string]string{"a": "1", "d/b": "2"},
		ostree.CommitOptions{Parent: parent, Subject: "subj", Body: "body", Metadata: meta, Timestamp: ts})

	c, err := repo.ReadCommit(ctx, "test/ref")
	if err != nil {
		t.Fatal(err)
	}
	if c.Checksum != csum || c.Parent != parent || c.Subject != "subj" || c.Body != "body" || !c.Timestamp.Equal(ts) {
		t.Fatalf("commit fields: %+v", c)
	}
	if !reflect.DeepEqual(c.Metadata, meta) {
		t.Fatalf("metadata:\n got %#v\nwant %#v", c.Metadata, meta)
	}
	if len(c.RootContents) != 64 || len(c.RootMeta) != 64 {
		t.Fatalf("root checksums: %q %q", c.RootContents, c.RootMeta)
	}

	// Detached metadata: none, then written, then removed.
	if d, err := repo.ReadDetachedMetadata(ctx, csum); err != nil || d != nil {
		t.Fatalf("want no detached metadata, got %v %v", d, err)
	}
	det := ostree.Metadata{"ostree-ext.cached.manifest-digest": "sha256:def"}
	if err := repo.WriteDetachedMetadata(ctx, csum, det); err != nil {
		t.Fatal(err)
	}
	if d, err := repo.ReadDetachedMetadata(ctx, csum); err != nil || !reflect.DeepEqual(d, det) {
		t.Fatalf("detached metadata: %v %v", d, err)
	}
	if err := repo.WriteDetachedMetadata(ctx, csum, nil); err != nil {
		t.Fatal(err)
	}
	if d, err := repo.ReadDetachedMetadata(ctx, csum); err != nil || d != nil {
		t.Fatalf("want detached metadata removed, got %v %v", d, err)
	}

	if _, err := repo.WriteCommit(ctx, ostree.NewMutableTree(), ostree.CommitOptions{Metadata: ostree.Metadata{"bad": 1.5}}); err == nil {
		t.Fatal("want an error for an unsupported metadata type")
	}
}

func TestRefs(t *testing.T) {
	repo := newArchiveRepo(t)
	ctx := context.Background()
	a := writeSimpleCommit(t, repo, "", map[string]string{"a": "1"}, ostree.CommitOptions{})
	b := writeSimpleCommit(t, repo, "", map[string]string{"b": "2"}, ostree.CommitOptions{})

	for ref, csum := range map[string]string{"ostree/container/blob/sha256_3A_aa": a, "ostree/container/image/x": b, "other": a} {
		if err := repo.SetRef(ctx, ref, csum); err != nil {
			t.Fatal(err)
		}
	}
	refs, err := repo.ListRefs(ctx, "ostree/container")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ostree/container/blob/sha256_3A_aa": a, "ostree/container/image/x": b}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("ListRefs = %v, want %v", refs, want)
	}
	if got, err := repo.ResolveRev(ctx, "other", false); err != nil || got != a {
		t.Fatalf("ResolveRev = %q %v", got, err)
	}
	if err := repo.DeleteRef(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if got, err := repo.ResolveRev(ctx, "other", true); err != nil || got != "" {
		t.Fatalf("deleted ref resolves to %q %v", got, err)
	}
	if _, err := repo.ResolveRev(ctx, "other", false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want fs.ErrNotExist for a missing ref, got %v", err)
	}

	// An aborted transaction leaves refs as they were.
	boom := errors.New("boom")
	err = repo.WithTransaction(ctx, func(tx *ostree.Transaction) error {
		tx.SetRef("aborted", a)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("want boom, got %v", err)
	}
	if got, _ := repo.ResolveRev(ctx, "aborted", true); got != "" {
		t.Fatalf("ref of an aborted transaction was set to %s", got)
	}

	// Prune removes b's objects once nothing refers to it.
	if err := repo.DeleteRef(ctx, "ostree/container/image/x"); err != nil {
		t.Fatal(err)
	}
	st, err := repo.Prune(ctx, ostree.PruneRefsOnly, -1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pruned == 0 {
		t.Fatalf("prune removed nothing: %+v", st)
	}
	if ok, err := repo.HasObject(ctx, ostree.ObjectCommit, b); err != nil || ok {
		t.Fatalf("pruned commit still present (%v, %v)", ok, err)
	}
	if ok, err := repo.HasObject(ctx, ostree.ObjectCommit, a); err != nil || !ok {
		t.Fatalf("referenced commit missing (%v, %v)", ok, err)
	}
}

func TestMutableTreeAndCheckout(t *testing.T) {
	repo := newArchiveRepo(t)
	ctx := context.Background()
	base := writeSimpleCommit(t, repo, "base", map[string]string{"keep": "k", "gone": "g", "dir/inner": "i"}, ostree.CommitOptions{})
	writeSimpleCommit(t, repo, "layer", map[string]string{".wh.gone": "", "new": "n", "keep": "K2"}, ostree.CommitOptions{})

	// Tree-level merge: remove, replace, look up.
	mt, err := repo.NewMutableTreeFromCommit(base)
	if err != nil {
		t.Fatal(err)
	}
	defer mt.Close()
	if err := mt.Remove("gone", false); err != nil {
		t.Fatal(err)
	}
	if err := mt.Remove("gone", true); err != nil {
		t.Fatalf("allowMissing remove: %v", err)
	}
	if err := mt.Remove("gone", false); err == nil {
		t.Fatal("want an error removing a missing file")
	}
	file, dir, err := mt.Lookup("dir")
	if err != nil || file != "" || dir == nil {
		t.Fatalf("Lookup(dir) = %q %v %v", file, dir, err)
	}
	if got, err := dir.Files(); err != nil || len(got) != 1 || got["inner"] == "" {
		t.Fatalf("dir files: %v", got)
	}
	dir.Close()
	if _, _, err := mt.Lookup("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want fs.ErrNotExist, got %v", err)
	}
	if got, err := mt.Subdirs(); err != nil || !reflect.DeepEqual(got, []string{"dir"}) {
		t.Fatalf("Subdirs = %v", got)
	}

	// Union checkout with whiteouts, as layers are merged on disk.
	dest := filepath.Join(t.TempDir(), "co")
	opts := ostree.CheckoutOptions{User: true, Overwrite: ostree.OverwriteUnionFiles, ProcessWhiteouts: true}
	if err := repo.Checkout(ctx, "base", dest, opts); err != nil {
		t.Fatal(err)
	}
	if err := repo.Checkout(ctx, "layer", dest, opts); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"keep": "K2", "new": "n", "dir/inner": "i"} {
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q %v, want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"gone", ".wh.gone"} {
		if _, err := os.Lstat(filepath.Join(dest, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s should not exist after whiteout processing (%v)", name, err)
		}
	}
	if err := repo.Checkout(ctx, "nosuchref", filepath.Join(t.TempDir(), "x"), opts); err == nil {
		t.Fatal("want an error checking out a missing ref")
	}
}

func TestRepoConfigAndClose(t *testing.T) {
	repo := newArchiveRepo(t)
	if m := repo.Mode(); m != ostree.ModeArchive {
		t.Fatalf("Mode = %v", m)
	}
	if err := repo.SetConfig("sysroot", "bootloader", "none"); err != nil {
		t.Fatal(err)
	}
	reopened, err := ostree.OpenRepo(context.Background(), repo.Path())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := reopened.Config("sysroot", "bootloader"); err != nil || !ok || v != "none" {
		t.Fatalf("Config = %q %v %v", v, ok, err)
	}
	reopened.Close()
	reopened.Close() // idempotent
	if _, err := reopened.ListRefs(context.Background(), ""); !errors.Is(err, ostree.ErrClosed) {
		t.Fatalf("want ErrClosed after Close, got %v", err)
	}
}

// TestMetadataInvalidStrings is audit M3 and L2: GLib refuses strings that are not valid
// UTF-8, and libostree then silently drops the key; a nil nested Metadata passed NULL into
// the dictionary (a GLib-CRITICAL and a dropped key). Invalid strings are now an error
// naming the key, and a nil nested Metadata is stored as an empty dictionary.
func TestMetadataInvalidStrings(t *testing.T) {
	repo := newArchiveRepo(t)
	ctx := context.Background()
	csum := writeSimpleCommit(t, repo, "", map[string]string{"a": "1"}, ostree.CommitOptions{})
	for _, tc := range []struct {
		name string
		meta ostree.Metadata
		want string
	}{
		{name: "string", meta: ostree.Metadata{"ok": "v", "bad": "caf\xe9"}, want: `metadata key "bad": string`},
		{name: "string array", meta: ostree.Metadata{"bad": []string{"a", "\xff"}}, want: `metadata key "bad": string 1`},
		{name: "key", meta: ostree.Metadata{"k\xff": "v"}, want: "is not valid UTF-8"},
		{name: "nested", meta: ostree.Metadata{"n": ostree.Metadata{"bad": "\xfe"}}, want: `metadata key "n": metadata key "bad"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := repo.WriteDetachedMetadata(ctx, csum, tc.meta)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				d, _ := repo.ReadDetachedMetadata(ctx, csum)
				t.Fatalf("WriteDetachedMetadata: %v, want an error containing %q (stored: %#v)", err, tc.want, d)
			}
		})
	}
	if err := repo.WriteDetachedMetadata(ctx, csum, ostree.Metadata{"n": ostree.Metadata(nil)}); err != nil {
		t.Fatal(err)
	}
	d, err := repo.ReadDetachedMetadata(ctx, csum)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := d["n"].(ostree.Metadata); !ok || len(n) != 0 {
		t.Fatalf("nested nil metadata read back as %#v", d)
	}
}
