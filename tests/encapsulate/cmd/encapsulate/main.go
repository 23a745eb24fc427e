// Command encapsulate writes an ostree commit as an ostree-native OCI image (test use):
//
//	go run -tags "containers_image_openpgp exclude_graphdriver_btrfs" ./tests/encapsulate/cmd/encapsulate \
//	    -repo /srv/repo -rev exampleos/x86_64 -oci /srv/oci:native -chunks 4 [-label k=v ...]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/tests/encapsulate"
)

type labels map[string]string

func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }

func (l labels) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("label %q is not KEY=VALUE", s)
	}
	l[k] = v
	return nil
}

func main() {
	repoPath := flag.String("repo", "", "ostree repository holding the commit")
	rev := flag.String("rev", "", "commit checksum or ref")
	dest := flag.String("oci", "", "OCI layout and tag, DIR:TAG")
	chunks := flag.Int("chunks", 0, "number of chunk layers after the commit layer")
	uncompressed := flag.Bool("uncompressed", false, "write plain tar layers")
	lbl := labels{}
	flag.Var(lbl, "label", "extra config label KEY=VALUE (repeatable)")
	flag.Parse()
	dir, tag, ok := strings.Cut(*dest, ":")
	if *repoPath == "" || *rev == "" || !ok {
		flag.Usage()
		os.Exit(2)
	}
	ctx := context.Background()
	repo, err := ostree.OpenRepo(ctx, *repoPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "encapsulate:", err)
		os.Exit(1)
	}
	defer repo.Close()
	img, err := encapsulate.Encapsulate(ctx, repo, *rev, dir, tag, encapsulate.Options{Chunks: *chunks, Labels: lbl, Uncompressed: *uncompressed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "encapsulate:", err)
		os.Exit(1)
	}
	fmt.Printf("%s %s commit %s, %d layers\n", img.Reference(), img.ManifestDigest, img.Commit, len(img.Layers))
}
