// Package installconfig reads the `bootc install` configuration drop-ins as
// upstream bootc does (crates/lib/src/install/config.rs,
// docs/src/man/bootc-install-config.5.md).
//
// Drop-ins are `bootc/install/*.toml` below /usr/lib, /usr/local/lib, /etc
// and /run (in increasing priority): a file in a later base replaces a file of
// the same name in an earlier one, a symlink to /dev/null there removes it,
// and the surviving files are processed in byte order of their names. Dot
// files, names whose extension is not exactly "toml", and anything that is
// not a regular file (symlinks included, as upstream does not follow them)
// are ignored.
//
// Each file may hold one `[install]` table:
//
//	[install.filesystem.root]
//	type = "xfs"
//
//	[install]
//	kargs = ["nosmt", "console=tty0"]
//	stateroot = "myos"
//	root-mount-spec = "LABEL=rootfs"
//	match-architectures = ["x86_64"]
//
// Unknown keys are errors, except inside `[install.ostree]`, where they are
// warnings. A file whose match-architectures does not name this machine's
// architecture (Rust spelling, see kargs.Arch) is skipped. Later files
// override scalar settings of earlier ones; `kargs` and `karg-deletes` are
// appended; `block` is replaced as a whole. After merging, `root-fs-type` and
// `filesystem.root.type` are synchronized (the latter wins) and `block`
// defaults to ["direct"].
package installconfig
