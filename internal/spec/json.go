package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// RenderJSON writes h as canonical JSON, byte for byte as upstream's
// `bootc status --format=json`: sorted keys, compact, on one line and, like
// upstream, without a trailing newline.
func RenderJSON(w io.Writer, h *Host) error {
	var b bytes.Buffer
	if err := writeCanonical(&b, h.tree()); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
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

// CanonicalJSON re-serialises a JSON document canonically in the manner of
// RFC 8785 and upstream's canon-json: object members sorted by the UTF-16
// code units of their keys, no white space, strings escaped as serde_json
// does (only '"', '\\' and control characters), integers that fit 64 bits
// written as they are and other numbers in ECMAScript's shortest form.
func CanonicalJSON(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonicalising JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("canonicalising JSON: unexpected data after the top-level value")
	}
	var b bytes.Buffer
	if err := writeCanonical(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func marshalCanonical(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeCanonical(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
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

// writeCanonical writes a tree value (see tree.go) or a value decoded by
// encoding/json with UseNumber.
func writeCanonical(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		s, err := formatES6(v)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case json.Number:
		s, err := canonicalNumber(string(v))
		if err != nil {
			return err
		}
		b.WriteString(s)
	case string:
		writeJSONString(b, v)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case tagged:
		return writeCanonical(b, object{{v.tag, v.val}})
	case map[string]any:
		o := make(object, 0, len(v))
		for k, e := range v {
			o = append(o, member{k, e})
		}
		return writeCanonical(b, o)
	case object:
		sorted := slices.Clone(v)
		slices.SortStableFunc(sorted, func(a, b member) int { return compareUTF16(a.key, b.key) })
		b.WriteByte('{')
		for i, m := range sorted {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, m.key)
			b.WriteByte(':')
			if err := writeCanonical(b, m.val); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("canonical JSON: unsupported value of type %T", v)
	}
	return nil
}

// compareUTF16 orders strings by their UTF-16 code units (RFC 8785 3.2.3).
func compareUTF16(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

// writeJSONString writes s quoted, escaping only '"', '\\' and control
// characters (named escapes for \b \f \n \r \t, else \u00xx in lower-case
// hex), like serde_json. Invalid UTF-8 becomes U+FFFD.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if c < 0x20 {
					b.WriteString(`\u00`)
					b.WriteByte(hex[c>>4])
					b.WriteByte(hex[c&0xf])
				} else {
					b.WriteByte(c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// canonicalNumber writes a JSON number literal the way serde_json plus
// canon-json would: integers that fit in i64 or u64 as integers, anything
// else as a float64 in ECMAScript form.
func canonicalNumber(lit string) (string, error) {
	if !strings.ContainsAny(lit, ".eE") {
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return strconv.FormatInt(i, 10), nil
		}
		if u, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return strconv.FormatUint(u, 10), nil
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return "", fmt.Errorf("canonical JSON: number %s out of range", lit)
	}
	return formatES6(f)
}

// formatES6 formats a finite float64 as ECMAScript's Number.prototype.
// toString does, which RFC 8785 prescribes.
func formatES6(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("canonical JSON: number %v cannot be represented", f)
	}
	if f == 0 {
		return "0", nil
	}
	sign := ""
	if f < 0 {
		sign = "-"
		f = -f
	}
	// Shortest round-tripping digits: "d.ddde±XX".
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, err := strconv.Atoi(expStr)
	if err != nil {
		return "", err
	}
	k := len(digits)
	n := exp + 1 // value = 0.digits × 10^n
	var s string
	switch {
	case k <= n && n <= 21:
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		s = "0." + strings.Repeat("0", -n) + digits
	default:
		es := "+"
		if n-1 < 0 {
			es = "-"
		}
		m := digits[:1]
		if k > 1 {
			m += "." + digits[1:]
		}
		s = m + "e" + es + strconv.Itoa(absInt(n-1))
	}
	return sign + s, nil
}

func absInt(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
