package disk

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestCleanupOrderAndErrors(t *testing.T) {
	var c Cleanup
	var order []int
	errA := errors.New("a failed")
	c.Push("a", func() error { order = append(order, 1); return errA })
	c.Push("b", func() error { order = append(order, 2); return nil })
	c.Push("c", func() error {
		order = append(order, 3)
		c.Push("pushed while running", func() error { order = append(order, 4); return nil })
		return errors.New("c failed")
	})
	c.Push("d", func() error { panic("boom") })
	if c.Len() != 4 {
		t.Fatalf("Len = %d", c.Len())
	}
	err := c.Run()
	if fmt.Sprint(order) != "[3 4 2 1]" {
		t.Errorf("order %v, want [3 4 2 1]", order)
	}
	if !errors.Is(err, errA) {
		t.Errorf("error %v does not wrap errA", err)
	}
	for _, want := range []string{"cleanup: a: a failed", "cleanup: c: c failed", "cleanup: d: panic: boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if c.Len() != 0 {
		t.Errorf("Len after Run = %d", c.Len())
	}
	// Idempotent: nothing runs again.
	if err := c.Run(); err != nil || len(order) != 4 {
		t.Errorf("second Run: %v, order %v", err, order)
	}
}

func TestCleanupConcurrentRun(t *testing.T) {
	var c Cleanup
	var counts [100]atomic.Int32
	for i := range counts {
		c.Push(fmt.Sprint(i), func() error { counts[i].Add(1); return nil })
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := c.Run(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range counts {
		if n := counts[i].Load(); n != 1 {
			t.Errorf("action %d ran %d times", i, n)
		}
	}
}
