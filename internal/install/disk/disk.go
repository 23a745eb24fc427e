package disk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by the methods of a closed [Disk].
var ErrClosed = errors.New("disk is closed")

// ErrHasPartitionTable is returned by [Disk.CreatePartitions] when the
// target already has a partition table and wiping was not asked for.
var ErrHasPartitionTable = errors.New("existing partition table found")

// DefaultPartitionTimeout is how long [Disk.PartitionDevice] waits for a
// partition device node the kernel announced to appear in /dev.
const DefaultPartitionTimeout = 10 * time.Second

// Options tunes [Open].
type Options struct {
	// ReadOnly opens the target read-only; writing methods fail.
	ReadOnly bool
	// SectorSize is the logical sector size of a regular-file image; 0
	// means 512. Block devices use their own (BLKSSZGET).
	SectorSize int
	// ForceLoop makes PartitionDevice attach loop devices at partition
	// offsets even on a block device whose kernel partition nodes exist.
	ForceLoop bool
	// PartitionTimeout overrides DefaultPartitionTimeout.
	PartitionTimeout time.Duration
	// AllowInUse skips the check that a block device is not mounted or
	// otherwise held exclusively (an O_EXCL open) by someone else.
	AllowInUse bool
}

// Disk is an install target: a whole block device, or a regular file used
// as a disk image (--via-loopback). Its partitions are reached through
// [Disk.PartitionDevice]. Close detaches every loop device Disk attached.
// A Disk is safe for concurrent use.
type Disk struct {
	path       string
	f          *os.File
	size       int64
	sectorSize int
	block      bool
	rdev       uint64
	opts       Options

	mu       sync.Mutex
	closed   bool
	table    *Table
	rereadOK bool               // the kernel re-read the table we wrote
	devices  map[int]partDevice // by partition number
	cleanup  Cleanup            // loop detaches, in attach order
}

// partDevice is a device handed out by PartitionDevice.
type partDevice struct {
	path      string
	off, size int64
}

// Open opens a target disk: a block device, or a regular file used as a
// disk image. A block device that is mounted or in use (it, or one of its
// partitions, is mounted or held exclusively) is refused unless
// opts.AllowInUse, and so is a partition (/dev/sda1) given instead of a
// whole disk.
func Open(path string, opts Options) (*Disk, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening disk: %w", err)
	}
	d := &Disk{path: path, opts: opts, devices: map[int]partDevice{}}
	flag := os.O_RDWR
	if opts.ReadOnly {
		flag = os.O_RDONLY
	}
	switch {
	case st.Mode().IsRegular():
		d.sectorSize = opts.SectorSize
		if d.sectorSize == 0 {
			d.sectorSize = 512
		}
		if err := checkSectorSize(d.sectorSize); err != nil {
			return nil, fmt.Errorf("disk image %s: %w", path, err)
		}
		if d.f, err = os.OpenFile(path, flag, 0); err != nil {
			return nil, fmt.Errorf("opening disk image: %w", err)
		}
		d.size = st.Size()
	case st.Mode()&fs.ModeDevice != 0 && st.Mode()&fs.ModeCharDevice == 0:
		d.block = true
		var ust unix.Stat_t
		if err := unix.Stat(path, &ust); err != nil {
			return nil, fmt.Errorf("opening disk %s: %w", path, err)
		}
		d.rdev = ust.Rdev
		if err := d.openBlock(flag); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("opening disk %s: not a block device or a regular file (mode %v)", path, st.Mode())
	}
	if d.size < MiB {
		d.f.Close()
		return nil, fmt.Errorf("disk %s: size %d bytes is less than 1 MiB", path, d.size)
	}
	return d, nil
}

func (d *Disk) openBlock(flag int) error {
	sys := d.sysfsDir()
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		return fmt.Errorf("disk %s is a partition; give the whole disk", d.path)
	}
	if !d.opts.AllowInUse && !d.opts.ReadOnly {
		// An exclusive open fails with EBUSY when the device or one of its
		// partitions is mounted, used by device-mapper or md, or claimed.
		// It is released at once: holding it would prevent mounting the
		// partitions later.
		f, err := os.OpenFile(d.path, flag|unix.O_EXCL, 0)
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("disk %s is in use (mounted, or held by another program): %w", d.path, err)
		}
		if err != nil {
			return fmt.Errorf("opening disk: %w", err)
		}
		f.Close()
	}
	f, err := os.OpenFile(d.path, flag, 0)
	if err != nil {
		return fmt.Errorf("opening disk: %w", err)
	}
	d.f = f
	if d.size, err = blockDeviceSize(f); err != nil {
		f.Close()
		return fmt.Errorf("disk %s: %w", d.path, err)
	}
	ss, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
	if err != nil {
		f.Close()
		return fmt.Errorf("disk %s: BLKSSZGET: %w", d.path, err)
	}
	if err := checkSectorSize(ss); err != nil {
		f.Close()
		return fmt.Errorf("disk %s: %w", d.path, err)
	}
	d.sectorSize = ss
	return nil
}

// sysfsDir is the sysfs directory of a block device target.
func (d *Disk) sysfsDir() string {
	return filepath.Join(sysDevBlockDir, fmt.Sprintf("%d:%d", unix.Major(d.rdev), unix.Minor(d.rdev)))
}

// Path returns the path the disk was opened with.
func (d *Disk) Path() string { return d.path }

// Size returns the size of the disk in bytes.
func (d *Disk) Size() int64 { return d.size }

// SectorSize returns the logical sector size in bytes.
func (d *Disk) SectorSize() int { return d.sectorSize }

// IsBlockDevice reports whether the disk is a block device rather than a
// regular file.
func (d *Disk) IsBlockDevice() bool { return d.block }

func (d *Disk) checkOpen(write bool) error {
	if d.closed {
		return fmt.Errorf("disk %s: %w", d.path, ErrClosed)
	}
	if write && d.opts.ReadOnly {
		return fmt.Errorf("disk %s is opened read-only", d.path)
	}
	return nil
}

// HasPartitionTable reports whether the disk holds a partition table: a
// GPT (primary or backup header) or an MBR with partitions, or, for a
// block device, partitions the kernel knows about.
func (d *Disk) HasPartitionTable() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(false); err != nil {
		return false, err
	}
	return d.hasPartitionTable()
}

func (d *Disk) hasPartitionTable() (bool, error) {
	kind, err := DetectPartitionTable(d.f, d.size)
	if err != nil {
		return false, fmt.Errorf("disk %s: %w", d.path, err)
	}
	if kind != TableNone {
		return true, nil
	}
	if d.block {
		parts, err := d.kernelPartitions()
		if err != nil {
			return false, err
		}
		return len(parts) > 0, nil
	}
	return false, nil
}

// HasPartitionTable opens path read-only and reports whether it holds a
// partition table (see [Disk.HasPartitionTable]).
func HasPartitionTable(path string) (bool, error) {
	d, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		return false, err
	}
	defer d.Close()
	return d.HasPartitionTable()
}

// ReadTable reads and verifies the disk's GPT (see [ReadTable]).
func (d *Disk) ReadTable() (*Table, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(false); err != nil {
		return nil, err
	}
	t, err := ReadTable(d.f, d.size, d.sectorSize)
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", d.path, err)
	}
	return t, nil
}

// zeroRange zeroes [off, off+n) clamped to the disk; on a regular file it
// punches a hole so that a sparse image stays sparse.
func (d *Disk) zeroRange(off, n int64) error {
	off = max(off, 0)
	end := min(off+n, d.size)
	if end <= off {
		return nil
	}
	if !d.block {
		err := unix.Fallocate(int(d.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, end-off)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("zeroing %s bytes %d-%d: %w", d.path, off, end, err)
		}
	}
	buf := make([]byte, min(end-off, MiB))
	for o := off; o < end; {
		k := min(int64(len(buf)), end-o)
		if _, err := d.f.WriteAt(buf[:k], o); err != nil {
			return fmt.Errorf("zeroing %s bytes %d-%d: %w", d.path, off, end, err)
		}
		o += k
	}
	return nil
}

// zeroEnds zeroes the first and last MiB of [off, off+n), which is where
// partition tables and filesystem signatures live.
func (d *Disk) zeroEnds(off, n int64) error {
	if err := d.zeroRange(off, min(n, MiB)); err != nil {
		return err
	}
	return d.zeroRange(off+n-min(n, MiB), min(n, MiB))
}

// oldPartitions lists the extents of partitions in an existing GPT or DOS
// table, as far as they can be read; errors just mean fewer extents.
func (d *Disk) oldPartitions() [][2]int64 {
	var out [][2]int64
	if t, err := ReadTable(d.f, d.size, 0); err == nil {
		for _, p := range t.Partitions {
			out = append(out, [2]int64{p.Offset(t.SectorSize), p.Size(t.SectorSize)})
		}
	}
	b := make([]byte, 512)
	if _, err := d.f.ReadAt(b, 0); err == nil && binary.LittleEndian.Uint16(b[510:]) == mbrSignature {
		for i := range 4 {
			e := b[446+16*i:]
			if e[4] == 0 || e[4] == mbrTypeGPT {
				continue
			}
			start := int64(binary.LittleEndian.Uint32(e[8:])) * 512
			size := int64(binary.LittleEndian.Uint32(e[12:])) * 512
			out = append(out, [2]int64{start, size})
		}
	}
	return out
}

// Wipe destroys what is on the disk the way `wipefs -a` on the disk and
// its partitions would: it zeroes the first and last MiB of every
// partition of an existing GPT or MBR (their filesystem signatures), then
// the first and last MiB of the disk (MBR, primary and backup GPT), syncs,
// and for a block device asks the kernel to drop its partitions.
func (d *Disk) Wipe() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(true); err != nil {
		return err
	}
	if len(d.devices) > 0 {
		return fmt.Errorf("wiping %s: partition devices are attached", d.path)
	}
	for _, e := range d.oldPartitions() {
		if err := d.zeroEnds(e[0], e[1]); err != nil {
			return fmt.Errorf("wiping %s: %w", d.path, err)
		}
	}
	if err := d.zeroEnds(0, d.size); err != nil {
		return fmt.Errorf("wiping %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("wiping %s: sync: %w", d.path, err)
	}
	d.table = nil
	d.rereadPartitions()
	return nil
}

// WriteTable writes t (see [Table.Write]) to the disk and syncs it; for a
// block device it then asks the kernel to re-read the partition table
// (BLKRRPART, which fails harmlessly while partitions are in use). It can
// also rewrite a table after partitions were used, for example to set
// [AttrLegacyBIOSBootable]; it does not touch partition contents.
func (d *Disk) WriteTable(t *Table) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(true); err != nil {
		return err
	}
	return d.writeTable(t)
}

func (d *Disk) writeTable(t *Table) error {
	if t.SectorSize != d.sectorSize {
		return fmt.Errorf("writing partition table to %s: table has %d-byte sectors, disk %d", d.path, t.SectorSize, d.sectorSize)
	}
	for n, dev := range d.devices {
		p := t.Partition(n)
		if p == nil || p.Offset(t.SectorSize) != dev.off || p.Size(t.SectorSize) != dev.size {
			return fmt.Errorf("writing partition table to %s: partition %d is in use as %s and would move or vanish", d.path, n, dev.path)
		}
	}
	if err := t.Write(d.f, d.size); err != nil {
		return fmt.Errorf("writing partition table to %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("writing partition table to %s: sync: %w", d.path, err)
	}
	c := *t
	c.Partitions = slices.Clone(t.Partitions)
	d.table = &c
	d.rereadPartitions()
	return nil
}

// rereadPartitions issues BLKRRPART on a block device and, if udev runs,
// waits for it to settle; failures only mean PartitionDevice uses loop
// devices.
func (d *Disk) rereadPartitions() {
	d.rereadOK = false
	if !d.block {
		return
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, d.f.Fd(), unix.BLKRRPART, 0); errno != 0 {
		return
	}
	d.rereadOK = true
	if _, err := os.Stat("/run/udev/control"); err == nil {
		if udevadm, err := exec.LookPath("udevadm"); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = exec.CommandContext(ctx, udevadm, "settle", "--timeout=20").Run()
		}
	}
}

// CreatePartitions is the to-disk partitioning step. In this order it
// plans the layout for the disk (a *[TooSmallError] naming the disk if it
// does not fit), refuses a disk that already has a partition table unless
// wipe (an error wrapping [ErrHasPartitionTable]), wipes it if asked,
// zeroes the first and last MiB of every new partition so that no stale
// signature survives, and writes the table. Nothing is written before the
// checks pass. It returns the table written.
func (d *Disk) CreatePartitions(l *Layout, wipe bool) (*Table, error) {
	d.mu.Lock()
	if err := d.checkOpen(true); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	t, err := l.Plan(d.size, d.sectorSize)
	if err != nil {
		d.mu.Unlock()
		if ts, ok := errors.AsType[*TooSmallError](err); ok {
			ts.Device = d.path
			return nil, ts
		}
		return nil, fmt.Errorf("partitioning %s: %w", d.path, err)
	}
	has, err := d.hasPartitionTable()
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if has && !wipe {
		return nil, fmt.Errorf("disk %s: %w; use --wipe to overwrite it", d.path, ErrHasPartitionTable)
	}
	if wipe {
		if err := d.Wipe(); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(true); err != nil {
		return nil, err
	}
	for _, p := range t.Partitions {
		if err := d.zeroEnds(p.Offset(t.SectorSize), p.Size(t.SectorSize)); err != nil {
			return nil, fmt.Errorf("partitioning %s: clearing partition %d: %w", d.path, p.Number, err)
		}
	}
	if err := d.writeTable(t); err != nil {
		return nil, err
	}
	return t, nil
}

// InstallMBRBootCode writes code (at most 440 bytes, e.g. syslinux's
// gptmbr.bin) into the boot code area of the protective MBR and syncs.
func (d *Disk) InstallMBRBootCode(code []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(true); err != nil {
		return err
	}
	if err := WriteMBRBootCode(d.f, code); err != nil {
		return fmt.Errorf("disk %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("disk %s: sync: %w", d.path, err)
	}
	return nil
}

// Table returns a copy of the partition table last written, or read from
// the disk if none was written, or nil when there is no valid GPT.
func (d *Disk) Table() *Table {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, err := d.currentTable()
	if err != nil {
		return nil
	}
	c := *t
	c.Partitions = slices.Clone(t.Partitions)
	return &c
}

func (d *Disk) currentTable() (*Table, error) {
	if d.table != nil {
		return d.table, nil
	}
	t, err := ReadTable(d.f, d.size, d.sectorSize)
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", d.path, err)
	}
	d.table = t
	return t, nil
}

// PartitionDevice returns a block device path for partition number of
// the disk's partition table (written by this Disk, or read from the
// disk). On a block device whose kernel partition node matches the
// partition's start and size (/dev/sda1, /dev/nvme0n1p1, /dev/loop0p1)
// that node is used, after waiting for it to appear in /dev. Otherwise (a
// disk image, a kernel that did not re-read the table, or
// Options.ForceLoop) a loop device is attached at the partition's offset
// with its size as limit; Close detaches it. Repeated calls return the
// same path.
func (d *Disk) PartitionDevice(ctx context.Context, number int) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(false); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("disk %s partition %d: %w", d.path, number, err)
	}
	if dev, ok := d.devices[number]; ok {
		return dev.path, nil
	}
	t, err := d.currentTable()
	if err != nil {
		return "", err
	}
	p := t.Partition(number)
	if p == nil {
		return "", fmt.Errorf("disk %s has no partition %d", d.path, number)
	}
	off, size := p.Offset(t.SectorSize), p.Size(t.SectorSize)
	if d.block && !d.opts.ForceLoop {
		dev, err := d.kernelPartitionNode(ctx, number, off, size)
		if err != nil {
			return "", err
		}
		if dev != "" {
			d.devices[number] = partDevice{path: dev, off: off, size: size}
			return dev, nil
		}
	}
	blockSize := 0
	if !d.block && d.sectorSize != 512 {
		blockSize = d.sectorSize // a 4Kn image: show 4 KiB logical sectors
	}
	l, err := attachLoop(ctx, d.f, off, size, blockSize, d.opts.ReadOnly)
	if err != nil {
		return "", fmt.Errorf("disk %s partition %d: %w", d.path, number, err)
	}
	d.cleanup.Push("detach "+l.path, l.detach)
	d.devices[number] = partDevice{path: l.path, off: off, size: size}
	return l.path, nil
}

// kernelPartition is a partition of a block device as sysfs shows it.
type kernelPartition struct {
	name        string
	number      int
	start, size int64 // bytes
}

// kernelPartitions lists the kernel's partitions of a block device target.
func (d *Disk) kernelPartitions() ([]kernelPartition, error) {
	dir := d.sysfsDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("disk %s: listing partitions: %w", d.path, err)
	}
	var out []kernelPartition
	for _, e := range ents {
		num, err := readSysInt(filepath.Join(dir, e.Name(), "partition"))
		if err != nil {
			continue // not a partition directory
		}
		start, err1 := readSysInt(filepath.Join(dir, e.Name(), "start"))
		size, err2 := readSysInt(filepath.Join(dir, e.Name(), "size"))
		if err1 != nil || err2 != nil {
			continue
		}
		// sysfs counts 512-byte units whatever the sector size.
		out = append(out, kernelPartition{name: e.Name(), number: int(num), start: start * 512, size: size * 512})
	}
	return out, nil
}

func readSysInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// kernelPartitionNode returns the /dev node of the kernel's partition
// number if it matches the wanted extent, or "" when there is none.
func (d *Disk) kernelPartitionNode(ctx context.Context, number int, off, size int64) (string, error) {
	if !d.rereadOK {
		// The kernel's view may predate our table (BLKRRPART failed or
		// was never issued); only trust a partition that matches exactly.
		d.rereadPartitions()
	}
	parts, err := d.kernelPartitions()
	if err != nil {
		return "", err
	}
	for _, kp := range parts {
		if kp.number != number || kp.start != off || kp.size != size {
			continue
		}
		timeout := d.opts.PartitionTimeout
		if timeout == 0 {
			timeout = DefaultPartitionTimeout
		}
		dev, err := ensureDevNode(ctx, kp.name, timeout)
		if err != nil {
			return "", fmt.Errorf("disk %s partition %d: %w", d.path, number, err)
		}
		return dev, nil
	}
	return "", nil
}

// Close detaches every loop device the Disk attached, newest first, and
// closes the disk. A loop device still mounted is detached by the kernel
// when it is unmounted (autoclear). Close is idempotent, safe to call
// concurrently with other methods (it waits for them), and safe to defer
// after a partial failure.
func (d *Disk) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.cleanup.Run()
	d.devices = nil
	if cerr := d.f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing %s: %w", d.path, cerr))
	}
	return err
}
