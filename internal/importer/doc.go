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
// Layers are read from a list of sources (Source: e.g. the containers-storage layer, then
// the registry blob), tried in order until one gives a stream that imports and matches the
// diff ID. A source with an adopt directory (the layer's files unpacked, such as a
// containers-storage diff directory on the repository's filesystem) is imported in adopt
// mode: files are hashed in Go and hardlinked into the bare repository instead of copied,
// with the same layer commit as a normal import. Every imported layer's tar-split (the
// exact tar headers, github.com/vbatts/tar-split) is kept in the layer commit's detached
// metadata (MetaTarSplit); with LayerTarSplit and LayerObjects the layer tar can be
// reassembled from the repository byte for byte. Missing layers are imported concurrently.
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
