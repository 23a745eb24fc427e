package importer_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/tests/fixtures"
)

// TestImportEtcHostnameResolvconf (upstream tmt 011: /etc/hostname is not an empty file,
// and /usr/etc/resolv.conf in the booted commit is a symlink if it exists): the empty
// hostname and resolv.conf a container build leaves in /etc (and the project's test image
// has, tests/image/mkbase.sh) are dropped from the image's usr/etc, so that the deployment
// neither has an empty /etc/hostname nor an empty resolv.conf; a real hostname, a
// resolv.conf symlink (to systemd-resolved's stub) and a non-empty resolv.conf are kept as
// they are, whichever layer wrote them.
func TestImportEtcHostnameResolvconf(t *testing.T) {
	etc := func(entries ...fixtures.Entry) []fixtures.Entry {
		return append([]fixtures.Entry{{Path: "etc", Kind: fixtures.Dir, Mode: 0o755}}, entries...)
	}
	empty := func(p string) fixtures.Entry { return fixtures.Entry{Path: p, Kind: fixtures.File, Mode: 0o644} }
	stub := fixtures.Entry{Path: "etc/resolv.conf", Kind: fixtures.Symlink, Target: "../run/systemd/resolve/stub-resolv.conf"}
	for _, tc := range []struct {
		name   string
		layers [][]fixtures.Entry
		want   map[string]string // path in the commit -> what checkoutSnapshot says; "" absent
	}{
		{"empty files of the base layer",
			[][]fixtures.Entry{etc(empty("etc/hostname"), empty("etc/resolv.conf"))},
			map[string]string{"usr/etc/hostname": "", "usr/etc/resolv.conf": ""}},
		{"empty files a derived layer adds over real ones",
			[][]fixtures.Entry{etc(fixtures.Entry{Path: "etc/hostname", Kind: fixtures.File, Mode: 0o644, Content: []byte("h\n")}, stub),
				etc(empty("etc/hostname"), empty("etc/resolv.conf"))},
			map[string]string{"usr/etc/hostname": "", "usr/etc/resolv.conf": ""}},
		{"real hostname, resolv.conf symlink",
			[][]fixtures.Entry{etc(fixtures.Entry{Path: "etc/hostname", Kind: fixtures.File, Mode: 0o644, Content: []byte("bootc-test\n")}, stub)},
			map[string]string{"usr/etc/hostname": `file "bootc-test\n"`, "usr/etc/resolv.conf": "-> ../run/systemd/resolve/stub-resolv.conf"}},
		{"symlink a derived layer adds over an empty file",
			[][]fixtures.Entry{etc(empty("etc/resolv.conf")), etc(stub)},
			map[string]string{"usr/etc/resolv.conf": "-> ../run/systemd/resolve/stub-resolv.conf"}},
		{"non-empty resolv.conf",
			[][]fixtures.Entry{etc(fixtures.Entry{Path: "etc/resolv.conf", Kind: fixtures.File, Mode: 0o644, Content: []byte("nameserver 192.0.2.1\n")})},
			map[string]string{"usr/etc/resolv.conf": `file "nameserver 192.0.2.1\n"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			repo, err := ostree.CreateRepo(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
			if err != nil {
				t.Fatal(err)
			}
			defer repo.Close()
			img, _ := testImage(t, "etc", "amd64", append([][]fixtures.Entry{kernel}, tc.layers...)...)
			res, err := importer.ImportImage(ctx, repo, img, importer.Options{Rules: importer.DefaultRules(), Architecture: "amd64"})
			if err != nil {
				t.Fatal(err)
			}
			snap := checkoutSnapshot(t, repo, res.Commit)
			for p, want := range tc.want {
				if got := snap[p]; got != want {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
			}
		})
	}
}
