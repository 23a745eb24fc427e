package ostreeext_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/ostreeext"
	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/tests/encapsulate"
)

// gpgHome makes a GnuPG home with one new signing key and returns it and the key's
// fingerprint; its agent is stopped at the end of the test.
func gpgHome(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		testskip.Skip(t, "tool:gpg", "needs gpg (Debian package gnupg)")
	}
	home := filepath.Join(dir, "gnupg-"+name)
	must(t, os.MkdirAll(home, 0o700))
	gpg := func(args ...string) string {
		cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gpg %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() })
	gpg("--quick-gen-key", name+" <"+name+"@example.invalid>", "ed25519", "sign", "never")
	var fpr string
	for _, line := range strings.Split(gpg("--list-keys", "--with-colons"), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		t.Fatal("no key fingerprint")
	}
	return home, fpr
}

func exportKey(t *testing.T, home, fpr, dest string) {
	t.Helper()
	out, err := exec.Command("gpg", "--homedir", home, "--batch", "--export", fpr).Output()
	must(t, err)
	must(t, os.MkdirAll(filepath.Dir(dest), 0o755))
	must(t, os.WriteFile(dest, out, 0o644))
}

func TestRemoteSignature(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	home, fpr := gpgHome(t, e.dir, "good")
	otherHome, otherFpr := gpgHome(t, e.dir, "other")
	// The sysroot whose /etc/ostree/remotes.d configures the remotes (offline: gpgkeypath
	// is taken under it).
	sysroot := filepath.Join(e.dir, "sysroot")
	exportKey(t, home, fpr, filepath.Join(sysroot, "etc/pki/ostree/good.gpg"))
	exportKey(t, otherHome, otherFpr, filepath.Join(sysroot, "etc/pki/ostree/other.gpg"))
	must(t, os.MkdirAll(filepath.Join(sysroot, "etc/ostree/remotes.d"), 0o755))
	must(t, os.WriteFile(filepath.Join(sysroot, "etc/ostree/remotes.d/test.conf"), []byte(
		"[remote \"good\"]\nurl=https://example.invalid/repo\ngpg-verify=true\ngpgkeypath=/etc/pki/ostree/good.gpg\n\n"+
			"[remote \"wrongkey\"]\nurl=https://example.invalid/repo\ngpgkeypath=/etc/pki/ostree/other.gpg\n\n"+
			"[remote \"nogpg\"]\nurl=https://example.invalid/repo\ngpg-verify=false\n"), 0o644))

	signed := e.commitTree(t, "signed", map[string]string{"usr/share/flavour": "signed"})
	run(t, "ostree", "gpg-sign", "--repo="+e.srcRepo, "--gpg-homedir="+home, signed, fpr)
	unsigned := e.commitTree(t, "unsigned", map[string]string{"usr/share/flavour": "unsigned"})
	for _, c := range []struct{ tag, commit string }{{"signed", signed}, {"unsigned", unsigned}} {
		_, err := encapsulate.Encapsulate(ctx, e.src, c.commit, e.layout, c.tag, encapsulate.Options{Chunks: 2})
		must(t, err)
	}
	// A tampered image: the signed commit, one content object changed in place (same
	// size), diff IDs not checked so that only the object checksum can catch it.
	tamperedLayout := filepath.Join(e.dir, "oci-tampered")
	enc, err := encapsulate.Encapsulate(ctx, e.src, signed, tamperedLayout, "t", encapsulate.Options{Uncompressed: true})
	must(t, err)
	blob := filepath.Join(tamperedLayout, "blobs/sha256", enc.Layers[0].Digest.Encoded())
	b, err := os.ReadFile(blob)
	must(t, err)
	i := strings.Index(string(b), "doc b")
	if i < 0 {
		t.Fatal("content to tamper with not found")
	}
	copy(b[i:], "DOC B")
	must(t, os.WriteFile(blob, b, 0o644))

	tampered := func() importer.Image {
		img := imageFromLayout(t, tamperedLayout, "t", nil)
		for i := range img.Layers {
			img.Layers[i].DiffID = ""
		}
		return img
	}
	for _, tc := range []struct {
		name, remote string
		img          func() importer.Image
		wantErr      string
	}{
		{"wrong key", "wrongkey", func() importer.Image { return imageFromLayout(t, e.layout, "signed", nil) }, "no valid signature"},
		{"unsigned", "good", func() importer.Image { return imageFromLayout(t, e.layout, "unsigned", nil) }, "not signed"},
		{"tampered object", "good", tampered, "file object"},
		{"good", "good", func() importer.Image { return imageFromLayout(t, e.layout, "signed", nil) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repoDir := filepath.Join(e.dir, "repo-"+strings.ReplaceAll(tc.name, " ", "-"))
			repo := newRepo(t, repoDir)
			verify, err := ostreeext.RemoteVerifier(sysroot, repo, tc.remote)
			must(t, err)
			before, err := repo.ListRefs(ctx, "")
			must(t, err)
			res, err := ostreeext.ImportImage(ctx, repo, tc.img(), ostreeext.Options{Verify: verify})
			if tc.wantErr == "" {
				must(t, err)
				if res.Verified == "" || res.BaseCommit != signed {
					t.Fatalf("verified %q base %s", res.Verified, res.BaseCommit)
				}
				fsck(t, repoDir)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			after, lerr := repo.ListRefs(ctx, "")
			must(t, lerr)
			if !reflect.DeepEqual(before, after) {
				t.Errorf("refs changed: %v -> %v", before, after)
			}
			for _, c := range []string{signed, unsigned} {
				if have, herr := repo.HasObject(ctx, ostree.ObjectCommit, c); herr != nil || have {
					out, _ := exec.Command("find", repoDir, "-name", "*.commit*").CombinedOutput()
					t.Errorf("commit %s written (%v): %s", c, herr, out)
				}
			}
			t.Logf("refused: %v", err)
		})
	}
	t.Run("no gpg", func(t *testing.T) {
		repo := newRepo(t, filepath.Join(e.dir, "repo-nogpg"))
		if _, err := ostreeext.RemoteVerifier(sysroot, repo, "nogpg"); err == nil {
			t.Fatal("a remote with gpg-verify=false gave a verifier")
		}
		if _, err := ostreeext.RemoteVerifier(sysroot, repo, "missing"); err == nil {
			t.Fatal("a missing remote gave a verifier")
		}
		for _, tc := range []struct {
			ref  string
			want bool
		}{
			{"ostree-remote-image:good:oci:/srv/oci:signed", true},
			{"ostree-remote-registry:good:quay.io/example/os:1", true},
			{"ostree-unverified-image:oci:/srv/oci:signed", false},
			{"ostree-image-signed:docker://quay.io/example/os:1", false},
		} {
			ref, err := imgref.Parse(tc.ref)
			must(t, err)
			v, err := ostreeext.VerifierFor(ref, sysroot, repo)
			if err != nil || (v != nil) != tc.want {
				t.Errorf("%s: verifier %v, %v; want one: %v", tc.ref, v != nil, err, tc.want)
			}
		}
	})
}
