// Package ostreeext imports ostree-native ("encapsulated") container images: Fedora
// CoreOS and the Fedora and CentOS bootc base images, which upstream's ostree-ext writes
// (bootc-dev/bootc crates/ostree-ext: container/encapsulate.rs, tar/export.rs) and reads
// (container/store.rs, tar/import.rs). This is our own reader of that format.
//
// # Recognising one
//
// An image is ostree-native when its config has the label ostree.final-diffid (format
// version 1). Its first layer is the commit layer; the layers after it, up to and
// including the one whose diff ID the label names, are chunk ("object set") layers, each
// annotated ostree.components with the components (packages) whose files it holds; the
// layers after that are derived layers (a Containerfile's RUN, COPY ...). The label
// ostree.commit names the commit; version and org.opencontainers.image.version carry the
// commit's version metadata, ostree.bootable and containers.bootc=1 mark bootable commits.
//
// # The layer format (tar, format version 1)
//
// Each ostree layer embeds a bare-split-xattrs repository under sysroot/ostree/repo/: the
// directories (objects/00 ... objects/ff, refs/..., state, tmp, ...) and a config
// ([core] mode=bare-split-xattrs), then objects at objects/XX/REST.TYPE where XXREST is
// the SHA-256 checksum:
//   - .commit: the serialized commit variant (a{sv}aya(say)sstayay). It is the first
//     object of the commit layer; its detached metadata (.commitmeta, a{sv}, with the
//     signatures under ostree.gpgsigs) follows it directly when there is one.
//   - .dirtree (a(say)a(sayay)) and .dirmeta (uuua(ayay)): only in the commit layer.
//   - .file: a content object as a tar entry: a regular file (content, owner, mode in
//     the header) or a symlink. Its extended attributes are not in the object: the entry
//     just before it, .file-xattrs-link (named by the content object's checksum), is
//     either the serialized a(ayay) itself (upstream's writer) or a hardlink to a
//     .file-xattrs object named by the attributes' own checksum. Every content object has
//     one, empty attributes included.
//
// The checkout follows the objects: every directory of the commit (in the commit layer,
// with its owner and mode; usr/etc is written as etc) and every file as a hardlink to its
// object (an empty regular file for empty files), so that generic readers (podman) see the
// filesystem. The content objects carry their extended attributes as PAX records for
// them too (except security.selinux). The importer ignores the checkout.
//
// Format version 0 (still read, not written): extended attributes as xattrs/CHECKSUM
// files, announced by a hardlink objects/XX/REST.file.xattrs to them, and "./" path
// prefixes. A content object without announced attributes gets none.
//
// # Import
//
// ImportImage reads the commit layer first (so that a bad signature is refused before any
// chunk is fetched), then the chunk layers; each object is checked against its name as it
// streams in: metadata objects are hashed here, content objects are written through
// libostree with their expected checksum (libostree refuses a mismatch and writes
// nothing). Objects the repository already holds are neither written nor read further
// than their header. The commit object is written last (libostree writes commit objects
// outside the transaction's staging directory), after its signature has been verified
// (RemoteVerifier) and all objects are in; then the tree is checked complete. Refs are
// upstream's: ostree/container/blob/<escaped digest> of the commit layer -> the commit,
// of each chunk layer -> a commit (time 0, no metadata) of one directory holding its
// content objects named by their checksums, of each derived layer -> its layer commit,
// ostree/container/image/<escaped reference> -> the image commit, whose parent is the
// base commit and whose tree is the base with the derived layers merged on top.
//
// Derived layers go through the generic importer (internal/importer) after upstream's
// filter: a modified (mtime > 0) file under sysroot/ostree/repo/ followed by a modified
// hardlink to it becomes that file at the link's path, later links to it point there;
// everything else under sysroot/ is dropped (upstream drops it only when the base does not
// enable composefs or a transient root; the embedded repository never belongs in a
// deployment). Toplevel directories other than usr, etc, var are dropped unless the base
// commit's prepare-root.conf enables composefs or a transient root, as upstream decides.
//
// Each layer is read from the first of its sources (importer.Layer.Sources, then Open)
// that gives the layer, as the generic importer does; adopt directories are not used, and
// no tar-split is recorded for these layers (the base commit's detached metadata is the
// image's own, signatures included, and must stay as it is), so the containers-storage
// store cannot be filled from the repository for ostree-native images yet.
//
// Everything happens in one repository transaction: on error no ref changes, and a
// commit object written by the failed import is deleted again.
package ostreeext
