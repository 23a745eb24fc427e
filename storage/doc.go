// Package storage is bootc's image cache: a containers-storage store (go.podman.io/storage)
// into which images are pulled in-process with containers/image (go.podman.io/image/v5), and
// from which the ostree importer streams layer tars.
//
// # Store
//
// Open opens, by default, the host's store exactly as podman uses it (storage.conf), so images
// built or pulled with podman are read in place; Options.Root or the environment variable
// BOOTC_STORAGE_ROOT choose another graph root (explicit option > environment > storage.conf).
// Close shuts the store down (Shutdown(false)), which removes the overlay driver's bind mount
// on <graphroot>/overlay. Programs using this package must call reexec.Init() from
// go.podman.io/storage/pkg/reexec first thing in main, because containers-storage re-executes
// the program to apply layers and mount overlays.
//
// # Pull
//
// (*Store).Pull takes a transport-qualified reference (docker://, oci:, oci-archive:,
// containers-storage:, dir:, docker-archive:) and, before writing anything, reads the manifest
// and config (one manifest request), checks the architecture and checks that the layers the
// store lacks fit in the free space of the graph root. containers/image then copies the image
// with the signature policy (policy.json, or a policy that must require signatures for
// upstream's ostree-image-signed:), registries.conf (mirrors, insecure registries), the auth
// files upstream bootc uses (/run/ostree/auth.json, /etc/ostree/auth.json,
// /usr/lib/ostree/auth.json for root, then containers' defaults), concurrent blob downloads and
// progress events. Layers the store already has are not fetched again (matched by blob
// digest, or by the diff ID the blob info cache verified for a blob earlier). A
// containers-storage source naming an image of this very store is checked against the policy
// and returned as is, never copied.
//
// (*Store).Inspect and Inspect read only the manifest and config, for "is there an update?"
// checks.
//
// # Sources: reading an image without copying it
//
// (*Store).OpenSource (and OpenSource, without a store) opens an image at its source and
// copies nothing: one manifest request (a manifest list is resolved for the architecture),
// the config blob, the signature policy evaluated on the image as copy.Image would (and, for
// ostree-image-signed:, a policy that requires signatures), the architecture checked, all
// before any layer is fetched; registries.conf, mirrors and auth files as for Pull. The Source
// lists each layer's compressed digest, size, media type and diff ID, and the store's layer
// with that diff ID if there is one (SourceLayer.Store). Source.OpenLayer streams a layer's
// uncompressed tar: the blob comes through containers/image's GetBlob with the blob info
// cache, its digest is verified while it streams (a mismatch is an error at the end naming
// the blob), it is decompressed once (gzip with pgzip, zstd, or none), and the bytes read are
// reported for progress. Several layers may be streamed at once. A containers-storage source
// naming an image of this store is read in place (Source.InPlace: every layer is a store
// layer). (*Store).CheckFreeSpace checks the room for the bytes about to be written.
//
// # Store layers
//
// (*Store).LayerByDiffID finds a store layer by diff ID: its ID, the directory holding its
// unpacked files at their tar paths (overlay: <graphroot>/overlay/<id>/diff, vfs:
// <graphroot>/vfs/dir/<id>; else ""), and StoreLayer.Open for its tar stream. A layer found
// corrupt (its stream failed its diff-ID check, or could not be read) is deleted with
// (*Store).DropLayer, with the images using it and a warning naming them, so that the next
// pull fetches it again.
//
// # Filling the store from local content
//
// (*Store).PutImage creates an image in the store from content already on this machine,
// without downloading: for each missing layer a tar-split (the exact tar headers) and a
// resolver from tar entry name to a file holding the entry's content (in bootc, a bare ostree
// repo object; this package does not know that). With the overlay driver, a layer is built
// through containers-storage's staged-layer API by bootc's own differ, which hardlinks each
// regular file to the resolver's file when uid, gid, mode and xattrs are the tar header's
// (copying otherwise, or across mount points and filesystems); other drivers get the tar
// reassembled from the tar-split. Layer IDs are the chain IDs containers/image uses (ChainID),
// layers carry their compressed digest, diff ID, size, UIDs/GIDs and tar-split, and the image
// record is the one containers/image's storage destination writes, marked with PulledKey: a
// later Pull, copy.Image or podman pull of the image reuses every layer. Because a hardlink
// cannot cross a mount point, Open gives the overlay driver skip_mount_home=true (no bind
// mount of <graphroot>/overlay on itself) unless the driver options say otherwise.
//
// SysrootStoreRoot names the store an offline sysroot uses once booted
// (<sysroot>/ostree/deploy/<stateroot>/var/lib/containers/storage).
//
// # Images and layers
//
// An Image lists its layers base first, each with its compressed digest (from the manifest)
// and its diff ID, so callers can match layers across compressions and transports by diff ID.
// (*Store).LayerDiff streams a layer's uncompressed tar, byte for byte the original one (its
// digest is the diff ID). While a LayerDiff reader is open, containers-storage holds the
// store's layer lock for writing: read layers one at a time and close each reader promptly.
//
// # Garbage collection
//
// Images created by Pull carry a marker (the image big-data item PulledKey). (*Store).Prune
// deletes marked images not in a keep list; images created by podman in the same store are
// never touched by Prune. (*Store).Delete removes one image, marked or not.
//
// Errors name the image, blob or path at fault and wrap this package's sentinel errors
// (ErrUnknownTransport, ErrArchitecture, ErrInsufficientSpace, ErrInsecurePolicy,
// ErrImageNotFound) where one applies.
package storage
