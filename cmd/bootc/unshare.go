package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
)

// unsharedEnv marks a process re-executed in its own mount namespace (upstream's name).
const unsharedEnv = "_ostree_unshared"

// mutatingVerbs change the booted system's /sysroot (kong's canonical command names:
// "update" parses as "upgrade").
var mutatingVerbs = map[string]bool{"switch": true, "upgrade": true, "rollback": true, "edit": true}

// lockingCommands take the sysroot lock (or write /sysroot) without being mutating verbs:
// on the booted system /sysroot is read-only, so libostree must remount it writable, in
// bootc's own mount namespace. Found on a booted host: copy-to-storage failed with
// "locking sysroot /: Read-only file system".
var lockingCommands = map[string]bool{"image copy-to-storage": true, "internals destructive-cleanup": true}

// unshareFor decides, from the parsed command (kong's command path such as "upgrade" or
// "install to-disk <device>") and the parsed flags, whether bootc must run in a private
// mount namespace. It returns the environment variable that marks the re-executed child
// ("" for no re-exec) and the progress file descriptor the child must inherit (0 for none).
//
//   - A mutating verb (or install reset, or a lockingCommands entry) on the booted system
//     (no --sysroot): libostree remounts the read-only /sysroot writable, which must
//     happen in a namespace of bootc's own, as upstream does. Deciding from the parsed command means flags before the verb
//     (bootc --log-level debug upgrade) cannot hide it.
//   - install to-disk and to-existing-root: the filesystems it mounts (the new ones, the
//     running root bound at /target) are then this install's only, and vanish with it
//     even if it is killed.
func unshareFor(command string, cli *CLI, d *Deps) (marker string, progressFD int) {
	verb, _, _ := strings.Cut(command, " ")
	switch {
	case mutatingVerbs[verb] || lockingCommands[command] || strings.HasPrefix(command, "install reset"):
		if cli.Sysroot != "" || !d.IsRoot || d.env(unsharedEnv) != "" {
			return "", 0
		}
		if !d.booted() {
			return "", 0
		}
		switch verb {
		case "switch":
			progressFD = cli.Switch.ProgressFD
		case "upgrade":
			progressFD = cli.Upgrade.ProgressFD
		}
		return unsharedEnv, progressFD
	case strings.HasPrefix(command, "install to-disk"), strings.HasPrefix(command, "install to-existing-root"):
		if !installReexec || d.env(installUnsharedEnv) != "" || d.env(installSkipUnshareEnv) != "" {
			return "", 0
		}
		if verb := strings.Fields(command); verb[1] == "to-existing-root" {
			return installUnsharedEnv, cli.Install.ToExistingRoot.ProgressFD
		}
		return installUnsharedEnv, cli.Install.ToDisk.ProgressFD
	}
	return "", 0
}

// reexecUnshared re-executes bootc with args in a private mount namespace, the child
// marked by the environment variable marker. The progress file descriptor progressFD (if
// above 2) is passed on under the same number. SIGINT, SIGTERM and SIGHUP are passed on to
// the child, which cleans up; the child gets SIGTERM if this process dies. It returns the
// child's exit code (128+signal when it was killed).
func reexecUnshared(d *Deps, args []string, marker string, progressFD int) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(d.Err, "error: re-executing in a private mount namespace:", err)
		return 1
	}
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, d.Out, d.Err
	if progressFD > 2 {
		// The child's fd progressFD is ours; the ones between stay closed.
		cmd.ExtraFiles = make([]*os.File, progressFD-2)
		cmd.ExtraFiles[progressFD-3] = os.NewFile(uintptr(progressFD), "progress-fd")
	}
	cmd.Env = append(os.Environ(), marker+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGTERM}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(d.Err, "error: re-executing in a private mount namespace:", err)
		return 1
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-waited:
			if err == nil {
				return 0
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if code := ee.ExitCode(); code >= 0 {
					return code
				}
				return 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
			}
			fmt.Fprintln(d.Err, "error: re-executing in a private mount namespace:", err)
			return 1
		}
	}
}
