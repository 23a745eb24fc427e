package main

import (
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/storage/storagetest"
)

// treeSize is the total size of the regular files under dir (0 if it does not exist).
func treeSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// freeBytes is the space left on the filesystem holding dir.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// TestSwitchENOSPC runs a switch on a sysroot with too little space left: one image whose
// content does not fit (nearly full sysroot), one whose small compressed layer expands
// beyond the free space (a gzip bomb). Each must fail with one clear error line, keep the
// previous deployment, and leave the repo's tmp/ and the store as they were.
func TestSwitchENOSPC(t *testing.T) {
	random := make([]byte, 24<<20)
	rand.New(rand.NewSource(1)).Read(random)
	for _, tc := range []struct {
		name string
		big  storagetest.File
		fill bool // fill the sysroot to leave ~8 MiB
	}{
		{name: "nearly full sysroot", big: storagetest.File{Path: "usr/lib/big", Mode: 0o644, Content: random}, fill: true},
		{name: "gzip bomb", big: storagetest.File{Path: "usr/lib/zeros", Mode: 0o644, Content: make([]byte, 400<<20)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHostSize(t, 96)
			layout := filepath.Join(t.TempDir(), "oci")
			h.bootc(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v1", bootableImage("1")))
			if tc.fill {
				free := freeBytes(t, h.sysroot)
				filler := filepath.Join(h.sysroot, "filler")
				if err := os.WriteFile(filler, make([]byte, max(free-8<<20, 0)), 0o644); err != nil {
					t.Fatal(err)
				}
				defer os.Remove(filler)
			}
			before := h.fullState(t)
			tmp := filepath.Join(h.sysroot, "ostree/repo/tmp")
			tmpBefore, storeBefore := treeSize(t, tmp), treeSize(t, h.storage)
			code, out, errs := h.try(t, "switch", "--quiet", "--transport", "oci", writeOCI(t, layout, "v2", withFiles(bootableImage("2"), tc.big)))
			checkOneLineError(t, code, out, errs)
			if !strings.Contains(errs, "space") {
				t.Errorf("the error does not say the disk is full: %s", errs)
			}
			if after := h.fullState(t); after != before {
				t.Errorf("the failed switch changed the sysroot, repo or store:\n--- before\n%s\n--- after\n%s", before, after)
			}
			if v := h.status(t).Status.Booted.Image.Version; v == nil || *v != "1" {
				t.Errorf("v1 is not the deployment any more: %v", v)
			}
			if n := treeSize(t, tmp); n > tmpBefore {
				var names []string
				_ = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, _ error) error { names = append(names, p); return nil })
				t.Errorf("repo tmp/ grew from %d to %d bytes: %q", tmpBefore, n, names)
			}
			if n := treeSize(t, h.storage); n > storeBefore+1<<20 {
				t.Errorf("the store grew from %d to %d bytes", storeBefore, n)
			}
			h.fsck(t)
		})
	}
}
