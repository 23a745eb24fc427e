package kargs

import "runtime"

// rustArch maps Go's GOARCH values to Rust's std::env::consts::ARCH names,
// which kargs.d and install config `match-architectures` use.
var rustArch = map[string]string{
	"386":      "x86",
	"amd64":    "x86_64",
	"arm":      "arm",
	"arm64":    "aarch64",
	"loong64":  "loongarch64",
	"mips":     "mips",
	"mipsle":   "mips",
	"mips64":   "mips64",
	"mips64le": "mips64",
	"ppc64":    "powerpc64",
	"ppc64le":  "powerpc64",
	"riscv64":  "riscv64",
	"s390x":    "s390x",
	"sparc64":  "sparc64",
	"wasm":     "wasm32",
}

// RustArch returns the Rust std::env::consts::ARCH spelling of a Go GOARCH
// value (amd64 -> x86_64, arm64 -> aarch64, ppc64le -> powerpc64, ...).
// Unknown values are returned unchanged.
func RustArch(goarch string) string {
	if a, ok := rustArch[goarch]; ok {
		return a
	}
	return goarch
}

// Arch is this binary's architecture in Rust's spelling, the value upstream
// compares `match-architectures` entries against.
var Arch = RustArch(runtime.GOARCH)
