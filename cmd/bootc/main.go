// Command bootc performs transactional, in-place operating system updates delivered as
// container images, deployed with libostree.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/rs/zerolog"
	"go.podman.io/storage/pkg/reexec"
	"golang.org/x/term"

	"github.com/bootc-go/bootc/internal/install"
	"github.com/bootc-go/bootc/internal/logbridge"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

// rootHelp describes bootc in --help and bootc(8).
const rootHelp = "Transactional, in-place operating system updates using OCI/Docker container images."

// Globals are the flags every verb shares.
type Globals struct {
	Sysroot     string           `help:"Operate on the ostree sysroot at DIR (a mounted disk image, a test sysroot) instead of the running system. New deployments are then made at once, with the /etc merge done in-process, and status shows the deployment that boots next as booted." placeholder:"DIR" type:"path"`
	StorageRoot string           `help:"containers-storage graph root to pull images into (default: BOOTC_STORAGE_ROOT, else the host's store from storage.conf, shared with podman)." placeholder:"DIR" type:"path"`
	LogLevel    string           `help:"Log level: trace, debug, info, warn, error." default:"warn" enum:"trace,debug,info,warn,error"`
	Version     kong.VersionFlag `help:"Print the version and exit."`
}

// CLI is the command line: the global flags and one field per verb.
type CLI struct {
	Globals

	Switch     SwitchCmd     `cmd:"" help:"Target a new container image reference to boot."`
	Upgrade    UpgradeCmd    `cmd:"" aliases:"update" help:"Download and queue an updated container image to apply at the next boot."`
	Rollback   RollbackCmd   `cmd:"" help:"Change the boot order so that the rollback deployment boots next."`
	Edit       EditCmd       `cmd:"" help:"Apply a host specification (YAML): change the image or the boot order."`
	Status     StatusCmd     `cmd:"" help:"Display the status of the host: staged, booted and rollback deployments."`
	UsrOverlay UsrOverlayCmd `cmd:"" name:"usr-overlay" aliases:"usroverlay" help:"Add a transient writable overlay on /usr (discarded at reboot)."`
	Install    InstallCmd    `cmd:"" help:"Install a bootable container image to a disk or a mounted filesystem."`
	Image      ImageCmd      `cmd:"" help:"Operate on the images of bootc's storage: list them, copy one into containers-storage."`
	Internals  InternalsCmd  `cmd:"" hidden:"" help:"Internal commands for CI and debugging."`
	Container  ContainerCmd  `cmd:"" help:"Operations run inside a container image build: lint, inspect."`
	Completion CompletionCmd `cmd:"" help:"Write a shell completion script (bash, zsh or fish) to standard output."`
	Man        ManCmd        `cmd:"" hidden:"" help:"Write the manual pages (bootc.8 and one per verb) into a directory."`
}

func main() {
	// containers-storage re-executes this binary for some helpers.
	if reexec.Init() {
		return
	}
	// libostree's grub2 backend runs this binary as its menu generator on an offline
	// sysroot (install.UseGrubMenuGenerator).
	if ok, err := install.GrubMenuGenerator(context.Background(), os.Args[1:]); ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args and runs the verb; it returns the exit code. Each of adjust is applied to
// the Deps before the verb runs (tests replace parts of the outside world this way).
func run(args []string, stdout, stderr io.Writer, adjust ...func(*Deps)) int {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("bootc"),
		kong.Description(rootHelp),
		kong.UsageOnError(),
		kong.Vars{"version": version},
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitCode(code)) }),
	)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	code := 0
	func() {
		defer func() {
			if r := recover(); r != nil {
				c, ok := r.(exitCode)
				if !ok {
					panic(r)
				}
				code = int(c)
			}
		}()
		kctx, err := parser.Parse(args)
		if err != nil {
			fmt.Fprintln(stderr, "error:", err)
			code = 2
			return
		}
		level, _ := zerolog.ParseLevel(cli.LogLevel)
		log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(level).With().Timestamp().Logger()
		logbridge.Route(log)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		deps := &Deps{Ctx: ctx, Out: stdout, Err: stderr, Log: log, IsRoot: geteuid() == 0,
			IsTerminal: isTerminal(stdout), Env: os.Getenv}
		for _, f := range adjust {
			f(deps)
		}
		if marker, fd := unshareFor(kctx.Command(), &cli, deps); marker != "" {
			code = reexecUnshared(deps, args, marker, fd)
			return
		}
		if err := kctx.Run(&cli.Globals, deps); err != nil {
			var st *exitStatusError
			if errors.As(err, &st) {
				code = st.Code
				return
			}
			fmt.Fprintln(stderr, "error:", oneLine(err))
			code = exitCodeOf(err)
		}
	}()
	return code
}

type exitCode int

// geteuid is os.Geteuid; tests replace it to run the verbs as if not root.
var geteuid = os.Geteuid

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
