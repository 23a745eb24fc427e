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
