// Command bootc performs transactional, in-place operating system updates delivered as
// container images, deployed with libostree.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kong"
	"github.com/rs/zerolog"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

// Globals are the flags every verb shares.
type Globals struct {
	Sysroot  string           `help:"Operate on the ostree sysroot at DIR instead of the running system." placeholder:"DIR" type:"path"`
	LogLevel string           `help:"Log level: trace, debug, info, warn, error." default:"warn" enum:"trace,debug,info,warn,error"`
	Version  kong.VersionFlag `help:"Print the version and exit."`
}

// CLI is the command line: the global flags and one field per verb.
type CLI struct {
	Globals
}

func main() {
	var cli CLI
	ctx := kong.Parse(&cli,
		kong.Name("bootc"),
		kong.Description("Transactional, in-place operating system updates using OCI/Docker container images."),
		kong.UsageOnError(),
		kong.Vars{"version": version},
	)
	level, err := zerolog.ParseLevel(cli.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(level).With().Timestamp().Logger()
	if ctx.Command() == "" {
		ctx.PrintUsage(false)
		return
	}
	if err := ctx.Run(&cli.Globals, &log); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
