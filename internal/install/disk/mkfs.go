package disk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Runner runs a program. The installer supplies one that runs the tools
// shipped in the image being installed (through a chroot into a checkout
// of it) and falls back to [HostRunner].
type Runner interface {
	// Run runs name with args and waits for it. It stops the program when
	// ctx is done. A failure's error includes what the program printed.
	Run(ctx context.Context, name string, args ...string) error
}

// RunnerFunc adapts a function to [Runner].
type RunnerFunc func(ctx context.Context, name string, args ...string) error

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, name string, args ...string) error {
	return f(ctx, name, args...)
}

// HostRunner runs programs from the host's PATH with exec.CommandContext.
type HostRunner struct {
	// Output, if set, also receives the program's stdout and stderr.
	Output io.Writer
	// Env, if set, replaces the environment.
	Env []string
}

// Run implements [Runner]. Stdin is /dev/null so that no tool waits for
// an answer; on failure the error ends with the program's output.
func (h HostRunner) Run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = h.Env
	return RunCommand(cmd, h.Output)
}

// RunCommand runs cmd with its stdout and stderr captured (and copied to tee, if not nil);
// on failure the error names the command and ends with the last 4 KiB of its output.
func RunCommand(cmd *exec.Cmd, tee io.Writer) error {
	var out bytes.Buffer
	var w io.Writer = &out
	if tee != nil {
		w = io.MultiWriter(&out, tee)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 4096 {
			msg = "..." + msg[len(msg)-4096:]
		}
		if msg != "" {
			return fmt.Errorf("running %s: %w: %s", strings.Join(cmd.Args, " "), err, msg)
		}
		return fmt.Errorf("running %s: %w", strings.Join(cmd.Args, " "), err)
	}
	return nil
}

// MkfsOptions are the optional parts of [MkfsWith].
type MkfsOptions struct {
	// UUID sets the filesystem UUID (for vfat the volume ID, as
	// "ABCD-1234" or "ABCD1234"); empty lets mkfs choose one.
	UUID string
	// ExtraArgs go before the device, e.g. {"-O", "verity"} for ext4.
	ExtraArgs []string
}

// labelLimits are the longest labels, in bytes, each mkfs accepts.
var labelLimits = map[string]int{"ext2": 16, "ext3": 16, "ext4": 16, "xfs": 12, "vfat": 11, "btrfs": 255}

// MkfsCommand returns the program and arguments that make a filesystem of
// type fstype (ext2, ext3, ext4, xfs, vfat, btrfs) with the given label on
// device. Tools are told to overwrite old signatures (-F, -f): the
// installer only formats partitions it has just created. Stdout noise is
// reduced with -q where the tool has it.
func MkfsCommand(fstype, device, label string, opts MkfsOptions) (string, []string, error) {
	limit, ok := labelLimits[fstype]
	if !ok {
		return "", nil, fmt.Errorf("formatting %s: unsupported filesystem type %q", device, fstype)
	}
	if len(label) > limit {
		return "", nil, fmt.Errorf("formatting %s: %s label %q is longer than %d bytes", device, fstype, label, limit)
	}
	var args []string
	switch fstype {
	case "ext2", "ext3", "ext4":
		args = []string{"-q", "-F"}
		if label != "" {
			args = append(args, "-L", label)
		}
		if opts.UUID != "" {
			args = append(args, "-U", opts.UUID)
		}
	case "xfs":
		args = []string{"-q", "-f"}
		if label != "" {
			args = append(args, "-L", label)
		}
		if opts.UUID != "" {
			args = append(args, "-m", "uuid="+opts.UUID)
		}
	case "vfat":
		if label != "" {
			args = append(args, "-n", label)
		}
		if opts.UUID != "" {
			id := strings.ReplaceAll(opts.UUID, "-", "")
			if len(id) != 8 {
				return "", nil, fmt.Errorf("formatting %s: vfat volume ID %q is not 8 hex digits", device, opts.UUID)
			}
			args = append(args, "-i", id)
		}
	case "btrfs":
		args = []string{"-q", "-f"}
		if label != "" {
			args = append(args, "-L", label)
		}
		if opts.UUID != "" {
			args = append(args, "-U", opts.UUID)
		}
	}
	args = append(args, opts.ExtraArgs...)
	args = append(args, device)
	return "mkfs." + fstype, args, nil
}

// Mkfs makes a filesystem of type fstype with the given label on device
// by running mkfs.<fstype> through r.
func Mkfs(ctx context.Context, r Runner, fstype, device, label string) error {
	return MkfsWith(ctx, r, fstype, device, label, MkfsOptions{})
}

// MkfsWith is [Mkfs] with a chosen UUID or extra arguments.
func MkfsWith(ctx context.Context, r Runner, fstype, device, label string, opts MkfsOptions) error {
	name, args, err := MkfsCommand(fstype, device, label, opts)
	if err != nil {
		return err
	}
	if err := r.Run(ctx, name, args...); err != nil {
		return fmt.Errorf("formatting %s as %s: %w", device, fstype, err)
	}
	return nil
}
