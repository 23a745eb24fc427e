// Package ostree is the project's only binding to libostree and GLib (cgo). It gives the
// rest of the program what container import and deployment need: repositories (objects,
// transactions, mutable trees, commits, refs, prune, checkout) and sysroots (load, lock,
// stateroots, deploy and stage, deployment lists, origins, cleanup).
//
// # Errors
//
// Every C call that can fail goes through a shim in shim.c that fills a GError; takeError
// converts it, once, into a *GError that keeps the domain, code and message. errors.Is maps
// G_IO_ERROR_CANCELLED to context.Canceled, not-found to fs.ErrNotExist and exists to
// fs.ErrExist. Errors are wrapped with the operation and the object at fault.
//
// # Cancellation
//
// Every blocking call takes a context.Context, turned into a GCancellable for that call
// (see cancellable in cancel.go). A call made with an already-cancelled context returns
// the context's error without calling into C.
//
// # Ownership and threads
//
// Repo, Sysroot and MutableTree own one reference to their C object and must be closed
// with Close (idempotent, meant for defer). Deployment is an immutable snapshot that also
// keeps a reference (Close, or the garbage collector, drops it). No Go pointer is stored in
// C memory and no floating GVariant crosses into Go. Repo is safe for concurrent object
// writes; Sysroot serialises its calls with a mutex; MutableTree must be used from one
// goroutine at a time. Each type's comment states its rules.
//
// # Without cgo
//
// The files that import "C" hold the calls into libostree; types.go holds the types,
// constants and pure-Go methods both builds share (libostree's enum values spelled out, and
// checked against the C headers at compile time in cgo.go). nocgo.go is the no-cgo twin
// (as go-systemd's util_stub.go): the same API, every call failing with ErrNoCgo, so that
// the module builds and vets with CGO_ENABLED=0. TestNoCgoTwin compares the two APIs.
//
// # Test helpers
//
// Package ostree/ostreetest makes throwaway sysroots on tmpfs (never on the root
// filesystem: writing deployments freezes the filesystem holding boot/) and commits
// directories through this package's API.
package ostree
