package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// RenderYAML writes h as YAML laid out as upstream's serde_yaml does: keys
// in upstream's struct order, two-space indentation, sequence items at the
// indentation of their key, `null` for unset values, no document marker and
// a final newline.
func RenderYAML(w io.Writer, h *Host) error {
	return encodeYAML(w, h.tree())
}

func encodeYAML(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(yamlNode(v)); err != nil {
		return fmt.Errorf("writing YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("writing YAML: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// ParseYAML parses a BootcHost YAML (or JSON) document, as `bootc edit`
// reads it. Unknown fields are ignored; the signature may be written
// `!ostreeRemote NAME` or `ostreeRemote: NAME`. The input must hold exactly
// one document, with apiVersion and kind, that passes [Host.Validate].
func ParseYAML(data []byte) (*Host, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var h Host
	if err := dec.Decode(&h); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("parsing BootcHost YAML: %w: empty document", ErrInvalid)
		}
		return nil, fmt.Errorf("parsing BootcHost YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parsing BootcHost YAML: %w: more than one document", ErrInvalid)
	}
	return &h, nil
}

// UnmarshalYAML parses a BootcHost document, ignoring unknown fields, and
// validates it with [Host.Validate].
func (h *Host) UnmarshalYAML(n *yaml.Node) error {
	var raw hostNoMethods
	if err := n.Decode(&raw); err != nil {
		return err
	}
	*h = Host(raw)
	h.Spec.BootOrder = h.Spec.BootOrder.orDefault()
	return h.Validate()
}

// UnmarshalYAML accepts `containerPolicy`, `insecure`, `!ostreeRemote NAME`
// and the mapping `ostreeRemote: NAME`.
func (s *ImageSignature) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!"+string(SignatureOstreeRemote) {
			*s = ImageSignature{Kind: SignatureOstreeRemote, OstreeRemote: n.Value}
			return s.Validate()
		}
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return fmt.Errorf("%w: line %d: unknown signature %q (want ostreeRemote, containerPolicy or insecure)", ErrInvalid, n.Line, strings.TrimPrefix(n.Tag, "!"))
		}
		return s.setUnit(n.Value)
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return fmt.Errorf("%w: line %d: signature mapping must have exactly one key, ostreeRemote", ErrInvalid, n.Line)
		}
		key, val := n.Content[0], n.Content[1]
		if key.Value != string(SignatureOstreeRemote) {
			return fmt.Errorf("%w: line %d: unknown signature %q (want ostreeRemote, containerPolicy or insecure)", ErrInvalid, n.Line, key.Value)
		}
		if val.Kind != yaml.ScalarNode || val.ShortTag() == "!!null" {
			return fmt.Errorf("%w: line %d: ostreeRemote must be a string", ErrInvalid, val.Line)
		}
		*s = ImageSignature{Kind: SignatureOstreeRemote, OstreeRemote: val.Value}
		return s.Validate()
	default:
		return fmt.Errorf("%w: line %d: signature must be a string or a mapping", ErrInvalid, n.Line)
	}
}

// imageStatusYAML is ImageStatus with the timestamp as a raw node, so that
// both plain and quoted date-times parse.
type imageStatusYAML struct {
	Image        ImageReference `yaml:"image"`
	Version      *string        `yaml:"version"`
	Timestamp    yaml.Node      `yaml:"timestamp"`
	ImageDigest  string         `yaml:"imageDigest"`
	Architecture string         `yaml:"architecture"`
}

// UnmarshalYAML parses an image status; the timestamp may be null or an
// RFC 3339 date-time, quoted or not, and is converted to UTC.
func (s *ImageStatus) UnmarshalYAML(n *yaml.Node) error {
	var raw imageStatusYAML
	if err := n.Decode(&raw); err != nil {
		return err
	}
	*s = ImageStatus{Image: raw.Image, Version: raw.Version, ImageDigest: raw.ImageDigest, Architecture: raw.Architecture}
	ts := &raw.Timestamp
	if ts.Kind == 0 || ts.ShortTag() == "!!null" {
		return nil
	}
	if ts.Kind != yaml.ScalarNode {
		return fmt.Errorf("%w: line %d: timestamp must be a date-time string", ErrInvalid, ts.Line)
	}
	t, err := parseTimestamp(ts.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", ts.Line, err)
	}
	s.Timestamp = &t
	return nil
}

// MarshalYAML returns h as a YAML node with upstream's key order and scalar
// styles; [RenderYAML] also applies upstream's indentation.
func (h Host) MarshalYAML() (any, error) { return yamlNode(h.tree()), nil }

// MarshalYAML returns s as a YAML node in upstream's layout.
func (s HostSpec) MarshalYAML() (any, error) { return yamlNode(s.tree()), nil }

// MarshalYAML returns s as a YAML node in upstream's layout.
func (s HostStatus) MarshalYAML() (any, error) { return yamlNode(s.tree()), nil }

// MarshalYAML returns e as a YAML node in upstream's layout.
func (e BootEntry) MarshalYAML() (any, error) { return yamlNode(e.tree()), nil }

// MarshalYAML returns s as a YAML node in upstream's layout.
func (s ImageStatus) MarshalYAML() (any, error) { return yamlNode(s.tree()), nil }

// MarshalYAML returns r as a YAML node in upstream's layout.
func (r ImageReference) MarshalYAML() (any, error) { return yamlNode(r.tree()), nil }

// MarshalYAML returns `!ostreeRemote NAME`, `containerPolicy` or
// `insecure`.
func (s ImageSignature) MarshalYAML() (any, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return yamlNode(s.tree()), nil
}

// yamlNode converts a tree value into a YAML node whose scalar styles are
// chosen as serde_yaml chooses them.
func yamlNode(v any) *yaml.Node {
	switch v := v.(type) {
	case nil:
		return plainScalar("null")
	case bool:
		return plainScalar(strconv.FormatBool(v))
	case int64:
		return plainScalar(strconv.FormatInt(v, 10))
	case string:
		return stringScalar(v)
	case tagged:
		n := yamlNode(v.val)
		n.Tag = "!" + v.tag
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range v {
			n.Content = append(n.Content, yamlNode(e))
		}
		return n
	case object:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, m := range v {
			n.Content = append(n.Content, stringScalar(m.key), yamlNode(m.val))
		}
		return n
	default:
		panic(fmt.Sprintf("spec: unexpected tree value %T", v))
	}
}

// plainScalar is a scalar the emitter writes as it is. An empty tag keeps
// go-yaml from quoting values it would resolve to another type (such as
// date-times), which serde_yaml leaves plain.
func plainScalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s}
}

// stringScalar returns a string scalar styled as serde_yaml does: literal
// block for multi-line text, single quotes for text that would read back
// as null, a boolean or a number under serde_yaml's rules, else whatever
// the emitter allows (plain when possible).
func stringScalar(s string) *yaml.Node {
	n := plainScalar(s)
	switch {
	case strings.Contains(s, "\n"):
		n.Style = yaml.LiteralStyle
	case yamlNeedsQuotes(s):
		n.Style = yaml.SingleQuotedStyle
	}
	return n
}

// yamlNeedsQuotes reports whether serde_yaml would read the plain scalar s
// as something other than a string (null, bool, integer, float), or as a
// number-like string with leading zeros, in which case it single-quotes s.
func yamlNeedsQuotes(s string) bool {
	switch s {
	case "", "~", "null", "Null", "NULL",
		"true", "True", "TRUE", "false", "False", "FALSE":
		return true
	}
	return digitsButNotNumber(s) || yamlIsInt(s) || yamlIsFloat(s)
}

// digitsButNotNumber: an optional sign, then "0" and more decimal digits,
// which YAML 1.2 reads as a string but serde_yaml still quotes.
func digitsButNotNumber(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return len(s) > 1 && s[0] == '0' && allDigits(s[1:], 10)
}

func allDigits(s string, base int) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'z':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'Z':
			d = int(c-'A') + 10
		default:
			return false
		}
		if d >= base {
			return false
		}
	}
	return true
}

var (
	maxU128 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	maxI128 = new(big.Int).Lsh(big.NewInt(1), 127) // magnitude of i128::MIN
)

// fitsMagnitude reports whether digits in base are at most limit.
func fitsMagnitude(digits string, base int, limit *big.Int) bool {
	v, ok := new(big.Int).SetString(digits, base)
	return ok && v.Cmp(limit) <= 0
}

var radixPrefixes = []struct {
	prefix string
	base   int
}{{"0x", 16}, {"0o", 8}, {"0b", 2}}

// yamlIsInt follows serde_yaml's integer parsing: decimal, 0x, 0o or 0b,
// with one optional sign, within the range of u128 or i128.
func yamlIsInt(s string) bool {
	unpositive := strings.TrimPrefix(s, "+")
	for _, p := range radixPrefixes {
		if rest, ok := strings.CutPrefix(unpositive, p.prefix); ok && allDigits(rest, p.base) && fitsMagnitude(rest, p.base, maxU128) {
			return true
		}
		if rest, ok := strings.CutPrefix(s, "-"+p.prefix); ok && allDigits(rest, p.base) && fitsMagnitude(rest, p.base, maxI128) {
			return true
		}
	}
	if digitsButNotNumber(s) {
		return false
	}
	switch {
	case strings.HasPrefix(s, "-"):
		return allDigits(s[1:], 10) && fitsMagnitude(s[1:], 10, maxI128)
	case strings.HasPrefix(s, "+"):
		return allDigits(s[1:], 10) && fitsMagnitude(s[1:], 10, maxU128)
	default:
		return allDigits(s, 10) && fitsMagnitude(s, 10, maxU128)
	}
}

// rustFloat is the syntax of a decimal float that Rust's f64::from_str
// accepts (the inf/nan words aside, which serde_yaml never takes as
// finite floats).
var rustFloat = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// yamlIsFloat follows serde_yaml's float parsing: .inf/.nan spellings, or a
// finite decimal float (after at most one leading "+").
func yamlIsFloat(s string) bool {
	if digitsButNotNumber(s) {
		return false
	}
	unpositive := s
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		if strings.HasPrefix(rest, "+") || strings.HasPrefix(rest, "-") {
			return false
		}
		unpositive = rest
	}
	switch unpositive {
	case ".inf", ".Inf", ".INF":
		return true
	}
	switch s {
	case "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN":
		return true
	}
	if !rustFloat.MatchString(unpositive) {
		return false
	}
	f, err := strconv.ParseFloat(unpositive, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return false
	}
	return !math.IsInf(f, 0)
}
