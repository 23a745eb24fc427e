// Package importer turns container image layers into ostree commits, the way upstream
// bootc's ostree-ext does for images that are not ostree-encapsulated ("derived" layers),
// but in-process and streaming.
//
// Each layer's uncompressed tar stream is parsed (internal/tarstream, which keeps the
// order of extended attributes) and written straight into the repository as objects,
// without unpacking to a temporary directory: regular files go to a small pool of writer
// goroutines, while one goroutine owns the layer's mutable tree and applies entries in
// archive order. Paths are normalised and filtered as upstream does: etc/ moves to
// usr/etc/, var/ content moves to usr/share/factory/var/ for libostree older than 2024.3,
// the children of run, tmp, proc, sys and dev are dropped (and counted). Whiteout files are
// kept in the layer commit, as upstream keeps them.
//
// ImportImage writes one commit per layer (ref ostree/container/blob/<escaped digest>),
// reusing layers already imported (by digest, or by diff ID across compression and
// transports), then merges the layers at tree level with overlay semantics (whiteouts,
// opaque directories, upper layers win) into the image commit (ref
// ostree/container/image/<escaped reference>) with upstream's metadata keys. Everything
// happens in one repository transaction: bad input leaves refs as they were.
//
// Bad input is refused with an error naming the entry: absolute paths, "..", hardlinks
// whose target is outside the tree or not yet seen, device nodes and FIFOs, paths through a
// symlink, truncated or corrupt archives.
package importer
