// Package kargs handles kernel arguments the way upstream bootc does
// (crates/lib/src/bootc_kargs.rs and the linux-kernel-cmdline crate).
//
// A kernel command line is split on unquoted ASCII whitespace; a double quote
// toggles quoting, so `foo="a b"` is one argument. Each argument keeps its
// original text (quotes included) and is compared by key and value: only the
// first and last double quote of the whole argument and a quote right after
// the first '=' are ignored, and '-' and '_' in keys are equivalent, so
// `"foo-bar=a b"` equals `foo_bar="a b"`. `foo` (no value) and `foo=` (empty
// value) differ. Duplicate keys are allowed (`console=ttyS0 console=tty0`).
//
// Images ship kernel arguments in /usr/lib/bootc/kargs.d/*.toml:
//
//	kargs = ["console=ttyS0,115200n8"]
//	match-architectures = ["x86_64"]
//
// Files are read in byte order of their names; only names whose extension is
// exactly "toml" count; unknown keys and a missing `kargs` are errors; a file
// whose match-architectures does not name this machine's architecture (Rust's
// std::env::consts::ARCH spelling, see [Arch]) contributes nothing. The
// arguments of all files are concatenated, dropping exact duplicates.
//
// On upgrade and switch, the new deployment's arguments are the merge
// deployment's BLS `options` with the kargs.d difference between the merge
// deployment's image and the new image applied ([ForUpdate]); arguments set
// locally (install --karg, rpm-ostree kargs, hand edits) are kept. At install
// time the order is root filesystem arguments, install config kargs, image
// kargs.d, then deletions, then --karg ([ForInstall]).
package kargs
