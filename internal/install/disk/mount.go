package disk

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Mount mounts source on target (see mount(2); data is the option string)
// and pushes the matching [Unmount] onto c. A remount (MS_REMOUNT) mounts
// nothing new, so it pushes nothing. The error names source and target.
func (c *Cleanup) Mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mounting %s (type %q, options %q) on %s: %w", source, fstype, data, target, err)
	}
	if flags&unix.MS_REMOUNT == 0 {
		c.Push("unmount "+target, func() error { return Unmount(target) })
	}
	return nil
}

// unmountRetries and unmountDelay bound how long Unmount waits for a busy
// mount before detaching it lazily.
var (
	unmountRetries = 10
	unmountDelay   = 50 * time.Millisecond
)

// Unmount unmounts target. A target that is not mounted (EINVAL, ENOENT)
// counts as done. While the mount is busy it retries for about half a
// second, then falls back to a lazy unmount (MNT_DETACH): the mount leaves
// the namespace at once and the kernel finishes when the last user goes.
// The error names the mount point.
func Unmount(target string) error {
	var err error
	for range unmountRetries {
		err = unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
		switch {
		case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EINTR):
			time.Sleep(unmountDelay)
			continue
		}
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	if lerr := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); lerr != nil && !errors.Is(lerr, unix.EINVAL) {
		return fmt.Errorf("unmounting %s: %w (lazy unmount failed too: %v)", target, err, lerr)
	}
	return nil
}
