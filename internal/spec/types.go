package spec

import (
	"errors"
	"fmt"
	"time"
)

// Identity of the resource.
const (
	// APIVersion is the apiVersion we write.
	APIVersion = "org.containers.bootc/v1"
	// APIVersionV1Alpha1 is the older apiVersion still found in saved
	// documents; it is accepted on input.
	APIVersionV1Alpha1 = "org.containers.bootc/v1alpha1"
	// Kind is the kind of the resource.
	Kind = "BootcHost"
	// ObjectName is metadata.name; there is only one host object.
	ObjectName = "host"
	// HostTypeBootcHost is the value of status.type for a host booted from a
	// container image.
	HostTypeBootcHost = "bootcHost"
	// StoreOstreeContainer is the value of a boot entry's store field for
	// the ostree-container storage backend, the only one we have.
	StoreOstreeContainer = "ostreeContainer"
	// TransportRegistry is the transport of an image in a registry; the
	// human-readable output leaves it out.
	TransportRegistry = "registry"
)

// ErrInvalid is wrapped by every error about a malformed document.
var ErrInvalid = errors.New("invalid host specification")

// Host is the BootcHost resource: `bootc status` prints it and `bootc edit`
// reads it back. Build one with [NewHost].
type Host struct {
	// APIVersion is "org.containers.bootc/v1" ([APIVersion]).
	APIVersion string `json:"apiVersion" yaml:"apiVersion"`
	// Kind is "BootcHost" ([Kind]).
	Kind string `json:"kind" yaml:"kind"`
	// Metadata holds the object name ("host") and optional labels.
	Metadata ObjectMeta `json:"metadata" yaml:"metadata"`
	// Spec is the desired state; only it is honoured by `bootc edit`.
	Spec HostSpec `json:"spec" yaml:"spec"`
	// Status is the observed state.
	Status HostStatus `json:"status" yaml:"status"`
}

// ObjectMeta is the subset of Kubernetes object metadata upstream keeps.
// Empty fields are left out of the output.
type ObjectMeta struct {
	// Annotations are free-form key/value pairs; omitted when empty.
	Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	// Labels are free-form key/value pairs; omitted when empty.
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	// Name is the object name, [ObjectName]; omitted when empty.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Namespace is omitted when empty; bootc never sets it.
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
}

// BootOrder says which deployment boots next.
type BootOrder string

// The boot orders.
const (
	// BootOrderDefault boots the staged or booted deployment next.
	BootOrderDefault BootOrder = "default"
	// BootOrderRollback boots the rollback deployment next.
	BootOrderRollback BootOrder = "rollback"
)

// Valid reports whether o is one of the known boot orders.
func (o BootOrder) Valid() bool { return o == BootOrderDefault || o == BootOrderRollback }

// orDefault returns o, or [BootOrderDefault] for the empty value, which
// stands for a missing field.
func (o BootOrder) orDefault() BootOrder {
	if o == "" {
		return BootOrderDefault
	}
	return o
}

// HostSpec is the desired state of the host.
type HostSpec struct {
	// Image is the container image to track; nil (null) if none, e.g. on a
	// host not deployed from a container image.
	Image *ImageReference `json:"image" yaml:"image"`
	// BootOrder is [BootOrderRollback] when the rollback deployment is
	// queued for the next boot. The empty value is treated, and written, as
	// [BootOrderDefault].
	BootOrder BootOrder `json:"bootOrder" yaml:"bootOrder"`
}

// Equal reports whether s and o describe the same desired state.
func (s HostSpec) Equal(o HostSpec) bool {
	return s.BootOrder.orDefault() == o.BootOrder.orDefault() && s.Image.Equal(o.Image)
}

// SignatureKind is the kind of an [ImageSignature].
type SignatureKind string

// The signature verification kinds, spelled as in the output.
const (
	// SignatureOstreeRemote verifies the ostree commit in the image with the
	// keys of an ostree remote (ostree-remote-image:REMOTE:...).
	SignatureOstreeRemote SignatureKind = "ostreeRemote"
	// SignatureContainerPolicy defers to containers-policy.json but refuses
	// a default of insecureAcceptAnything (ostree-image-signed:...).
	SignatureContainerPolicy SignatureKind = "containerPolicy"
	// SignatureInsecure performs no signature verification. bootc itself
	// writes no signature field for ostree-unverified-image references, but
	// documents may carry "insecure".
	SignatureInsecure SignatureKind = "insecure"
)

// ImageSignature says how an image's signature is verified. JSON writes it
// as {"ostreeRemote":"NAME"}, "containerPolicy" or "insecure"; YAML as
// `!ostreeRemote NAME`, `containerPolicy` or `insecure`.
type ImageSignature struct {
	// Kind is the verification mechanism.
	Kind SignatureKind
	// OstreeRemote is the remote name for [SignatureOstreeRemote], else "".
	OstreeRemote string
}

// OstreeRemoteSignature returns verification with ostree remote name.
func OstreeRemoteSignature(name string) *ImageSignature {
	return &ImageSignature{Kind: SignatureOstreeRemote, OstreeRemote: name}
}

// ContainerPolicySignature returns verification by containers-policy.json.
func ContainerPolicySignature() *ImageSignature {
	return &ImageSignature{Kind: SignatureContainerPolicy}
}

// InsecureSignature returns the "insecure" signature (no verification).
func InsecureSignature() *ImageSignature { return &ImageSignature{Kind: SignatureInsecure} }

// Validate checks that the kind is known and that OstreeRemote is set
// exactly for [SignatureOstreeRemote].
func (s ImageSignature) Validate() error {
	switch s.Kind {
	case SignatureOstreeRemote:
		if s.OstreeRemote == "" {
			return fmt.Errorf("%w: empty ostree remote name in signature", ErrInvalid)
		}
	case SignatureContainerPolicy, SignatureInsecure:
		if s.OstreeRemote != "" {
			return fmt.Errorf("%w: ostree remote %q given for %s signature", ErrInvalid, s.OstreeRemote, s.Kind)
		}
	default:
		return fmt.Errorf("%w: unknown signature %q (want ostreeRemote, containerPolicy or insecure)", ErrInvalid, string(s.Kind))
	}
	return nil
}

// ImageReference is a container image with its transport and signature
// verification.
type ImageReference struct {
	// Image is the image name, e.g. "quay.io/fedora/fedora-bootc:42".
	Image string `json:"image" yaml:"image"`
	// Transport is the bare transport name: "registry", "oci",
	// "oci-archive", "containers-storage", "docker-daemon", ...
	Transport string `json:"transport" yaml:"transport"`
	// Signature is the signature verification; omitted when nil.
	Signature *ImageSignature `json:"signature,omitempty" yaml:"signature,omitempty"`
}

// Equal reports whether r and o are both nil or name the same image with
// the same transport and signature verification.
func (r *ImageReference) Equal(o *ImageReference) bool {
	if r == nil || o == nil {
		return r == o
	}
	if r.Image != o.Image || r.Transport != o.Transport {
		return false
	}
	if r.Signature == nil || o.Signature == nil {
		return r.Signature == o.Signature
	}
	return *r.Signature == *o.Signature
}

// Validate checks that Image and Transport are set (upstream requires both
// fields) and that the signature, if any, is valid.
func (r ImageReference) Validate() error {
	if r.Image == "" {
		return fmt.Errorf("%w: image reference without image", ErrInvalid)
	}
	if r.Transport == "" {
		return fmt.Errorf("%w: image reference %q without transport", ErrInvalid, r.Image)
	}
	if r.Signature != nil {
		if err := r.Signature.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// displayName is the image as the human-readable output shows it: the bare
// name for registry images, else TRANSPORT:NAME.
func (r ImageReference) displayName() string {
	if r.Transport == TransportRegistry {
		return r.Image
	}
	return r.Transport + ":" + r.Image
}

// ImageStatus describes a fetched image.
type ImageStatus struct {
	// Image is the reference the image was fetched from.
	Image ImageReference `json:"image" yaml:"image"`
	// Version is the org.opencontainers.image.version label (or the legacy
	// "version" label); nil (null) if absent.
	Version *string `json:"version" yaml:"version"`
	// Timestamp is the org.opencontainers.image.created label or the config's
	// created time, in UTC; nil (null) if absent. Written as RFC 3339 with
	// "Z" and 0, 3, 6 or 9 fractional digits.
	Timestamp *time.Time `json:"timestamp" yaml:"timestamp"`
	// ImageDigest is the manifest digest, "sha256:...".
	ImageDigest string `json:"imageDigest" yaml:"imageDigest"`
	// Architecture is the image config's architecture, e.g. "amd64".
	Architecture string `json:"architecture" yaml:"architecture"`
}

// BootEntryOstree is the ostree side of a boot entry.
type BootEntryOstree struct {
	// Stateroot is the stateroot (osname) holding the deployment's /var.
	Stateroot string `json:"stateroot" yaml:"stateroot"`
	// Checksum is the deployed ostree commit.
	Checksum string `json:"checksum" yaml:"checksum"`
	// DeploySerial is the deployment serial.
	DeploySerial int `json:"deploySerial" yaml:"deploySerial"`
}

// BootEntryComposefs is the composefs-native side of a boot entry. We do
// not implement that backend; the type exists so documents written by
// upstream's composefs backend survive a parse and re-render.
type BootEntryComposefs struct {
	// Verity is the erofs image's fs-verity digest.
	Verity string `json:"verity" yaml:"verity"`
	// BootType is "Bls" or "Uki".
	BootType string `json:"bootType" yaml:"bootType"`
	// Bootloader is "grub", "grub-cc", "systemd" or "none".
	Bootloader string `json:"bootloader" yaml:"bootloader"`
	// BootDigest is the sha256 of kernel and initrd (Type 1 entries only).
	BootDigest *string `json:"bootDigest" yaml:"bootDigest"`
	// MissingVerityAllowed is true when fs-verity is not enforced.
	MissingVerityAllowed bool `json:"missingVerityAllowed" yaml:"missingVerityAllowed"`
}

// BootEntry is one deployment.
type BootEntry struct {
	// Image is the image the deployment was made from; nil (null) for a
	// deployment not made from a container image, or an incompatible one.
	Image *ImageStatus `json:"image" yaml:"image"`
	// CachedUpdate is the update found by a previous `bootc upgrade --check`;
	// nil (null) if none.
	CachedUpdate *ImageStatus `json:"cachedUpdate" yaml:"cachedUpdate"`
	// Incompatible is true when the origin has changes bootc does not
	// understand (rpm-ostree layering).
	Incompatible bool `json:"incompatible" yaml:"incompatible"`
	// Pinned is true when the deployment is exempt from garbage collection.
	Pinned bool `json:"pinned" yaml:"pinned"`
	// SoftRebootCapable is true when, relative to the booted deployment,
	// this one can be reached by a soft reboot.
	SoftRebootCapable bool `json:"softRebootCapable" yaml:"softRebootCapable"`
	// DownloadOnly is true for a staged deployment held back from
	// finalization (`bootc upgrade --download-only`).
	DownloadOnly bool `json:"downloadOnly" yaml:"downloadOnly"`
	// Store is the storage backend, [StoreOstreeContainer]; nil (null) if
	// unknown.
	Store *string `json:"store" yaml:"store"`
	// Ostree is the ostree deployment; nil (null) for other backends.
	Ostree *BootEntryOstree `json:"ostree" yaml:"ostree"`
	// Composefs is always nil (null) for us.
	Composefs *BootEntryComposefs `json:"composefs" yaml:"composefs"`
}

// OverlayAccessMode is whether the /usr overlay is writable.
type OverlayAccessMode string

// The access modes.
const (
	// OverlayReadOnly is a read-only overlay (`bootc usr-overlay --read-only`).
	OverlayReadOnly OverlayAccessMode = "readOnly"
	// OverlayReadWrite is a writable overlay.
	OverlayReadWrite OverlayAccessMode = "readWrite"
)

// OverlayPersistence is whether /usr overlay changes survive a reboot.
type OverlayPersistence string

// The persistence modes.
const (
	// OverlayTransient changes are lost at reboot.
	OverlayTransient OverlayPersistence = "transient"
	// OverlayPersistent changes survive reboots (ostree hotfix).
	OverlayPersistent OverlayPersistence = "persistent"
)

// FilesystemOverlay describes the overlay mounted on /usr.
type FilesystemOverlay struct {
	// AccessMode is read-only or read/write.
	AccessMode OverlayAccessMode `json:"accessMode" yaml:"accessMode"`
	// Persistence is transient or persistent.
	Persistence OverlayPersistence `json:"persistence" yaml:"persistence"`
}

// Validate checks both fields against the known values.
func (o FilesystemOverlay) Validate() error {
	if o.AccessMode != OverlayReadOnly && o.AccessMode != OverlayReadWrite {
		return fmt.Errorf("%w: unknown usrOverlay accessMode %q (want readOnly or readWrite)", ErrInvalid, string(o.AccessMode))
	}
	if o.Persistence != OverlayTransient && o.Persistence != OverlayPersistent {
		return fmt.Errorf("%w: unknown usrOverlay persistence %q (want transient or persistent)", ErrInvalid, string(o.Persistence))
	}
	return nil
}

// String returns the human-readable form, e.g. "transient, read/write".
func (o FilesystemOverlay) String() string {
	access := string(o.AccessMode)
	switch o.AccessMode {
	case OverlayReadOnly:
		access = "read-only"
	case OverlayReadWrite:
		access = "read/write"
	}
	return string(o.Persistence) + ", " + access
}

// UsrOverlayFromUnlocked maps libostree's unlocked state of the booted
// deployment ("none", "development", "hotfix", "transient") to the /usr
// overlay status; nil for "none" or an unknown state.
func UsrOverlayFromUnlocked(state string) *FilesystemOverlay {
	switch state {
	case "development":
		return &FilesystemOverlay{AccessMode: OverlayReadWrite, Persistence: OverlayTransient}
	case "hotfix":
		return &FilesystemOverlay{AccessMode: OverlayReadWrite, Persistence: OverlayPersistent}
	case "transient":
		return &FilesystemOverlay{AccessMode: OverlayReadOnly, Persistence: OverlayTransient}
	default:
		return nil
	}
}

// HostStatus is the observed state of the host.
type HostStatus struct {
	// Staged is the deployment staged for the next boot; nil (null) if none.
	Staged *BootEntry `json:"staged" yaml:"staged"`
	// Booted is the booted deployment; nil (null) if the host is not
	// deployed by bootc/ostree. Consumers detect bootc with booted != null.
	Booted *BootEntry `json:"booted" yaml:"booted"`
	// Rollback is the previous deployment; nil (null) if none.
	Rollback *BootEntry `json:"rollback" yaml:"rollback"`
	// OtherDeployments are pinned deployments and those of other
	// stateroots; omitted when empty.
	OtherDeployments []BootEntry `json:"otherDeployments,omitempty" yaml:"otherDeployments,omitempty"`
	// RollbackQueued is true when the rollback deployment boots next.
	RollbackQueued bool `json:"rollbackQueued" yaml:"rollbackQueued"`
	// Type is [HostTypeBootcHost] when the booted deployment has an image;
	// nil (null) otherwise.
	Type *string `json:"type" yaml:"type"`
	// UsrOverlay is the overlay on /usr; nil (null) if none.
	UsrOverlay *FilesystemOverlay `json:"usrOverlay" yaml:"usrOverlay"`
	// ReadOnly is true when the physical root is on read-only media (e.g. a
	// live ISO), so nothing can be changed.
	ReadOnly bool `json:"readOnly" yaml:"readOnly"`
}

// NewHost returns a host with the standard apiVersion, kind and name, the
// given spec and an empty status.
func NewHost(spec HostSpec) *Host {
	if spec.BootOrder == "" {
		spec.BootOrder = BootOrderDefault
	}
	return &Host{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   ObjectMeta{Name: ObjectName},
		Spec:       spec,
	}
}

// Slot names the three well-known deployments.
type Slot int

// The slots.
const (
	// SlotStaged is the deployment staged for the next boot.
	SlotStaged Slot = iota + 1
	// SlotBooted is the booted deployment.
	SlotBooted
	// SlotRollback is the rollback deployment.
	SlotRollback
)

// String returns "staged", "booted" or "rollback".
func (s Slot) String() string {
	switch s {
	case SlotStaged:
		return "staged"
	case SlotBooted:
		return "booted"
	case SlotRollback:
		return "rollback"
	default:
		return fmt.Sprintf("Slot(%d)", int(s))
	}
}

// FilterToSlot keeps only the entry of slot among staged, booted and
// rollback, as `bootc status --booted` does with [SlotBooted]. As upstream,
// OtherDeployments is left alone.
func (h *Host) FilterToSlot(slot Slot) {
	switch slot {
	case SlotStaged:
		h.Status.Booted, h.Status.Rollback = nil, nil
	case SlotBooted:
		h.Status.Staged, h.Status.Rollback = nil, nil
	case SlotRollback:
		h.Status.Staged, h.Status.Booted = nil, nil
	}
}

// Validate checks what upstream's parser requires and ours tolerates:
// apiVersion and kind present, image references with image and transport,
// known boot order, signatures and /usr overlay modes. Any apiVersion and
// kind value is accepted, as upstream does.
func (h *Host) Validate() error {
	if h.APIVersion == "" {
		return fmt.Errorf("%w: missing field apiVersion", ErrInvalid)
	}
	if h.Kind == "" {
		return fmt.Errorf("%w: missing field kind", ErrInvalid)
	}
	if err := h.Spec.Validate(); err != nil {
		return err
	}
	check := func(what string, e *BootEntry) error {
		if e == nil {
			return nil
		}
		for _, img := range []*ImageStatus{e.Image, e.CachedUpdate} {
			if img == nil {
				continue
			}
			if err := img.Image.Validate(); err != nil {
				return fmt.Errorf("status.%s: %w", what, err)
			}
		}
		return nil
	}
	for _, s := range []struct {
		what string
		e    *BootEntry
	}{{"staged", h.Status.Staged}, {"booted", h.Status.Booted}, {"rollback", h.Status.Rollback}} {
		if err := check(s.what, s.e); err != nil {
			return err
		}
	}
	for i := range h.Status.OtherDeployments {
		if err := check(fmt.Sprintf("otherDeployments[%d]", i), &h.Status.OtherDeployments[i]); err != nil {
			return err
		}
	}
	if o := h.Status.UsrOverlay; o != nil {
		if err := o.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the boot order and the image reference, if any.
func (s HostSpec) Validate() error {
	if !s.BootOrder.orDefault().Valid() {
		return fmt.Errorf("%w: unknown spec.bootOrder %q (want default or rollback)", ErrInvalid, string(s.BootOrder))
	}
	if s.Image != nil {
		if err := s.Image.Validate(); err != nil {
			return fmt.Errorf("spec.image: %w", err)
		}
	}
	return nil
}
