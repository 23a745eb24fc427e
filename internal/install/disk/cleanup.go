package disk

import (
	"errors"
	"fmt"
	"sync"
)

// Cleanup is a stack of undo actions: detach a loop device, unmount a
// filesystem, close a file. Actions run in reverse order of Push, each
// exactly once, and Run collects their errors instead of stopping at the
// first. Run is idempotent and may be called concurrently (for example
// from a signal-handling goroutine while the main flow unwinds); a second
// caller waits for the first to finish. The zero value is ready to use.
type Cleanup struct {
	mu      sync.Mutex // guards actions
	runMu   sync.Mutex // serializes Run
	actions []cleanupAction
}

type cleanupAction struct {
	what string
	fn   func() error
}

// Push adds an action; what describes it in errors ("unmount /mnt/boot").
func (c *Cleanup) Push(what string, fn func() error) {
	c.mu.Lock()
	c.actions = append(c.actions, cleanupAction{what, fn})
	c.mu.Unlock()
}

// Len returns the number of actions not run yet.
func (c *Cleanup) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.actions)
}

func (c *Cleanup) pop() (cleanupAction, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.actions) == 0 {
		return cleanupAction{}, false
	}
	a := c.actions[len(c.actions)-1]
	c.actions = c.actions[:len(c.actions)-1]
	return a, true
}

// Run runs and removes all actions, newest first, and returns their errors
// joined (nil if all succeeded). Actions pushed while Run runs (from an
// action) are run too. A panicking action is reported as an error.
func (c *Cleanup) Run() error {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	var errs []error
	for {
		a, ok := c.pop()
		if !ok {
			return errors.Join(errs...)
		}
		if err := runAction(a); err != nil {
			errs = append(errs, err)
		}
	}
}

func runAction(a cleanupAction) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cleanup: %s: panic: %v", a.what, r)
		}
	}()
	if e := a.fn(); e != nil {
		return fmt.Errorf("cleanup: %s: %w", a.what, e)
	}
	return nil
}
