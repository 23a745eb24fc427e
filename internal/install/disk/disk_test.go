package disk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/install/disk/disktest"
)

// loopSysfs reads /sys/block/loopN/loop/<attr>.
func loopSysfs(t *testing.T, dev, attr string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop", attr))
	if err != nil {
		t.Fatalf("%s: %v", dev, err)
	}
	return strings.TrimSpace(string(b))
}

func devSize(t *testing.T, dev string) int64 {
	t.Helper()
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := blockDeviceSize(f)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func openDisk(t *testing.T, path string, opts Options) *Disk {
	t.Helper()
	d, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

// TestInstallFlow is the to-disk path on a 1 GiB image: partition, attach
// partition loop devices, mkfs, read UUIDs, mount, write, unmount, close,
// and check that nothing is left behind; then reopen and read the file.
func TestInstallFlow(t *testing.T) {
	requireRoot(t)
	requireTool(t, "mkfs.ext4", "e2fsprogs")
	img := sparseFile(t, GiB)
	dir := filepath.Dir(img)
	guard(t, dir, img)
	ctx := context.Background()

	d := openDisk(t, img, Options{})
	if d.Size() != GiB || d.SectorSize() != 512 || d.IsBlockDevice() {
		t.Fatalf("size %d sector %d block %v", d.Size(), d.SectorSize(), d.IsBlockDevice())
	}
	l := NewLayout(LayoutOptions{BIOSBoot: true, Boot: true, BootLegacyBIOSBootable: true, RootFilesystem: "ext4", Arch: "amd64"})
	l.Rand = SeededRand(9)
	tbl, err := d.CreatePartitions(l, false)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := d.HasPartitionTable(); err != nil || !ok {
		t.Fatalf("HasPartitionTable after writing = %v, %v", ok, err)
	}

	uuids := map[int]string{}
	devs := map[int]string{}
	for _, role := range []Role{RoleBoot, RoleRoot} {
		n := l.Number(role)
		p := tbl.Partition(n)
		dev, err := d.PartitionDevice(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		devs[n] = dev
		if again, err := d.PartitionDevice(ctx, n); err != nil || again != dev {
			t.Errorf("second PartitionDevice(%d) = %q, %v; want %q", n, again, err, dev)
		}
		// The loop device covers exactly the partition.
		if got := devSize(t, dev); got != p.Size(512) {
			t.Errorf("%s: %d bytes, partition has %d", dev, got, p.Size(512))
		}
		if off := loopSysfs(t, dev, "offset"); off != strconv.FormatInt(p.Offset(512), 10) {
			t.Errorf("%s offset %s, want %d", dev, off, p.Offset(512))
		}
		if ac := loopSysfs(t, dev, "autoclear"); ac != "1" {
			t.Errorf("%s autoclear %s", dev, ac)
		}
		spec := l.Partitions[n-1]
		if err := Mkfs(ctx, HostRunner{}, spec.Filesystem, dev, spec.Label); err != nil {
			t.Fatal(err)
		}
		u, err := FilesystemUUID(dev)
		if err != nil {
			t.Fatal(err)
		}
		if b := blkidValue(t, dev, "UUID"); u != b {
			t.Errorf("%s: UUID %q, blkid %q", dev, u, b)
		}
		uuids[n] = u
	}
	if devs[2] == devs[3] {
		t.Fatal("two partitions on one device")
	}

	// The filesystem landed at the partition's offset in the image.
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	root := tbl.Partition(3)
	info, err := ProbeReader(io.NewSectionReader(f, root.Offset(512), root.Size(512)))
	f.Close()
	if err != nil || info.UUID != uuids[3] || info.Label != "root" {
		t.Errorf("image at root offset: %+v, %v; want UUID %s", info, err, uuids[3])
	}
	// The BIOS boot partition was not touched by anything.
	if _, err := d.PartitionDevice(ctx, 1); err != nil {
		t.Fatal(err)
	}

	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	var mounts Cleanup
	t.Cleanup(func() { mounts.Run() })
	if err := mounts.Mount(devs[3], mnt, "ext4", 0, ""); err != nil {
		t.Fatal(err)
	}
	if got := mountsUnder(t, mnt); len(got) != 1 {
		t.Fatalf("mounts under %s: %v", mnt, got)
	}
	if err := os.WriteFile(filepath.Join(mnt, "hello"), []byte("bootc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mounts.Run(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.PartitionDevice(ctx, 3); !errors.Is(err, ErrClosed) {
		t.Errorf("PartitionDevice after Close: %v", err)
	}
	if left := mountsUnder(t, dir, devs[2], devs[3]); len(left) > 0 {
		t.Errorf("mounts left: %v", left)
	}
	if left := waitNoLoops(t, img); len(left) > 0 {
		t.Errorf("loop devices left: %v", left)
	}

	// Reopen read-only from the table on disk; the file is there.
	d2 := openDisk(t, img, Options{ReadOnly: true})
	if tb := d2.Table(); tb == nil || tb.DiskGUID != tbl.DiskGUID {
		t.Fatalf("table on reopen: %+v", tb)
	}
	dev, err := d2.PartitionDevice(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if ro := loopSysfs(t, dev, "../ro"); ro != "1" {
		t.Errorf("read-only disk gave a writable loop device (ro=%s)", ro)
	}
	if u, err := FilesystemUUID(dev); err != nil || u != uuids[3] {
		t.Errorf("UUID after reopen %q, %v", u, err)
	}
	if err := mounts.Mount(dev, mnt, "ext4", unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(mnt, "hello"))
	if err != nil || string(b) != "bootc" {
		t.Errorf("file after remount: %q, %v", b, err)
	}
	if err := mounts.Run(); err != nil {
		t.Fatal(err)
	}
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}
	if left := waitNoLoops(t, img); len(left) > 0 {
		t.Errorf("loop devices left: %v", left)
	}
}

// TestCloseWhileMounted: Close with a partition still mounted succeeds,
// and the kernel releases the loop device at unmount (autoclear).
func TestCloseWhileMounted(t *testing.T) {
	requireRoot(t)
	requireTool(t, "mkfs.ext4", "e2fsprogs")
	img := sparseFile(t, 64*MiB)
	dir := filepath.Dir(img)
	guard(t, dir, img)
	d := openDisk(t, img, Options{})
	l := NewLayout(LayoutOptions{RootMinSize: 32 * MiB})
	if _, err := d.CreatePartitions(l, false); err != nil {
		t.Fatal(err)
	}
	dev, err := d.PartitionDevice(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := Mkfs(context.Background(), HostRunner{}, "ext4", dev, "root"); err != nil {
		t.Fatal(err)
	}
	var mounts Cleanup
	t.Cleanup(func() { mounts.Run() })
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := mounts.Mount(dev, mnt, "ext4", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close while mounted: %v", err)
	}
	if left := boundLoops(t, img); len(left) != 1 {
		t.Errorf("while mounted, loop devices %v, want the mounted one", left)
	}
	if err := mounts.Run(); err != nil {
		t.Fatal(err)
	}
	if left := waitNoLoops(t, img); len(left) > 0 {
		t.Errorf("loop devices left after unmount: %v", left)
	}
}

// TestCancelAfterAttach: a flow cancelled midway, after attaching some
// partitions, still detaches everything in Close, also when Close is
// called concurrently (a signal handler and a deferred call).
func TestCancelAfterAttach(t *testing.T) {
	requireRoot(t)
	img := sparseFile(t, GiB)
	guard(t, filepath.Dir(img), img)
	d, err := Open(img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l := NewLayout(LayoutOptions{BIOSBoot: true, Boot: true})
	if _, err := d.CreatePartitions(l, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	for _, n := range []int{1, 2} {
		if _, err := d.PartitionDevice(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if got := boundLoops(t, img); len(got) != 2 {
		t.Fatalf("attached %v, want 2", got)
	}
	cancel()
	_, err = d.PartitionDevice(ctx, 3)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "partition 3") {
		t.Errorf("PartitionDevice after cancel: %v", err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := d.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if left := waitNoLoops(t, img); len(left) > 0 {
		t.Errorf("loop devices left: %v", left)
	}
}

// TestLegacyLoopSetup exercises LOOP_SET_FD + LOOP_SET_STATUS64, the path
// for kernels without LOOP_CONFIGURE.
func TestLegacyLoopSetup(t *testing.T) {
	requireRoot(t)
	img := sparseFile(t, 64*MiB)
	guard(t, filepath.Dir(img), img)
	forceLegacyLoop = true
	t.Cleanup(func() { forceLegacyLoop = false })
	d := openDisk(t, img, Options{})
	l := NewLayout(LayoutOptions{ESP: true, ESPSize: 8 * MiB, RootMinSize: 16 * MiB})
	tbl, err := d.CreatePartitions(l, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tbl.Partitions {
		dev, err := d.PartitionDevice(context.Background(), p.Number)
		if err != nil {
			t.Fatal(err)
		}
		if got := devSize(t, dev); got != p.Size(512) {
			t.Errorf("%s: %d bytes, want %d", dev, got, p.Size(512))
		}
		if off := loopSysfs(t, dev, "offset"); off != strconv.FormatInt(p.Offset(512), 10) {
			t.Errorf("%s offset %s", dev, off)
		}
		if ac := loopSysfs(t, dev, "autoclear"); ac != "1" {
			t.Errorf("%s autoclear %s", dev, ac)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if left := waitNoLoops(t, img); len(left) > 0 {
		t.Errorf("loop devices left: %v", left)
	}
}

// Test4KnImage: a disk image with 4096-byte sectors gets partition loop
// devices with 4096-byte logical blocks.
func Test4KnImage(t *testing.T) {
	requireRoot(t)
	img := sparseFile(t, 128*MiB)
	guard(t, filepath.Dir(img), img)
	d := openDisk(t, img, Options{SectorSize: 4096})
	tbl, err := d.CreatePartitions(NewLayout(LayoutOptions{ESP: true, ESPSize: 32 * MiB, RootMinSize: 16 * MiB}), false)
	if err != nil {
		t.Fatal(err)
	}
	if tbl.SectorSize != 4096 || tbl.FirstUsableLBA != 6 {
		t.Errorf("table %+v", tbl)
	}
	dev, err := d.PartitionDevice(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
	f.Close()
	if err != nil || ss != 4096 {
		t.Errorf("%s logical sector size %d, %v", dev, ss, err)
	}
	if sf, err := os.Open(img); err == nil {
		if _, err := ReadTable(sf, 128*MiB, 0); err != nil {
			t.Errorf("reading back 4Kn table: %v", err)
		}
		sf.Close()
	}
}

// TestBlockDeviceTarget installs to a block device (a whole loop device
// over an image), the to-disk DEVICE case. This kernel creates no
// partition nodes for loop devices, so partitions come as loop devices
// stacked at offsets of the block device.
func TestBlockDeviceTarget(t *testing.T) {
	requireRoot(t)
	requireTool(t, "mkfs.ext4", "e2fsprogs")
	img := sparseFile(t, GiB)
	guard(t, filepath.Dir(img), img)
	backing, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backing.Close() })
	whole, err := attachLoop(context.Background(), backing, 0, GiB, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := whole.detach(); err != nil {
			t.Error(err)
		}
	})
	// The stacked loop devices' backing file is the whole-disk loop device.
	guard(t, "", whole.path)

	d := openDisk(t, whole.path, Options{})
	if !d.IsBlockDevice() || d.Size() != GiB || d.SectorSize() != 512 {
		t.Fatalf("block %v size %d sector %d", d.IsBlockDevice(), d.Size(), d.SectorSize())
	}
	l := NewLayout(LayoutOptions{ESP: true, ESPSize: 64 * MiB, Boot: true, BootSize: 128 * MiB})
	tbl, err := d.CreatePartitions(l, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, p := range tbl.Partitions {
		dev, err := d.PartitionDevice(ctx, p.Number)
		if err != nil {
			t.Fatal(err)
		}
		if got := devSize(t, dev); got != p.Size(512) {
			t.Errorf("partition %d: %s has %d bytes, want %d", p.Number, dev, got, p.Size(512))
		}
		spec := l.Partitions[p.Number-1]
		if err := Mkfs(ctx, HostRunner{}, spec.Filesystem, dev, spec.Label); err != nil {
			t.Fatal(err)
		}
		u, err := FilesystemUUID(dev)
		if err != nil || u != blkidValue(t, dev, "UUID") {
			t.Errorf("%s: UUID %q %v", dev, u, err)
		}
	}
	// The table is visible through the image file too.
	if ok, err := HasPartitionTable(img); err != nil || !ok {
		t.Errorf("HasPartitionTable(image) = %v, %v", ok, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if left := waitNoLoops(t, whole.path); len(left) > 0 {
		t.Errorf("stacked loop devices left: %v", left)
	}
}

// TestBlockDeviceInUse: a mounted block device is refused.
func TestBlockDeviceInUse(t *testing.T) {
	requireRoot(t)
	requireTool(t, "mkfs.ext4", "e2fsprogs")
	img := sparseFile(t, 64*MiB)
	dir := filepath.Dir(img)
	guard(t, dir, img)
	if err := Mkfs(context.Background(), HostRunner{}, "ext4", img, "x"); err != nil {
		t.Fatal(err)
	}
	backing, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backing.Close() })
	whole, err := attachLoop(context.Background(), backing, 0, 64*MiB, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { whole.detach() })
	var mounts Cleanup
	t.Cleanup(func() { mounts.Run() })
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := mounts.Mount(whole.path, mnt, "ext4", 0, ""); err != nil {
		t.Fatal(err)
	}
	_, err = Open(whole.path, Options{})
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), whole.path) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Open of a mounted device: %v", err)
	}
	if err := mounts.Run(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(whole.path, Options{})
	if err != nil {
		t.Fatalf("Open after unmount: %v", err)
	}
	d.Close()
}

// TestTooSmallWritesNothing: the size check fails before any write.
func TestTooSmallWritesNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		size int64
		opts LayoutOptions
	}{
		{"default layout on 64 MiB", 64 * MiB, LayoutOptions{BIOSBoot: true, Boot: true}},
		{"esp+boot on 1 GiB", GiB, LayoutOptions{ESP: true, Boot: true}},
		{"root size", 256 * MiB, LayoutOptions{RootSize: 256 * MiB}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := sparseFile(t, tt.size)
			fillRandom(t, img, 0, MiB)
			fillRandom(t, img, tt.size-MiB, MiB)
			st0, _ := os.Stat(img)
			before := disktest.Digest(t, img)
			d := openDisk(t, img, Options{})
			_, err := d.CreatePartitions(NewLayout(tt.opts), true)
			ts, ok := errors.AsType[*TooSmallError](err)
			if !ok {
				t.Fatalf("got %v, want TooSmallError", err)
			}
			if ts.Device != img || ts.Available != tt.size || ts.Needed <= tt.size ||
				!strings.Contains(err.Error(), img) || !strings.Contains(err.Error(), strconv.FormatInt(ts.Needed, 10)) {
				t.Errorf("error %v (%+v)", err, ts)
			}
			st1, _ := os.Stat(img)
			if after := disktest.Digest(t, img); after != before || st1.Size() != st0.Size() || !st1.ModTime().Equal(st0.ModTime()) {
				t.Error("image changed")
			}
		})
	}
}

// TestExistingTable: without wipe an existing table is refused and the
// disk left alone; with wipe the old table and the filesystems in its
// partitions are gone.
func TestExistingTable(t *testing.T) {
	requireRoot(t)
	requireTool(t, "mkfs.ext4", "e2fsprogs")
	img := sparseFile(t, GiB)
	guard(t, filepath.Dir(img), img)
	ctx := context.Background()

	// An old installation: a /boot-less layout with ext4 on the root.
	d := openDisk(t, img, Options{})
	old := NewLayout(LayoutOptions{BIOSBoot: true, RootSize: 600 * MiB})
	oldTbl, err := d.CreatePartitions(old, false)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := d.PartitionDevice(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := Mkfs(ctx, HostRunner{}, "ext4", dev, "oldroot"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	before := disktest.Digest(t, img)
	d = openDisk(t, img, Options{})
	_, err = d.CreatePartitions(NewLayout(LayoutOptions{ESP: true, ESPSize: 100 * MiB}), false)
	if !errors.Is(err, ErrHasPartitionTable) || !strings.Contains(err.Error(), img) || !strings.Contains(err.Error(), "--wipe") {
		t.Fatalf("without wipe: %v", err)
	}
	if disktest.Digest(t, img) != before {
		t.Fatal("refused, but the image changed")
	}

	newTbl, err := d.CreatePartitions(NewLayout(LayoutOptions{ESP: true, ESPSize: 100 * MiB}), true)
	if err != nil {
		t.Fatal(err)
	}
	if newTbl.DiskGUID == oldTbl.DiskGUID {
		t.Error("same disk GUID")
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := oldTbl.Partition(2)
	if info, err := ProbeReader(io.NewSectionReader(f, p.Offset(512), p.Size(512))); !errors.Is(err, ErrUnknownFilesystem) {
		t.Errorf("old root filesystem survived the wipe: %+v %v", info, err)
	}
	back, err := ReadTable(f, GiB, 512)
	if err != nil || back.DiskGUID != newTbl.DiskGUID || len(back.Partitions) != 2 {
		t.Errorf("new table: %+v %v", back, err)
	}
}

func TestHasPartitionTableAndWipe(t *testing.T) {
	img := sparseFile(t, 256*MiB)
	if ok, err := HasPartitionTable(img); err != nil || ok {
		t.Fatalf("zeroed file: %v, %v", ok, err)
	}
	d := openDisk(t, img, Options{})
	l := NewLayout(LayoutOptions{BIOSBoot: true, Boot: true, BootSize: 64 * MiB, RootMinSize: 64 * MiB})
	if _, err := d.CreatePartitions(l, false); err != nil {
		t.Fatal(err)
	}
	if ok, err := HasPartitionTable(img); err != nil || !ok {
		t.Fatalf("after writing: %v, %v", ok, err)
	}
	if err := d.Wipe(); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.HasPartitionTable(); err != nil || ok {
		t.Fatalf("after Wipe: %v, %v", ok, err)
	}
	if _, err := d.ReadTable(); !errors.Is(err, ErrNoGPT) {
		t.Errorf("ReadTable after Wipe: %v", err)
	}
	// Wiped regions read as zeros and the image stayed sparse.
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, 256*MiB - MiB} {
		b := make([]byte, MiB)
		if _, err := f.ReadAt(b, off); err != nil || !bytes.Equal(b, make([]byte, MiB)) {
			t.Errorf("MiB at %d not zero after Wipe (%v)", off, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(img, &st); err == nil && st.Blocks*512 > 16*MiB {
		t.Errorf("image uses %d bytes on disk after wipe", st.Blocks*512)
	}
	// A DOS table counts too.
	if sfdisk, err := execLookPath("sfdisk"); err == nil {
		runWithStdin(t, "label: dos\n,10MiB,83\n", sfdisk, "-q", img)
		if ok, err := HasPartitionTable(img); err != nil || !ok {
			t.Errorf("DOS table: %v, %v", ok, err)
		}
		if err := d.Wipe(); err != nil {
			t.Fatal(err)
		}
		if ok, _ := HasPartitionTable(img); ok {
			t.Error("DOS table survived Wipe")
		}
	}
	// A whole-disk filesystem is not a partition table.
	if _, err := execLookPath("mkfs.vfat"); err == nil {
		if err := Mkfs(context.Background(), HostRunner{}, "vfat", img, "WHOLE"); err != nil {
			t.Fatal(err)
		}
		if ok, err := HasPartitionTable(img); err != nil || ok {
			t.Errorf("whole-disk vfat: %v, %v", ok, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, make([]byte, 4096), 0o644)
	for _, tt := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "no such file"},
		{dir, "not a block device or a regular file"},
		{"/dev/null", "not a block device or a regular file"},
		{small, "less than 1 MiB"},
	} {
		_, err := Open(tt.path, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("Open(%s): %v, want %q", tt.path, err, tt.want)
		}
	}
	img := sparseFile(t, 8*MiB)
	d := openDisk(t, img, Options{ReadOnly: true})
	if err := d.Wipe(); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("Wipe on read-only: %v", err)
	}
	if _, err := Open(img, Options{SectorSize: 1000}); err == nil {
		t.Error("sector size 1000 accepted")
	}
}

// TestKernelPartitionNodes covers the path this kernel cannot take (it has
// no partition table parsers): a block device whose kernel partition
// nodes exist. A fake sysfs announces partition 1 of a whole-disk loop
// device, backed by a real loop device at the partition's offset, with
// the right start and size, and partition 2 with a stale start; /dev is an
// empty directory, so the node for partition 1 must be created with mknod
// after the wait, and partition 2 falls back to a stacked loop device.
func TestKernelPartitionNodes(t *testing.T) {
	requireRoot(t)
	img := sparseFile(t, 256*MiB)
	tmp := filepath.Dir(img)
	guard(t, tmp, img)
	backing, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backing.Close() })
	ctx := context.Background()
	whole, err := attachLoop(ctx, backing, 0, 256*MiB, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { whole.detach() })
	guard(t, "", whole.path)

	d := openDisk(t, whole.path, Options{PartitionTimeout: 50 * time.Millisecond})
	l := NewLayout(LayoutOptions{ESP: true, ESPSize: 64 * MiB, RootMinSize: 64 * MiB})
	tbl, err := d.CreatePartitions(l, false)
	if err != nil {
		t.Fatal(err)
	}
	p1 := tbl.Partition(1)
	fakePart, err := attachLoop(ctx, backing, p1.Offset(512), p1.Size(512), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fakePart.detach() })
	devNum, err := readDevNum(filepath.Join("/sys/class/block", filepath.Base(fakePart.path), "dev"))
	if err != nil {
		t.Fatal(err)
	}

	fake := filepath.Join(tmp, "fake")
	diskDir := filepath.Join(fake, "sys/dev/block", fmtDev(d.rdev))
	writeFiles(t, map[string]string{
		filepath.Join(diskDir, "fakedisk1/partition"):        "1\n",
		filepath.Join(diskDir, "fakedisk1/start"):            strconv.FormatInt(p1.Offset(512)/512, 10) + "\n",
		filepath.Join(diskDir, "fakedisk1/size"):             strconv.FormatInt(p1.Size(512)/512, 10) + "\n",
		filepath.Join(diskDir, "fakedisk2/partition"):        "2\n",
		filepath.Join(diskDir, "fakedisk2/start"):            "2048\n", // stale: not where partition 2 is now
		filepath.Join(diskDir, "fakedisk2/size"):             "2048\n",
		filepath.Join(diskDir, "queue/partition"):            "not a partition directory",
		filepath.Join(fake, "sys/class/block/fakedisk1/dev"): fmtDev(devNum) + "\n",
	})
	os.MkdirAll(filepath.Join(fake, "dev"), 0o755)
	oldDev, oldClass, oldDevBlock := devDir, sysClassBlock, sysDevBlockDir
	devDir, sysClassBlock, sysDevBlockDir = filepath.Join(fake, "dev"), filepath.Join(fake, "sys/class/block"), filepath.Join(fake, "sys/dev/block")
	t.Cleanup(func() { devDir, sysClassBlock, sysDevBlockDir = oldDev, oldClass, oldDevBlock })

	if ok, err := d.HasPartitionTable(); err != nil || !ok {
		t.Errorf("HasPartitionTable = %v, %v", ok, err)
	}
	dev1, err := d.PartitionDevice(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if dev1 != filepath.Join(fake, "dev/fakedisk1") {
		t.Errorf("partition 1 device %s, want the kernel node", dev1)
	}
	var st unix.Stat_t
	if err := unix.Stat(dev1, &st); err != nil || st.Rdev != devNum || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		t.Errorf("node %s: %+v %v", dev1, st, err)
	}
	// Restore the real /dev for the stacked loop device of partition 2.
	devDir, sysClassBlock = oldDev, oldClass
	dev2, err := d.PartitionDevice(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dev2, "/dev/loop") || loopSysfs(t, dev2, "backing_file") != whole.path {
		t.Errorf("partition 2 device %s, want a loop device over %s", dev2, whole.path)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Close detaches what it attached, not the kernel's partitions.
	if got := boundLoops(t, whole.path); len(got) != 0 {
		t.Errorf("stacked loop devices left: %v", got)
	}
	if got := boundLoops(t, img); len(got) != 2 {
		t.Errorf("loop devices over the image %v, want the whole disk and the fake partition", got)
	}
}

func fmtDev(dev uint64) string {
	return strconv.FormatUint(uint64(unix.Major(dev)), 10) + ":" + strconv.FormatUint(uint64(unix.Minor(dev)), 10)
}

func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRewriteTable: setting the legacy BIOS bootable attribute and
// installing MBR boot code after the partitions are in use (as the
// extlinux step does) keeps them intact; moving an attached partition is
// refused.
func TestRewriteTable(t *testing.T) {
	requireRoot(t)
	requireTool(t, "mkfs.ext4", "e2fsprogs")
	img := sparseFile(t, 128*MiB)
	guard(t, filepath.Dir(img), img)
	ctx := context.Background()
	d := openDisk(t, img, Options{})
	l := NewLayout(LayoutOptions{Boot: true, BootSize: 32 * MiB, RootMinSize: 32 * MiB})
	tbl, err := d.CreatePartitions(l, false)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := d.PartitionDevice(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := Mkfs(ctx, HostRunner{}, "ext4", dev, "boot"); err != nil {
		t.Fatal(err)
	}
	u, _ := FilesystemUUID(dev)

	tbl.Partition(1).Attributes |= AttrLegacyBIOSBootable
	if err := d.WriteTable(tbl); err != nil {
		t.Fatal(err)
	}
	code := bytes.Repeat([]byte{0x90}, 440)
	if err := d.InstallMBRBootCode(code); err != nil {
		t.Fatal(err)
	}
	back, err := d.ReadTable()
	if err != nil {
		t.Fatal(err)
	}
	if back.Partition(1).Attributes != AttrLegacyBIOSBootable || !bytes.Equal(back.BootCode, code) {
		t.Errorf("read back attributes %#x boot code %x...", back.Partition(1).Attributes, back.BootCode[:4])
	}
	if u2, err := FilesystemUUID(dev); err != nil || u2 != u {
		t.Errorf("filesystem after table rewrite: %q %v, want %q", u2, err, u)
	}

	moved := *tbl
	moved.Partitions = append([]Partition(nil), tbl.Partitions...)
	moved.Partitions[0].FirstLBA += 2048
	err = d.WriteTable(&moved)
	if err == nil || !strings.Contains(err.Error(), "partition 1 is in use as "+dev) {
		t.Errorf("moving an attached partition: %v", err)
	}
	if err := d.Wipe(); err == nil || !strings.Contains(err.Error(), "attached") {
		t.Errorf("Wipe with attached partitions: %v", err)
	}
}
