package spec

import (
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
)

// RenderJSON writes h as canonical JSON, byte for byte as upstream's
// `bootc status --format=json`: sorted keys, compact, on one line and, like
// upstream, without a trailing newline.
func RenderJSON(w io.Writer, h *Host) error {
	b, err := marshalCanonical(h.tree())
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ParseJSON parses a BootcHost JSON document. Unknown fields are ignored;
// the document must have apiVersion and kind and pass [Host.Validate].
func ParseJSON(data []byte) (*Host, error) {
	var h Host
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("parsing BootcHost JSON: %w", err)
	}
	return &h, nil
}

// marshalCanonical writes a tree value (see tree.go) as RFC 8785 canonical
// JSON, byte for byte as upstream's canon-json: object members sorted by the
// UTF-16 code units of their keys, no white space, strings escaped only where
// they must be. encoding/json writes the value and jsoncanonicalizer
// canonicalises it.
func marshalCanonical(v any) ([]byte, error) {
	b, err := json.Marshal(plainJSON(v))
	if err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	out, err := jsoncanonicalizer.Transform(escapeNonASCII(b))
	if err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	return out, nil
}

// plainJSON turns a tree value into values encoding/json writes: objects and
// tagged variants become maps (the canonicaliser sorts their keys anyway).
func plainJSON(v any) any {
	switch v := v.(type) {
	case object:
		m := make(map[string]any, len(v))
		for _, e := range v {
			m[e.key] = plainJSON(e.val)
		}
		return m
	case tagged:
		return map[string]any{v.tag: plainJSON(v.val)}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plainJSON(e)
		}
		return out
	default:
		return v
	}
}

// escapeNonASCII writes every non-ASCII character of a JSON document as a
// \u escape (a surrogate pair above U+FFFF): jsoncanonicalizer accepts only
// ASCII input, and writes these characters back as UTF-8.
func escapeNonASCII(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out
}

// MarshalJSON writes h as canonical JSON (see [RenderJSON]).
func (h Host) MarshalJSON() ([]byte, error) { return marshalCanonical(h.tree()) }

// MarshalJSON writes s as canonical JSON with every upstream field.
func (s HostSpec) MarshalJSON() ([]byte, error) { return marshalCanonical(s.tree()) }

// MarshalJSON writes s as canonical JSON with every upstream field.
func (s HostStatus) MarshalJSON() ([]byte, error) { return marshalCanonical(s.tree()) }

// MarshalJSON writes e as canonical JSON with every upstream field.
func (e BootEntry) MarshalJSON() ([]byte, error) { return marshalCanonical(e.tree()) }

// MarshalJSON writes s as canonical JSON with every upstream field.
func (s ImageStatus) MarshalJSON() ([]byte, error) { return marshalCanonical(s.tree()) }

// MarshalJSON writes r as canonical JSON; the signature is left out when nil.
func (r ImageReference) MarshalJSON() ([]byte, error) { return marshalCanonical(r.tree()) }

// MarshalJSON writes {"ostreeRemote":"NAME"}, "containerPolicy" or
// "insecure".
func (s ImageSignature) MarshalJSON() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return marshalCanonical(s.tree())
}

// UnmarshalJSON accepts "containerPolicy", "insecure" or
// {"ostreeRemote":"NAME"}.
func (s *ImageSignature) UnmarshalJSON(data []byte) error {
	var str string
	if err := json.Unmarshal(data, &str); err == nil {
		return s.setUnit(str)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: signature must be a string or an object, got %s", ErrInvalid, data)
	}
	if len(m) != 1 {
		return fmt.Errorf("%w: signature object must have exactly one key, ostreeRemote", ErrInvalid)
	}
	var key string
	var raw json.RawMessage
	for key, raw = range m {
	}
	if key != string(SignatureOstreeRemote) {
		return fmt.Errorf("%w: unknown signature %q (want ostreeRemote, containerPolicy or insecure)", ErrInvalid, key)
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return fmt.Errorf("%w: ostreeRemote must be a string", ErrInvalid)
	}
	*s = ImageSignature{Kind: SignatureOstreeRemote, OstreeRemote: name}
	return s.Validate()
}

// setUnit sets s from the name of a variant without value.
func (s *ImageSignature) setUnit(name string) error {
	switch SignatureKind(name) {
	case SignatureContainerPolicy, SignatureInsecure:
		*s = ImageSignature{Kind: SignatureKind(name)}
		return nil
	case SignatureOstreeRemote:
		return fmt.Errorf("%w: signature ostreeRemote needs a remote name", ErrInvalid)
	default:
		return fmt.Errorf("%w: unknown signature %q (want ostreeRemote, containerPolicy or insecure)", ErrInvalid, name)
	}
}

// imageStatusJSON is ImageStatus with the timestamp as text.
type imageStatusJSON struct {
	Image        ImageReference `json:"image"`
	Version      *string        `json:"version"`
	Timestamp    *string        `json:"timestamp"`
	ImageDigest  string         `json:"imageDigest"`
	Architecture string         `json:"architecture"`
}

// UnmarshalJSON parses an image status; the timestamp may be null or an
// RFC 3339 date-time and is converted to UTC.
func (s *ImageStatus) UnmarshalJSON(data []byte) error {
	var raw imageStatusJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*s = ImageStatus{Image: raw.Image, Version: raw.Version, ImageDigest: raw.ImageDigest, Architecture: raw.Architecture}
	if raw.Timestamp != nil {
		t, err := parseTimestamp(*raw.Timestamp)
		if err != nil {
			return err
		}
		s.Timestamp = &t
	}
	return nil
}

// hostNoMethods is Host without its methods, for decoding.
type hostNoMethods Host

// UnmarshalJSON parses a BootcHost document, ignoring unknown fields, and
// validates it with [Host.Validate].
func (h *Host) UnmarshalJSON(data []byte) error {
	var raw hostNoMethods
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*h = Host(raw)
	h.Spec.BootOrder = h.Spec.BootOrder.orDefault()
	return h.Validate()
}
