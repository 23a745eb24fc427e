package storage

import "errors"

// Sentinel errors; the errors returned by this package wrap them (test with errors.Is) and
// add the image, layer or path at fault.
var (
	// ErrUnknownTransport: the image reference names no transport, or one that is not known.
	ErrUnknownTransport = errors.New("unknown transport")
	// ErrArchitecture: the image is built for another architecture than the one requested.
	ErrArchitecture = errors.New("image architecture mismatch")
	// ErrInsufficientSpace: the layers to fetch do not fit in the free space of the graph root.
	ErrInsufficientSpace = errors.New("Insufficient free space") // upstream's wording, which scripts match
	// ErrInsecurePolicy: a signed pull was requested but the signature policy's default
	// requirement accepts anything.
	ErrInsecurePolicy = errors.New("signature policy does not require signatures")
	// ErrImageNotFound: no image with that name or ID is in the store.
	ErrImageNotFound = errors.New("image not found")
	// ErrClosed: the Store was used after Close.
	ErrClosed = errors.New("store is closed")
)
