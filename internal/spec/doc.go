// Package spec defines the BootcHost resource that `bootc status` prints and
// `bootc edit` reads, and renders it as JSON, YAML or text for humans.
//
// The types mirror upstream bootc's (crates/lib/src/spec.rs and
// docs/src/host-v1.schema.json) field for field: the same camelCase names,
// the same fields that are always present (null when unset) and the same
// fields that are left out when empty. Consumers parse this output, so it is
// part of our compatibility contract:
//
//   - JSON is canonical in the manner of RFC 8785, as upstream's canon-json
//     writes it: keys sorted by UTF-16 code units, no insignificant white
//     space, one line without a trailing newline.
//   - YAML follows serde_yaml's layout: keys in upstream's struct order,
//     block style, two-space indentation, sequences not indented under their
//     key, `null` for unset values, strings that would read back as another
//     type single-quoted, and the ostree remote signature written with a
//     local tag (`signature: !ostreeRemote fedora`).
//   - The human-readable text follows upstream's `bootc status` layout
//     (labels right-aligned on the slot title, "●" on the booted entry). It
//     is explicitly unstable and must not be parsed.
//
// Parsing is tolerant, as consumers of a Kubernetes-style resource must be:
// unknown fields are ignored, the older apiVersion
// "org.containers.bootc/v1alpha1" is accepted, and YAML input accepts both
// the tagged (`!ostreeRemote fedora`) and the mapping (`ostreeRemote:
// fedora`) form of a signature.
//
// [Render] is the entry point for `bootc status`; [ComputeTransition]
// decides what `bootc edit` has to do.
package spec
