package spec

import (
	"errors"
	"fmt"
)

// Transition is what `bootc edit` must do to move the host from its current
// spec to the edited one.
type Transition int

// The transitions.
const (
	// TransitionNone: the spec is unchanged ("Edit cancelled, no changes
	// made.").
	TransitionNone Transition = iota
	// TransitionImage: pull and stage the new spec.image.
	TransitionImage
	// TransitionRollback: spec.bootOrder flipped; do what `bootc rollback`
	// does.
	TransitionRollback
)

// String returns "none", "image" or "rollback".
func (t Transition) String() string {
	switch t {
	case TransitionNone:
		return "none"
	case TransitionImage:
		return "image"
	case TransitionRollback:
		return "rollback"
	default:
		return fmt.Sprintf("Transition(%d)", int(t))
	}
}

// EditUnchangedMessage is what `bootc edit` prints for [TransitionNone].
const EditUnchangedMessage = "Edit cancelled, no changes made."

// ErrInvalidTransition is returned by [ComputeTransition] when the edit both
// changes the image and flips the boot order, which cannot be done at once.
var ErrInvalidTransition = errors.New("Invalid state transition: rollback and image change")

// ErrMissingImage is returned by [ComputeTransition] when the edited spec
// changes something but has no image.
var ErrMissingImage = errors.New("Missing image in specification")

// ComputeTransition compares the current spec with the desired one (only
// the spec of an edited document is honoured) as upstream's `bootc edit`
// does: equal specs need nothing; changing both the image and the boot order
// is [ErrInvalidTransition]; a desired spec without an image is
// [ErrMissingImage]; a flipped boot order is a rollback; otherwise the image
// changed.
func ComputeTransition(current, desired HostSpec) (Transition, error) {
	if err := desired.Validate(); err != nil {
		return TransitionNone, err
	}
	if current.Equal(desired) {
		return TransitionNone, nil
	}
	rollback := current.BootOrder.orDefault() != desired.BootOrder.orDefault()
	imageChange := !current.Image.Equal(desired.Image)
	if rollback && imageChange {
		return TransitionNone, ErrInvalidTransition
	}
	if desired.Image == nil {
		return TransitionNone, ErrMissingImage
	}
	if rollback {
		return TransitionRollback, nil
	}
	return TransitionImage, nil
}
