package ostreeext

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/bootc-go/bootc/internal/tarstream"
)

type tarEntry struct {
	name, link, content string
	typ                 byte
	mtime               int64
	xattr               string
}

func buildTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o755, Size: int64(len(e.content)),
			ModTime: time.Unix(e.mtime, 0), Format: tar.FormatPAX}
		if e.xattr != "" {
			h.PAXRecords = map[string]string{"SCHILY.xattr.user.x": e.xattr}
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.content))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func readTar(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	tr := tarstream.NewReader(bytes.NewReader(b))
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		c, _ := io.ReadAll(tr)
		e := tarEntry{name: h.Name, link: h.Linkname, typ: h.Typeflag, content: string(c), mtime: h.ModTime.Unix()}
		for _, x := range h.Xattrs {
			e.xattr += x.Name + "=" + string(x.Value)
		}
		out = append(out, e)
	}
}

const obj = "sysroot/ostree/repo/objects/ab/" + "cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789.file"

func TestFilterDerived(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want []tarEntry
		sysroot  int
	}{
		{
			name: "modified object becomes the first link's file, later links point at it",
			in: []tarEntry{
				{name: "sysroot/", typ: tar.TypeDir, mtime: 5},
				{name: obj, typ: tar.TypeReg, content: "new content", mtime: 5, xattr: "v"},
				{name: "usr/bin/sh", typ: tar.TypeLink, link: obj, mtime: 5},
				{name: "usr/bin/bash", typ: tar.TypeLink, link: "/" + obj, mtime: 5},
			},
			want: []tarEntry{
				{name: "usr/bin/sh", typ: tar.TypeReg, content: "new content", mtime: 5, xattr: "user.x=v"},
				{name: "usr/bin/bash", typ: tar.TypeLink, link: "usr/bin/sh", mtime: 5},
			},
			sysroot: 1,
		},
		{
			name: "link to an object not in the layer is dropped, other sysroot content too",
			in: []tarEntry{
				{name: "usr/bin/ls", typ: tar.TypeLink, link: obj, mtime: 7},
				{name: "sysroot/ostree/repo/config", typ: tar.TypeReg, content: "[core]", mtime: 7},
				{name: "./usr/share/x", typ: tar.TypeReg, content: "x", mtime: 7, xattr: "kept"},
				{name: "usr/share/y", typ: tar.TypeSymlink, link: "x", mtime: 7},
			},
			want: []tarEntry{
				{name: "./usr/share/x", typ: tar.TypeReg, content: "x", mtime: 7, xattr: "user.x=kept"},
				{name: "usr/share/y", typ: tar.TypeSymlink, link: "x", mtime: 7},
			},
			sysroot: 2,
		},
		{
			name: "unmodified object (mtime 0) is not held: dropped with sysroot",
			in: []tarEntry{
				{name: obj, typ: tar.TypeReg, content: "c", mtime: 0},
				{name: "usr/a", typ: tar.TypeReg, content: "a", mtime: 1},
			},
			want:    []tarEntry{{name: "usr/a", typ: tar.TypeReg, content: "a", mtime: 1}},
			sysroot: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			filtered := map[string]int{}
			if err := filterDerived(context.Background(), bytes.NewReader(buildTar(t, tc.in)), &out, t.TempDir(), filtered); err != nil {
				t.Fatal(err)
			}
			got := readTar(t, out.Bytes())
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("entry %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if filtered["sysroot"] != tc.sysroot {
				t.Errorf("filtered %v, want sysroot=%d", filtered, tc.sysroot)
			}
		})
	}
}
