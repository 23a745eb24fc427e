package ostreeext_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootc-go/bootc/internal/ostreeext"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/ostree/ostreetest"
	"github.com/bootc-go/bootc/tests/encapsulate"
)

// An encapsulated image imported into a sysroot's repository deploys with its
// capabilities and extended attributes, and nothing of the embedded repository.
func TestDeployEncapsulated(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	commit := e.commitTree(t, "base", nil)
	if _, err := encapsulate.Encapsulate(ctx, e.src, commit, e.layout, "v1", encapsulate.Options{Chunks: 4}); err != nil {
		t.Fatal(err)
	}
	sysroot := ostreetest.TmpfsDir(t, 256)
	sr, err := ostree.OpenSysroot(sysroot)
	must(t, err)
	t.Cleanup(func() { sr.Close() })
	must(t, sr.EnsureInitialized(ctx))
	must(t, sr.InitStateroot(ctx, "default"))
	must(t, sr.Load(ctx))
	repo, err := sr.Repo(ctx)
	must(t, err)
	t.Cleanup(func() { repo.Close() })
	res, err := ostreeext.ImportImage(ctx, repo, imageFromLayout(t, e.layout, "v1", nil), ostreeext.Options{})
	must(t, err)
	origin, err := ostree.ParseKeyFile("[origin]\ncontainer-image-reference=ostree-unverified-image:oci:" + e.layout + ":v1\n")
	must(t, err)
	d, err := sr.DeployTree(ctx, ostree.DeployOptions{Stateroot: "default", Revision: res.Commit, Origin: origin})
	must(t, err)
	must(t, sr.WriteDeployments(ctx, []*ostree.Deployment{d}, ostree.WriteOptions{}))
	root := sr.DeploymentPath(d)
	if v := getxattr(t, filepath.Join(root, "usr/bin/newuidmap"), "security.capability"); !bytes.Equal(v, capNetRaw) {
		t.Errorf("deployed newuidmap capability %x", v)
	}
	if v := getxattr(t, filepath.Join(root, "usr/share/doc/a/README"), "user.note"); string(v) != "hello" {
		t.Errorf("deployed user.note = %q", v)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/os-release")); err != nil || string(b) != "ID=test\n" {
		t.Errorf("deployed /etc/os-release: %q %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "sysroot/ostree/repo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("embedded repository in the deployment: %v", err)
	}
	fsck(t, filepath.Join(sysroot, "ostree/repo"))
}
