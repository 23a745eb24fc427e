package ostreeext

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bootc-go/bootc/internal/tarstream"
	"github.com/bootc-go/bootc/ostree"
)

// heldObject is a modified regular file under sysroot/ostree/repo/ of a derived layer,
// kept aside until a hardlink to it gives it a real path.
type heldObject struct {
	hdr  *tarstream.Header
	file *os.File
}

func cleanName(name string) string {
	name = strings.TrimPrefix(name, "/")
	for strings.HasPrefix(name, "./") {
		name = strings.TrimPrefix(name, "./")
	}
	return name
}

func isSysroot(name string) bool { return name == "sysroot" || strings.HasPrefix(name, "sysroot/") }

// filterDerived copies a derived layer of an ostree-native image from r to w with
// upstream's handling of sysroot/: a modified (mtime > 0) regular file under
// sysroot/ostree/repo/ is held aside, the first modified hardlink to it becomes that file
// at the link's path, and later hardlinks to it point at that path instead; a modified
// hardlink to an object that was not modified is dropped. Every other entry under sysroot/
// is dropped too (nothing of the embedded repository reaches the deployment; upstream
// drops it unless the base allows toplevel directories other than usr). Dropped entries
// are counted under "sysroot" in filtered. tmpdir holds the held-aside content.
func filterDerived(ctx context.Context, r io.Reader, w io.Writer, tmpdir string, filtered map[string]int) error {
	tr := tarstream.NewReader(r)
	tw := &tarWriter{w: w}
	held := map[string]*heldObject{}
	defer func() {
		for _, h := range held {
			h.file.Close()
		}
	}()
	relinked := map[string]string{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layer: %w", err)
		}
		name := cleanName(hdr.Name)
		modified := !hdr.ModTime.IsZero() && hdr.ModTime.Unix() > 0
		regular := hdr.Typeflag == tarstream.TypeReg || hdr.Typeflag == tarstream.TypeRegA
		if strings.HasPrefix(name, RepoPrefix) && modified && regular {
			f, err := os.CreateTemp(tmpdir, "bootc-sysroot-object-")
			if err != nil {
				return err
			}
			os.Remove(f.Name())
			if _, err := io.CopyN(f, tr, hdr.Size); err != nil {
				f.Close()
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
			if old := held[name]; old != nil {
				old.file.Close()
			}
			held[name] = &heldObject{hdr: hdr, file: f}
			continue
		}
		if hdr.Typeflag == tarstream.TypeLink && modified {
			target := cleanName(hdr.Linkname)
			if strings.HasPrefix(target, RepoPrefix) {
				if h := held[target]; h != nil {
					delete(held, target)
					nh := *h.hdr
					nh.Name = hdr.Name
					if _, err := h.file.Seek(0, io.SeekStart); err != nil {
						return err
					}
					err := tw.writeHeader(&nh, h.file)
					h.file.Close()
					if err != nil {
						return err
					}
					relinked[target] = name
				} else if real, ok := relinked[target]; ok {
					nh := *hdr
					nh.Linkname = real
					if err := tw.writeHeader(&nh, nil); err != nil {
						return err
					}
				} else {
					filtered["sysroot"]++
				}
				continue
			}
		}
		if isSysroot(name) {
			filtered["sysroot"]++
			continue
		}
		var content io.Reader
		if regular {
			content = tr
		}
		if err := tw.writeHeader(hdr, content); err != nil {
			return err
		}
	}
	filtered["sysroot"] += len(held) // modified objects no link gave a path to
	return tw.close()
}

// allowsNonUsr reports whether the base commit lets derived layers keep toplevel
// directories other than usr, etc and var: its prepare-root.conf (etc/ostree/ or
// usr/lib/ostree/) enables composefs (yes, true, 1, maybe, signed, verity) or a transient
// root, as upstream decides.
func allowsNonUsr(ctx context.Context, repo *ostree.Repo, base string) (bool, error) {
	mt, err := repo.NewMutableTreeFromCommit(base)
	if err != nil {
		return false, err
	}
	defer mt.Close()
	for _, dir := range [][]string{{"usr", "etc", "ostree"}, {"usr", "lib", "ostree"}} {
		d, err := mt.Walk(dir)
		if err != nil {
			continue
		}
		files, err := d.Files()
		d.Close()
		if err != nil {
			return false, err
		}
		sum, ok := files["prepare-root.conf"]
		if !ok {
			continue
		}
		f, err := repo.LoadFile(ctx, sum, 1<<20)
		if err != nil {
			return false, err
		}
		if f.IsSymlink() {
			return false, nil
		}
		kf, err := ostree.ParseKeyFile(string(f.Content))
		if err != nil {
			return false, fmt.Errorf("parsing %s/prepare-root.conf: %w", strings.Join(dir, "/"), err)
		}
		if v, ok := kf.Get("root", "transient"); ok && (v == "true" || v == "1") {
			return true, nil
		}
		v, _ := kf.Get("composefs", "enabled")
		switch v {
		case "yes", "true", "1", "maybe", "signed", "verity":
			return true, nil
		}
		return false, nil
	}
	return false, nil
}
