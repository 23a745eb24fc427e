package deploy

import (
	"errors"
	"slices"
	"testing"

	"github.com/bootc-go/bootc/ostree"
)

// TestRollbackPlan (upstream tmt 36 on a booted host, without the reboots): each case
// starts from a boot order and the booted deployment, applies bootc rollback as many times
// as listed (the order Rollback writes becomes the next boot order) and checks the boot
// order and the queued state after each: a first rollback queues the rollback deployment,
// a second one reverts the queued rollback (the original order again), and a rollback with
// a staged deployment discards it.
func TestRollbackPlan(t *testing.T) {
	a := dep(0, "default", "a", false)
	b := dep(1, "default", "b", false)
	staged := dep(0, "default", "staged", true)
	other := dep(2, "fedora", "other", false)
	type after struct {
		order     []string
		queued    bool
		reverting bool
	}
	for _, c := range []struct {
		name   string
		all    []*ostree.Deployment
		booted *ostree.Deployment
		steps  []after
		err    error
	}{
		{name: "rollback, then rollback again: queued, then unqueued", all: []*ostree.Deployment{a, b}, booted: a,
			steps: []after{{[]string{"b", "a"}, true, false}, {[]string{"a", "b"}, false, true}, {[]string{"b", "a"}, true, false}}},
		{name: "a staged deployment is discarded", all: []*ostree.Deployment{staged, a, b}, booted: a,
			steps: []after{{[]string{"b", "a"}, true, false}}},
		{name: "another stateroot's deployment stays, after the two", all: []*ostree.Deployment{a, b, other}, booted: a,
			steps: []after{{[]string{"b", "a", "other"}, true, false}, {[]string{"a", "b", "other"}, false, true}}},
		{name: "offline: the next boot and the rollback swap", all: []*ostree.Deployment{a, b}, booted: nil,
			steps: []after{{[]string{"b", "a"}, false, false}, {[]string{"a", "b"}, false, false}}},
		{name: "nothing to roll back to", all: []*ostree.Deployment{a}, booted: a, err: ErrNoRollback},
		{name: "only a staged deployment besides the booted one", all: []*ostree.Deployment{staged, a}, booted: a, err: ErrNoRollback},
	} {
		t.Run(c.name, func(t *testing.T) {
			all, booted := c.all, c.booted
			if c.err != nil {
				if _, _, err := rollbackPlan(classify(all, c.booted)); !errors.Is(err, c.err) {
					t.Fatalf("rollback: %v, want %v", err, c.err)
				}
				return
			}
			for i, want := range c.steps {
				list, reverting, err := rollbackPlan(classify(all, booted))
				if err != nil {
					t.Fatalf("rollback %d: %v", i+1, err)
				}
				if got := names(list...); !slices.Equal(got, want.order) || reverting != want.reverting {
					t.Fatalf("rollback %d: boot order %v (reverting %v), want %v (reverting %v)", i+1, got, reverting, want.order, want.reverting)
				}
				// The written order is the next boot order; the booted deployment stays.
				all = nil
				for j, d := range list {
					all = append(all, dep(j, d.Stateroot, d.Checksum, d.Staged))
					if booted != nil && d.Equal(booted) {
						booted = all[j]
					}
				}
				ds := classify(all, booted)
				if ds.RollbackQueued != want.queued || ds.Staged != nil {
					t.Fatalf("after rollback %d: queued %v, staged %v; want queued %v, no staged deployment", i+1, ds.RollbackQueued, ds.Staged, want.queued)
				}
			}
		})
	}
}
