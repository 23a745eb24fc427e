package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/testskip"
)

// qemuBinary is the emulator the tests run.
const qemuBinary = "qemu-system-x86_64"

// requireQemu returns the path of qemu-system-x86_64, installing Debian's qemu-system-x86
// when it is missing (hack/deps.sh lists it too). It skips the test only when qemu is
// missing and cannot be installed.
func requireQemu(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath(qemuBinary); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		testskip.Skipf(t, "qemu", "%s is missing and installing it (apt-get install qemu-system-x86) needs root", qemuBinary)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		testskip.Skipf(t, "qemu", "%s is missing and there is no apt-get to install qemu-system-x86", qemuBinary)
	}
	t.Logf("%s is missing: installing qemu-system-x86", qemuBinary)
	cmd := exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", "qemu-system-x86")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		upd := exec.Command("apt-get", "update", "-qq")
		upd.Env = cmd.Env
		if uout, uerr := upd.CombinedOutput(); uerr != nil {
			testskip.Skipf(t, "qemu", "%s is missing and cannot be installed: apt-get update: %v\n%s", qemuBinary, uerr, uout)
		}
		cmd = exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", "qemu-system-x86")
		cmd.Env = upd.Env
		if out2, err2 := cmd.CombinedOutput(); err2 != nil {
			testskip.Skipf(t, "qemu", "%s is missing and cannot be installed: apt-get install qemu-system-x86: %v\n%s\n%s", qemuBinary, err2, out, out2)
		}
	}
	p, err := exec.LookPath(qemuBinary)
	if err != nil {
		testskip.Skipf(t, "qemu", "%s still missing after installing qemu-system-x86: %v", qemuBinary, err)
	}
	return p
}

// kvmUsable reports whether /dev/kvm answers KVM_GET_API_VERSION (the cheap part of the
// check; chooseAccel then boots a guest with it).
func kvmUsable() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	const kvmGetAPIVersion = 0xAE00
	v, err := unix.IoctlRetInt(int(f.Fd()), kvmGetAPIVersion)
	if err != nil {
		return fmt.Errorf("KVM_GET_API_VERSION: %w", err)
	}
	if v != 12 {
		return fmt.Errorf("KVM API version %d, want 12", v)
	}
	return nil
}

// vmConfig is what every boot of the test VM shares.
type vmConfig struct {
	qemu  string
	accel string // "kvm" or "tcg"
	disk  string // the installed disk (raw)
	steps string // the BOOTCSTEPS disk (ext4 image), "" for none
	dir   string // where serial logs and qemu's stderr go
	// snapshot runs qemu with -snapshot: writes go to a temporary overlay.
	snapshot bool
	// uefiVars, when set, boots with OVMF with Secure Boot enforcing instead of SeaBIOS:
	// the variable store (a copy of ovmfVarsMS, which enrolls Microsoft's keys) at this path.
	uefiVars string
	// kernel, initrd and append, when kernel is set, boot that kernel directly (qemu's
	// -kernel) instead of the disk's bootloader.
	kernel, initrd, append string
}

// Debian's ovmf: firmware with Secure Boot support, and a variable store with the
// Microsoft keys enrolled and Secure Boot enabled.
const (
	ovmfCodeSecBoot = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
	ovmfVarsMS      = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
)

func (c vmConfig) args(serial string) []string {
	machine := "q35"
	if c.uefiVars != "" {
		machine = "q35,smm=on" // OVMF's Secure Boot build keeps its variables in SMM
	}
	a := []string{
		"-accel", c.accel,
		"-machine", machine,
		"-m", "1536", "-smp", "2",
		// No default devices (VGA, parallel port, CD-ROM, NIC): fewer devices to probe and
		// modules to load at every boot under TCG.
		"-nodefaults", "-nographic", "-no-reboot",
		"-monitor", "none",
		"-serial", "file:" + serial,
		"-drive", "file=" + c.disk + ",format=raw,if=virtio,cache=unsafe",
	}
	if c.accel == "kvm" {
		a = append(a, "-cpu", "host")
	}
	if c.uefiVars != "" {
		a = append(a, "-global", "driver=cfi.pflash01,property=secure,value=on",
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+ovmfCodeSecBoot,
			"-drive", "if=pflash,format=raw,unit=1,file="+c.uefiVars)
	}
	if c.steps != "" {
		a = append(a, "-drive", "file="+c.steps+",format=raw,if=virtio,cache=unsafe")
	}
	if c.kernel != "" {
		a = append(a, "-kernel", c.kernel, "-initrd", c.initrd, "-append", c.append)
	}
	if c.snapshot {
		a = append(a, "-snapshot")
	}
	return a
}

// vmProcs tracks every qemu the tests started, so that leak checks and cleanups find them.
var vmProcs struct {
	sync.Mutex
	pids map[int]string
}

// bootOptions tune one boot.
type bootOptions struct {
	// markerTimeout bounds the time from start to BOOTC-TEST-MARKER.
	markerTimeout time.Duration
	// doneTimeout bounds the time from start to BOOTC-TEST-DONE.
	doneTimeout time.Duration
	// exitTimeout bounds the time from BOOTC-TEST-DONE to qemu's exit (the guest reboots
	// or powers off after its steps, finalizing a staged deployment on the way; -no-reboot
	// turns both into an exit).
	exitTimeout time.Duration
	// kill, when set, is called on every new serial line; when it returns true the VM is
	// killed with SIGKILL at once (a power cut).
	kill func(line string) bool
	// stopAfterMarker kills the VM as soon as the marker appears (accelerator probe).
	stopAfterMarker bool
	// rebootsItself: the steps end (E2E-END) with a command that reboots the guest, so
	// the marker never prints BOOTC-TEST-DONE.
	rebootsItself bool
}

// boot is the record of one run of qemu.
type boot struct {
	name    string
	serial  *serialLog
	stderr  string // qemu's stderr file
	start   time.Time
	marker  time.Duration // time to BOOTC-TEST-MARKER (0: never)
	done    time.Duration // time to BOOTC-TEST-DONE (0: never)
	exit    time.Duration // time to qemu's exit
	killed  bool          // killed by us (power cut or timeout)
	killMsg string        // the line that triggered the kill
	err     error         // a timeout or qemu failure
	waitErr error         // qemu's exit status
}

// runVM boots the VM once and returns when qemu has exited (by itself or killed). It
// never leaves qemu running: a timeout kills it, and so does t.Cleanup.
func runVM(t *testing.T, c vmConfig, name string, o bootOptions) *boot {
	t.Helper()
	if o.markerTimeout == 0 {
		o.markerTimeout = 5 * time.Minute
	}
	if o.doneTimeout == 0 {
		o.doneTimeout = 15 * time.Minute
	}
	if o.exitTimeout == 0 {
		o.exitTimeout = 4 * time.Minute
	}
	b := &boot{name: name}
	serialPath := filepath.Join(c.dir, "serial-"+name+".log")
	b.stderr = filepath.Join(c.dir, "qemu-"+name+".stderr")
	_ = os.Remove(serialPath)
	if err := os.WriteFile(serialPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b.serial = newSerialLog(serialPath)
	errf, err := os.Create(b.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd := exec.Command(c.qemu, c.args(serialPath)...)
	cmd.Stdin = nil
	cmd.Stdout = errf
	cmd.Stderr = errf
	// qemu dies with the test process, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	b.start = time.Now()
	b.serial.start = b.start
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", c.qemu, err)
	}
	pid := cmd.Process.Pid
	vmProcs.Lock()
	if vmProcs.pids == nil {
		vmProcs.pids = map[int]string{}
	}
	vmProcs.pids[pid] = name
	vmProcs.Unlock()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	exited := false
	kill := func() {
		if !exited {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	// Whatever happens below (t.Fatal included), qemu does not outlive this function.
	defer func() {
		if !exited {
			kill()
			b.waitErr = <-waited
			exited = true
		}
		vmProcs.Lock()
		delete(vmProcs.pids, pid)
		vmProcs.Unlock()
	}()

	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !exited {
		select {
		case werr := <-waited:
			exited = true
			b.waitErr = werr
			b.exit = time.Since(b.start)
		case <-tick.C:
		}
		for _, l := range b.serial.poll() {
			if b.marker == 0 && strings.Contains(l.text, "BOOTC-TEST-MARKER ") {
				b.marker = l.at
				if o.stopAfterMarker && !exited {
					b.killed, b.killMsg = true, l.text
					kill()
				}
			}
			if b.done == 0 && strings.Contains(l.text, "BOOTC-TEST-DONE ") {
				b.done = l.at
			}
			if o.kill != nil && !b.killed && !exited && o.kill(l.text) {
				b.killed, b.killMsg = true, l.text
				kill()
			}
		}
		if exited {
			break
		}
		el := time.Since(b.start)
		switch {
		case b.marker == 0 && el > o.markerTimeout:
			b.err = fmt.Errorf("no BOOTC-TEST-MARKER within %s", o.markerTimeout)
		case b.done == 0 && el > o.doneTimeout:
			b.err = fmt.Errorf("no BOOTC-TEST-DONE within %s", o.doneTimeout)
		case b.done > 0 && el > b.done+o.exitTimeout:
			b.err = fmt.Errorf("qemu still running %s after BOOTC-TEST-DONE (the guest did not reboot or power off)", o.exitTimeout)
		}
		if b.err == nil {
			if se := qemuStderr(b.stderr); strings.Contains(se, "KVM internal error") || strings.Contains(se, "emulation failure") {
				b.err = errors.New("KVM failed (see qemu's stderr)")
			}
		}
		if b.err != nil {
			b.killed = true
			kill()
		}
	}
	if b.exit == 0 {
		b.exit = time.Since(b.start)
	}
	b.serial.poll()
	return b
}

func qemuStderr(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// chooseAccel returns "kvm" when KVM really runs this guest, else "tcg", with the reason.
// /dev/kvm is present here but fails on stock kernels, so it is tested by booting the
// installed disk with -snapshot until its marker appears.
func chooseAccel(t *testing.T, c vmConfig) (string, string) {
	t.Helper()
	if v := os.Getenv("BOOTC_E2E_ACCEL"); v == "kvm" || v == "tcg" {
		return v, "BOOTC_E2E_ACCEL=" + v
	}
	if err := kvmUsable(); err != nil {
		return "tcg", fmt.Sprintf("/dev/kvm unusable: %v", err)
	}
	c.accel, c.snapshot, c.steps = "kvm", true, ""
	b := runVM(t, c, "kvm-probe", bootOptions{markerTimeout: 2 * time.Minute, doneTimeout: 3 * time.Minute,
		exitTimeout: time.Minute, stopAfterMarker: true})
	if b.marker > 0 {
		return "kvm", fmt.Sprintf("a KVM boot reached its marker in %s", b.marker.Round(time.Second))
	}
	reason := "a KVM boot did not reach its marker"
	if b.err != nil {
		reason += ": " + b.err.Error()
	}
	if se := firstLines(qemuStderr(b.stderr), 3); se != "" {
		reason += " (qemu: " + se + ")"
	}
	return "tcg", reason
}

func firstLines(s string, n int) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "warning: host doesn't support requested feature") {
			out = append(out, l)
		}
		if len(out) == n {
			break
		}
	}
	return strings.Join(out, "; ")
}

// killLeftoverVMs kills qemu processes this test started that are still running (none
// should be: runVM waits for each).
func killLeftoverVMs() []string {
	vmProcs.Lock()
	defer vmProcs.Unlock()
	var left []string
	for pid, name := range vmProcs.pids {
		left = append(left, fmt.Sprintf("%s (pid %d)", name, pid))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return left
}

// runningQemus lists the qemu processes whose command line mentions dir.
func runningQemus(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.HasPrefix(cl, []byte(qemuBinary)) && !bytes.Contains(cl, []byte("/"+qemuBinary+"\x00")) {
			continue
		}
		if bytes.Contains(cl, []byte(dir)) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cl), "\x00", " "))
		}
	}
	return out
}
