package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Where block devices are found; tests point them at fake trees.
var (
	devDir         = "/dev"
	sysClassBlock  = "/sys/class/block"
	sysDevBlockDir = "/sys/dev/block"
)

// forceLegacyLoop makes attachLoop skip LOOP_CONFIGURE, as on kernels
// before 5.8; tests set it to exercise the LOOP_SET_FD path.
var forceLegacyLoop = false

// loopDevice is a loop device attached by this package.
type loopDevice struct {
	path string
	f    *os.File
}

// attachLoop attaches a new loop device to backing, limited to size bytes
// from offset, with LO_FLAGS_AUTOCLEAR so that the kernel detaches it when
// the last user closes it even if this process dies. The device stays
// attached while the returned loopDevice's file is open.
func attachLoop(ctx context.Context, backing *os.File, offset, size int64, blockSize int, readOnly bool) (*loopDevice, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/loop-control: %w", err)
	}
	defer ctl.Close()

	// Another process may take the free device between LOOP_CTL_GET_FREE
	// and our configure call (EBUSY); then ask for another one.
	var lastErr error
	for range 20 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("LOOP_CTL_GET_FREE on /dev/loop-control: %w", err)
		}
		name := "loop" + strconv.Itoa(n)
		path, err := ensureDevNode(ctx, name, 2*time.Second)
		if err != nil {
			return nil, err
		}
		flag := os.O_RDWR
		if readOnly {
			flag = os.O_RDONLY
		}
		f, err := os.OpenFile(path, flag|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		err = configureLoop(f, backing, offset, size, blockSize, readOnly)
		if errors.Is(err, unix.EBUSY) {
			f.Close()
			lastErr = err
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("attaching %s to %s at offset %d: %w", path, backing.Name(), offset, err)
		}
		l := &loopDevice{path: path, f: f}
		if err := l.check(offset, size); err != nil {
			l.detach()
			return nil, fmt.Errorf("attaching %s to %s: %w", path, backing.Name(), err)
		}
		return l, nil
	}
	return nil, fmt.Errorf("attaching a loop device to %s: every free device was taken by others: %w", backing.Name(), lastErr)
}

func loopInfo(backing *os.File, offset, size int64, readOnly bool) unix.LoopInfo64 {
	info := unix.LoopInfo64{
		Offset:    uint64(offset),
		Sizelimit: uint64(size),
		Flags:     unix.LO_FLAGS_AUTOCLEAR,
	}
	if readOnly {
		info.Flags |= unix.LO_FLAGS_READ_ONLY
	}
	name := backing.Name()
	if len(name) >= len(info.File_name) {
		name = name[len(name)-len(info.File_name)+1:]
	}
	copy(info.File_name[:], name)
	return info
}

func configureLoop(f, backing *os.File, offset, size int64, blockSize int, readOnly bool) error {
	info := loopInfo(backing, offset, size, readOnly)
	if !forceLegacyLoop {
		cfg := unix.LoopConfig{Fd: uint32(backing.Fd()), Size: uint32(blockSize), Info: info}
		err := unix.IoctlLoopConfigure(int(f.Fd()), &cfg)
		if err == nil {
			return nil
		}
		// Kernels before 5.8 do not know LOOP_CONFIGURE.
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
			return fmt.Errorf("LOOP_CONFIGURE: %w", err)
		}
	}
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_SET_FD, int(backing.Fd())); err != nil {
		return fmt.Errorf("LOOP_SET_FD: %w", err)
	}
	if err := unix.IoctlLoopSetStatus64(int(f.Fd()), &info); err != nil {
		_ = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
		return fmt.Errorf("LOOP_SET_STATUS64: %w", err)
	}
	if blockSize != 0 {
		if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_SET_BLOCK_SIZE, blockSize); err != nil {
			_ = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
			return fmt.Errorf("LOOP_SET_BLOCK_SIZE %d: %w", blockSize, err)
		}
	}
	return nil
}

// check verifies that the kernel applied the offset and size limit.
func (l *loopDevice) check(offset, size int64) error {
	info, err := unix.IoctlLoopGetStatus64(int(l.f.Fd()))
	if err != nil {
		return fmt.Errorf("LOOP_GET_STATUS64: %w", err)
	}
	if int64(info.Offset) != offset || int64(info.Sizelimit) != size {
		return fmt.Errorf("kernel set offset %d size limit %d, want %d and %d", info.Offset, info.Sizelimit, offset, size)
	}
	got, err := blockDeviceSize(l.f)
	if err != nil {
		return err
	}
	if got != size {
		return fmt.Errorf("loop device has %d bytes, want %d (backing file too short?)", got, size)
	}
	return nil
}

// detach detaches the loop device (LOOP_CLR_FD) and closes it. A device
// that something else still holds open (a mount) is detached by the kernel
// when that last user goes, thanks to autoclear. Detaching twice is fine.
func (l *loopDevice) detach() error {
	if l.f == nil {
		return nil
	}
	err := unix.IoctlSetInt(int(l.f.Fd()), unix.LOOP_CLR_FD, 0)
	cerr := l.f.Close()
	l.f = nil
	// ENXIO: already detached (autoclear, or someone else).
	if err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("detaching %s (LOOP_CLR_FD): %w", l.path, err)
	}
	if cerr != nil {
		return fmt.Errorf("closing %s: %w", l.path, cerr)
	}
	return nil
}

// ensureDevNode returns /dev/NAME for a block device the kernel knows
// (/sys/class/block/NAME), waiting up to timeout for devtmpfs or udev to
// create it, and creating it with mknod when /dev is not managed (for
// example a container with a static /dev).
func ensureDevNode(ctx context.Context, name string, timeout time.Duration) (string, error) {
	path := filepath.Join(devDir, name)
	devFile := filepath.Join(sysClassBlock, name, "dev")
	deadline := time.Now().Add(timeout)
	made := false
	for {
		want, err := readDevNum(devFile)
		if err != nil {
			return "", err
		}
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err == nil {
			if st.Mode&unix.S_IFMT == unix.S_IFBLK && st.Rdev == want {
				return path, nil
			}
			return "", fmt.Errorf("%s exists but is not block device %d:%d", path, unix.Major(want), unix.Minor(want))
		}
		if made {
			return "", fmt.Errorf("device node %s vanished after creating it", path)
		}
		if time.Now().After(deadline) {
			if err := unix.Mknod(path, unix.S_IFBLK|0o660, int(want)); err != nil && !errors.Is(err, unix.EEXIST) {
				return "", fmt.Errorf("creating device node %s: %w", path, err)
			}
			made = true
			continue
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// readDevNum reads a sysfs "dev" file (MAJOR:MINOR).
func readDevNum(devFile string) (uint64, error) {
	b, err := os.ReadFile(devFile)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", devFile, err)
	}
	maj, min, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing %s: %q is not MAJOR:MINOR", devFile, b)
	}
	return unix.Mkdev(uint32(ma), uint32(mi)), nil
}

// blockDeviceSize returns the size of an open block device (BLKGETSIZE64).
func blockDeviceSize(f *os.File) (int64, error) {
	var size uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size))); errno != 0 {
		return 0, fmt.Errorf("BLKGETSIZE64 on %s: %w", f.Name(), errno)
	}
	return int64(size), nil
}
