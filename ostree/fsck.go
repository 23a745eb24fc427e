package ostree

// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
)

// FsckCommit verifies every object reachable from commit, as `ostree fsck` does: it exists,
// and its content (for files: header, xattrs and data) hashes to its name. A missing object
// stops the walk below it (the result names it); only cancellation is an error.
func (r *Repo) FsckCommit(ctx context.Context, commit string) (FsckResult, error) {
	var res FsckResult
	err := r.callChecked(ctx, func(p *C.OstreeRepo, c *C.GCancellable, cerr **C.GError) bool {
		cc := cstr(commit)
		defer freeC(cc)
		var n C.guint
		arr := C.bootc_repo_fsck_commit(p, cc, &n, c, cerr)
		if arr == nil {
			return false
		}
		res.Objects, res.Bad = int(n), takeStrv(arr)
		return true
	})
	if err != nil {
		return res, fmt.Errorf("checking commit %s: %w", commit, err)
	}
	return res, nil
}
