package importer_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/tests/fixtures"
)

var errDiscard = errors.New("discard")

// FuzzImportLayer feeds arbitrary bytes to the layer importer: it must return an error or a
// commit, never panic or hang, and never write outside the transaction it is given.
func FuzzImportLayer(f *testing.F) {
	for _, es := range [][]fixtures.Entry{baseLayer(), derivedLayer(), layerTree()} {
		var buf bytes.Buffer
		if err := fixtures.WriteTar(&buf, es, fixtures.TarOptions{Prefix: "./"}); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte{})
	repo, err := ostree.CreateRepo(context.Background(), filepath.Join(f.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { repo.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		err := repo.WithTransaction(ctx, func(*ostree.Transaction) error {
			_, _, err := importer.ImportLayer(ctx, repo, bytes.NewReader(data), importer.LayerOptions{
				Rules: importer.PathRules{VarToFactory: true}, Writers: 2})
			if err != nil {
				return err
			}
			return errDiscard
		})
		if err == nil {
			t.Fatal("the transaction should have been discarded")
		}
	})
}
